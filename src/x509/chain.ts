/**
 * Judges the certificate chain a server presented, ourselves rather than inside the handshake.
 *
 * Why not let OpenSSL do it: Node's `getPeerCertificate(true)` completes the presented chain from
 * the context's trust store, so with a CA file the probe could no longer tell a server that sends
 * its intermediate from one that forgets it (a common misconfiguration, and the case where the
 * issuer for OCSP must come from the CA file). Probes therefore handshake with an empty trust
 * store, which keeps the chain exactly as sent, and this module builds and checks the path:
 * leaf → presented intermediates → a trust anchor (the module's CA file, else Node's bundled
 * roots); each link's name and signature (via `findIssuer`), validity at `now`, CA flag on every
 * issuer, and the leaf's name against SNI (or the IP probed). It is a deliberately small subset of
 * RFC 5280 path validation (no name constraints or policies): enough for `ocsp_chain_verified`,
 * which is reported beside the staple and never hides it.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { certificateFacts, findIssuer } from './certificate.js';
import { BoundedCache } from '../util/cache.js';
import { decodeCertificatesInput } from './input.js';
import { bytesEqual } from '../util/bytes.js';

export interface ChainVerdict {
  verified: boolean;
  /** OpenSSL/Node-style code of the first fault, e.g. `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`. */
  error: string | null;
  /** Where the leaf's issuer was found: among the presented certificates, or only in the trust anchors. */
  issuerDer: Uint8Array | null;
  issuerSource: 'chain' | 'ca_file' | 'system' | null;
}

/** A chain longer than this is not followed (hostile servers send 100). */
const MAX_PATH_LENGTH = 10;

interface StaticPath {
  /** Null when the path reaches a trust anchor. */
  error: string | null;
  issuerDer: Uint8Array | null;
  issuerSource: ChainVerdict['issuerSource'];
  /** Intersection of the validity windows of the certificates on the path. */
  notBeforeMs: number;
  notAfterMs: number;
}

const pathCache = new BoundedCache<string, StaticPath>(4096);
let systemAnchors: Uint8Array[] | null = null;

/** Node's bundled Mozilla roots, decoded once. */
export function systemTrustAnchors(): Uint8Array[] {
  systemAnchors ??= tls.rootCertificates.flatMap((pem) => {
    try {
      return decodeCertificatesInput(Buffer.from(pem));
    } catch {
      return [];
    }
  });
  return systemAnchors;
}

/** Trust anchors of a module: its CA file when it has one, else the system roots. */
export function trustAnchorsFrom(caPem: string | null): { anchors: Uint8Array[]; source: 'ca_file' | 'system' } {
  if (!caPem) return { anchors: systemTrustAnchors(), source: 'system' };
  try {
    return { anchors: decodeCertificatesInput(Buffer.from(caPem)), source: 'ca_file' };
  } catch {
    return { anchors: [], source: 'ca_file' }; // config validation already rejects unreadable CA files
  }
}

export function verifyChain(
  presented: readonly Uint8Array[],
  trust: { anchors: readonly Uint8Array[]; source: 'ca_file' | 'system' },
  expectedName: string | null,
  nowMs: number,
): ChainVerdict {
  const leaf = presented[0];
  if (!leaf) return { verified: false, error: 'NO_PEER_CERTIFICATE', issuerDer: null, issuerSource: null };
  const key = `${fingerprints(presented)}|${trustKey(trust)}|${expectedName ?? ''}`;
  let path = pathCache.get(key);
  if (!path) {
    path = buildPath(presented, trust, expectedName);
    pathCache.set(key, path);
  }
  let error = path.error;
  if (!error && nowMs < path.notBeforeMs) error = 'CERT_NOT_YET_VALID';
  if (!error && nowMs > path.notAfterMs) error = 'CERT_HAS_EXPIRED';
  return { verified: error === null, error, issuerDer: path.issuerDer, issuerSource: path.issuerSource };
}

function buildPath(presented: readonly Uint8Array[], trust: { anchors: readonly Uint8Array[]; source: 'ca_file' | 'system' }, expectedName: string | null): StaticPath {
  const leaf = presented[0]!;
  const path: StaticPath = { error: null, issuerDer: null, issuerSource: null, notBeforeMs: -Infinity, notAfterMs: Infinity };
  const others = presented.slice(1, MAX_PATH_LENGTH + 1);

  // The leaf's issuer is what the OCSP check needs, whatever becomes of the rest of the path.
  const fromChain = findIssuer(leaf, others);
  if (fromChain) {
    path.issuerDer = fromChain;
    path.issuerSource = 'chain';
  } else {
    const fromAnchors = findIssuer(leaf, trust.anchors);
    if (fromAnchors) {
      path.issuerDer = fromAnchors;
      path.issuerSource = trust.source;
    }
  }

  try {
    if (expectedName && !nameMatches(leaf, expectedName)) {
      path.error = 'ERR_TLS_CERT_ALTNAME_INVALID';
      return path;
    }
    let current = leaf;
    for (let depth = 0; depth <= MAX_PATH_LENGTH; depth++) {
      narrow(path, current);
      if (depth > 0 && !certificateFacts(current).isCA) {
        path.error = 'INVALID_CA';
        return path;
      }
      if (trust.anchors.some((a) => bytesEqual(a, current))) return path;
      const anchor = findIssuer(current, trust.anchors);
      if (anchor) {
        narrow(path, anchor);
        return path;
      }
      const next = findIssuer(current, others);
      if (!next || bytesEqual(next, current)) {
        path.error = depth === 0 && isSelfIssued(current) ? 'DEPTH_ZERO_SELF_SIGNED_CERT' : isSelfIssued(current) ? 'SELF_SIGNED_CERT_IN_CHAIN' : 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
        return path;
      }
      current = next;
    }
    path.error = 'CERT_CHAIN_TOO_LONG';
  } catch {
    path.error = 'UNREADABLE_CERTIFICATE';
  }
  return path;
}

function narrow(path: StaticPath, der: Uint8Array): void {
  const facts = certificateFacts(der);
  path.notBeforeMs = Math.max(path.notBeforeMs, facts.notBefore.getTime());
  path.notAfterMs = Math.min(path.notAfterMs, facts.notAfter.getTime());
}

function isSelfIssued(der: Uint8Array): boolean {
  return findIssuer(der, [der]) !== null;
}

/** RFC 6125 host name (wildcards in the left-most label) or an IP address SAN. */
function nameMatches(leaf: Uint8Array, name: string): boolean {
  const cert = new X509Certificate(leaf);
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  return isIP(bare) ? cert.checkIP(bare) !== undefined : cert.checkHost(bare) !== undefined;
}

const trustKeys = new WeakMap<readonly Uint8Array[], string>();

/** Which trust anchors, as part of a cache key; memoised per anchor list (one per module). */
function trustKey(trust: { anchors: readonly Uint8Array[]; source: 'ca_file' | 'system' }): string {
  let key = trustKeys.get(trust.anchors);
  if (key === undefined) {
    key = `${trust.source}:${trust.anchors.length}:${fingerprints(trust.anchors.slice(0, 4))}`;
    trustKeys.set(trust.anchors, key);
  }
  return key;
}

function fingerprints(certs: readonly Uint8Array[]): string {
  return certs.map((c) => certificateFacts(c).fingerprintSha256.slice(0, 16)).join(',');
}
