/**
 * Judging a staple file against its certificate with the same verifier as a probed staple
 * (ocsp/verify.ts): the leaf is the first certificate of the certificate file (or HAProxy bundle),
 * its issuer the first that really issued it (name and signature, `findIssuer`) among, in order,
 * the bundle's other certificates, HAProxy's `<bundle>.issuer`, the entry's `issuer:` file and the
 * module's trust store (`ca_file`, else the system's), as a probe finds it in the presented chain
 * and then the trust anchors.
 *
 * A bundle may hold the private key. Only `CERTIFICATE` blocks are ever looked at: the bytes are
 * scanned for PEM armour without turning the file into text, each certificate block is decoded on
 * its own, everything else is skipped unread, and the caller zeroes the file's bytes afterwards.
 */
import { decodeCertificatesInput } from '../x509/input.js';
import { certificateFacts, findIssuer } from '../x509/certificate.js';
import { trustAnchorsFrom } from '../x509/chain.js';
import { stapleEnd, verifyOcspResponse } from '../ocsp/verify.js';
import { stapleVerdictOf } from '../probe/types.js';
import type { ModuleConfig } from '../config/schema.js';
import { messageOf } from '../util/errors.js';
import type { FileProblem } from './read.js';
import type { FileIssuerSource, StapleFileResult, StapleFileStaple } from './types.js';

/** Leaf plus chain (and a root) is 2–5; more than this is not a certificate file someone meant. */
export const MAX_BUNDLE_CERTIFICATES = 16;

const BEGIN = Buffer.from('-----BEGIN ');
const DASHES = Buffer.from('-----');
const CERTIFICATE_LABELS = ['CERTIFICATE', 'TRUSTED CERTIFICATE', 'X509 CERTIFICATE'];

export type CertificatesResult = { ok: true; certificates: Uint8Array[] } | { ok: false; problem: FileProblem };

/**
 * The certificates of a certificate file or bundle (PEM, or DER as one or more concatenated
 * certificates), in order. Bounded at {@link MAX_BUNDLE_CERTIFICATES}. Messages name the file and
 * the block number, never content.
 */
export function certificatesOf(bytes: Uint8Array, path: string): CertificatesResult {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const bad = (message: string): CertificatesResult => ({ ok: false, problem: { reason: 'bad_certificate', message: `${path}: ${message}` } });
  const tooMany = (): CertificatesResult => ({
    ok: false,
    problem: { reason: 'too_many_certificates', message: `${path}: more than ${MAX_BUNDLE_CERTIFICATES} certificates (a certificate file holds the leaf and its chain)` },
  });
  if (buffer.length === 0) return bad('empty');
  try {
    if (buffer[0] === 0x30) {
      const certificates = decodeCertificatesInput(buffer);
      return certificates.length > MAX_BUNDLE_CERTIFICATES ? tooMany() : { ok: true, certificates };
    }
    const certificates: Uint8Array[] = [];
    for (let at = buffer.indexOf(BEGIN); at !== -1; ) {
      const labelStart = at + BEGIN.length;
      const labelEnd = buffer.indexOf(DASHES, labelStart);
      if (labelEnd === -1 || labelEnd - labelStart > 40) break;
      const label = buffer.toString('latin1', labelStart, labelEnd);
      const end = Buffer.from(`-----END ${label}-----`, 'latin1');
      const endAt = buffer.indexOf(end, labelEnd);
      if (endAt === -1) break;
      const blockEnd = endAt + end.length;
      if (CERTIFICATE_LABELS.includes(label)) {
        if (certificates.length === MAX_BUNDLE_CERTIFICATES) return tooMany();
        const [der] = decodeCertificatesInput(buffer.subarray(at, blockEnd));
        certificates.push(der!);
      }
      at = buffer.indexOf(BEGIN, blockEnd);
    }
    return certificates.length > 0 ? { ok: true, certificates } : bad('no CERTIFICATE block');
  } catch (error) {
    return bad(messageOf(error));
  }
}

const trustAnchors = new WeakMap<ModuleConfig, ReturnType<typeof trustAnchorsFrom>>();

function trustAnchorsOf(module: ModuleConfig): ReturnType<typeof trustAnchorsFrom> {
  let trust = trustAnchors.get(module);
  if (!trust) {
    trust = trustAnchorsFrom(module.caPem);
    trustAnchors.set(module, trust);
  }
  return trust;
}

export interface IssuerCandidates {
  /** The certificate file's certificates after the leaf. */
  bundle: readonly Uint8Array[];
  /** HAProxy's `<bundle>.issuer`, when there is one. */
  haproxyIssuer: readonly Uint8Array[];
  /** The entry's `issuer:` file. */
  issuerFile: readonly Uint8Array[];
}

/** The leaf's issuer and where it came from; null when none of the candidates issued it. */
export function findFileIssuer(leafDer: Uint8Array, candidates: IssuerCandidates, module: ModuleConfig): { issuerDer: Uint8Array | null; source: FileIssuerSource | null } {
  const inBundle = findIssuer(leafDer, [...candidates.bundle, ...candidates.haproxyIssuer]);
  if (inBundle) return { issuerDer: inBundle, source: 'bundle' };
  const fromFile = findIssuer(leafDer, candidates.issuerFile);
  if (fromFile) return { issuerDer: fromFile, source: 'issuer_file' };
  const trust = trustAnchorsOf(module);
  const anchored = findIssuer(leafDer, trust.anchors);
  return anchored ? { issuerDer: anchored, source: trust.source } : { issuerDer: null, source: null };
}

/** The leaf's facts, or the problem that it is not a readable certificate. */
export function leafFacts(leafDer: Uint8Array, path: string): { ok: true; facts: ReturnType<typeof certificateFacts> } | { ok: false; problem: FileProblem } {
  try {
    return { ok: true, facts: certificateFacts(leafDer) };
  } catch (error) {
    return { ok: false, problem: { reason: 'bad_certificate', message: `${path}: ${messageOf(error)}` } };
  }
}

/** The staple's bytes judged at `nowMs` as a probe judges what a server stapled; empty bytes → no staple. */
export function judgeStaple(
  stapleBytes: Uint8Array,
  leafDer: Uint8Array,
  issuerDer: Uint8Array | null,
  module: ModuleConfig,
  nowMs: number,
  keepResponse = false,
): StapleFileStaple {
  if (stapleBytes.length === 0) return { present: false, sizeBytes: 0, verdict: null };
  const verdict = verifyOcspResponse(stapleBytes, leafDer, issuerDer, { now: new Date(nowMs), clockSkewSeconds: module.clockSkewSeconds });
  const staple: StapleFileStaple = { present: true, sizeBytes: stapleBytes.length, verdict: stapleVerdictOf(verdict) };
  if (keepResponse) staple.response = verdict.response;
  return staple;
}

/**
 * When the refresh job should have rewritten the staple file by (Unix ms): its mtime plus
 * `rewriteWithin` times the staple's usable window (thisUpdate to the earlier of nextUpdate and
 * the delegated signer's notAfter, `stapleEnd`); null without a parsed staple with an end.
 */
export function rewriteDeadlineMs(result: Pick<StapleFileResult, 'modifiedAtMs' | 'staple' | 'rewriteWithin'>): number | null {
  const verdict = result.staple?.verdict;
  const end = verdict ? stapleEnd(verdict) : null;
  if (!verdict?.single || !end || result.modifiedAtMs === null) return null;
  const windowMs = new Date(end).getTime() - new Date(verdict.single.thisUpdate).getTime();
  return result.modifiedAtMs + result.rewriteWithin * windowMs;
}
