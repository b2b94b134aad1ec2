/**
 * The certificate chain a server presented, read from a finished handshake.
 *
 * Node can only hand out the intermediates through `getPeerCertificate(true)`, which copies every
 * certificate (X509_dup, a full re-decode in OpenSSL 3.0): ~0.22 ms per certificate, the largest
 * cost of a probe after the handshake itself. Even the leaf alone (`getPeerCertificate(false)`)
 * costs ~0.12 ms on a fresh connection, decoding its key; but the leaf is also in the session
 * (`getSession()`, ~0.011 ms), whose DER we read ourselves. So the intermediates that a full read
 * found are reused for a handshake that looks the same in everything observable:
 * - the same leaf (SHA-256 fingerprint), protocol and cipher, a staple again or again none;
 * - the same number of raw bytes received during the handshake, staple excluded, to within
 *   {@link BYTES_TOLERANCE}. Only signature lengths move it by a few bytes; a certificate added,
 *   dropped or swapped for one of another size moves it by hundreds.
 * Many addresses serve one certificate (load-balanced nodes, a shared wildcard), so what one
 * address's full read found serves the others too. Every address still gets a full read of its own
 * within {@link FULL_READ_INTERVAL_MS} of being first seen and at least that often afterwards, which
 * bounds how long even a same-size swap of an intermediate can go unseen.
 * Without the raw byte count (it comes from the TCP handle under the TLS socket, not a public API)
 * every read is a full one.
 */
import { hash } from 'node:crypto';
import type * as tls from 'node:tls';
import { BoundedCache } from '../util/cache.js';
import { contextTag, DerCursor, readTlv, TAG } from '../x509/der.js';

/** Longest chain we walk; a hostile server may send far more. Both engines keep this many. */
export const MAX_CHAIN_LENGTH = 32;

/** Each address gets a full read at least this often, whatever its handshakes look like. */
export const FULL_READ_INTERVAL_MS = 5 * 60_000;

/** Jitter of a repeated handshake's size: DER-encoded ECDSA signatures vary by up to ~3 bytes. */
const BYTES_TOLERANCE = 16;

/** Distinct handshake sizes remembered per leaf and kind of handshake (e.g. with and without an intermediate). */
const SIZES_PER_LEAF = 4;

/** A chain a full read found. */
interface KnownChain {
  /** Raw bytes received up to the end of the handshake, minus the staple's length. */
  handshakeBytes: number;
  /** The presented chain after the leaf. */
  issuers: Buffer[];
}

/** What is remembered per TLS context (one per module and config version). */
interface ContextMemory {
  /** By `leaf fingerprint|protocol|cipher|stapled`: the chains full reads found, newest first. */
  chains: BoundedCache<string, KnownChain[]>;
  /** By `address|port|SNI`: when that server's chain was last read in full (or first seen), Unix ms. */
  fullReadAtMs: BoundedCache<string, number>;
}

const memories = new WeakMap<tls.SecureContext, ContextMemory>();
/**
 * Bounded by bytes as well as entries: a hostile server can present a fresh ~100 KB chain on every
 * handshake, and 4,096 of those would be 400 MB (test/hardening/presented-bounds.test.ts).
 */
const CHAINS_MAX_BYTES = 16 * 1024 * 1024;
const CHAIN_OVERHEAD_BYTES = 256;
/** One Buffer per distinct intermediate, however many addresses present it. */
const internedIssuers = new BoundedCache<string, Buffer>(1024, 8 * 1024 * 1024);

/** How many reads were full and how many reused a known chain (tests and benchmarks look). */
export const presentedChainStats = { fullReads: 0, reusedReads: 0 };

export interface PresentedChainContext {
  secureContext: tls.SecureContext;
  /** `address|port|SNI`: which server this is. */
  key: string;
  /** As the handshake reported them (tls.ts reads them once for the result too). */
  protocol: string;
  cipher: string;
  stapleLength: number | null;
  nowMs: number;
}

/** DER, leaf first, then each issuer found among the certificates sent (as Node orders them). */
export function readPresentedChain(socket: tls.TLSSocket, context: PresentedChainContext): Buffer[] {
  const bytes = rawBytesRead(socket);
  if (bytes === null) return fullRead(socket).chain;

  let memory = memories.get(context.secureContext);
  if (!memory) {
    memory = { chains: new BoundedCache(4096, CHAINS_MAX_BYTES), fullReadAtMs: new BoundedCache(100_000) };
    memories.set(context.secureContext, memory);
  }
  const handshakeBytes = bytes - (context.stapleLength ?? 0);
  const kind = `${context.protocol}|${context.cipher}|${context.stapleLength !== null}`;

  let fullReadAtMs = memory.fullReadAtMs.get(context.key);
  if (fullReadAtMs === undefined) {
    fullReadAtMs = context.nowMs; // first seen: its own full read is due within the interval
    memory.fullReadAtMs.set(context.key, fullReadAtMs);
  }
  if (context.nowMs - fullReadAtMs < FULL_READ_INTERVAL_MS) {
    const leaf = leafFromSession(socket);
    const known = leaf ? memory.chains.get(`${fingerprintOf(leaf)}|${kind}`) : undefined;
    const match = known?.find((chain) => Math.abs(chain.handshakeBytes - handshakeBytes) <= BYTES_TOLERANCE);
    if (leaf && match) {
      presentedChainStats.reusedReads++;
      return [leaf, ...match.issuers];
    }
  }

  const { chain, leafFingerprint } = fullRead(socket);
  memory.fullReadAtMs.set(context.key, context.nowMs);
  // Without a leaf nothing is kept: a handshake without a leaf matches nothing.
  if (leafFingerprint) {
    const key = `${leafFingerprint}|${kind}`;
    const others = (memory.chains.get(key) ?? []).filter((c) => Math.abs(c.handshakeBytes - handshakeBytes) > BYTES_TOLERANCE);
    const known = [{ handshakeBytes, issuers: chain.slice(1) }, ...others].slice(0, SIZES_PER_LEAF);
    const bytes = known.reduce((sum, c) => sum + CHAIN_OVERHEAD_BYTES + c.issuers.reduce((n, der) => n + der.length, 0), 0);
    memory.chains.set(key, known, bytes);
  }
  return chain;
}

function fullRead(socket: tls.TLSSocket): { chain: Buffer[]; leafFingerprint: string | null } {
  presentedChainStats.fullReads++;
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const leafFingerprint = cert?.raw ? fingerprintOf(cert.raw) : null;
  while (cert && cert.raw && chain.length < MAX_CHAIN_LENGTH) {
    const fingerprint = cert.fingerprint256;
    if (seen.has(fingerprint)) break; // a self-signed root points at itself
    seen.add(fingerprint);
    chain.push(chain.length === 0 ? cert.raw : intern(fingerprint, cert.raw));
    cert = cert.issuerCertificate;
  }
  return { chain, leafFingerprint };
}

function intern(fingerprint: string, der: Buffer): Buffer {
  const known = internedIssuers.get(fingerprint);
  if (known) return known;
  internedIssuers.set(fingerprint, der, der.length);
  return der;
}

function fingerprintOf(der: Buffer): string {
  return hash('sha256', der, 'base64');
}

/** SSL_SESSION's `[3] peer` (OpenSSL's ssl_asn1.c): the leaf the server presented, copied out. */
const SESSION_PEER = contextTag(3, true);

function leafFromSession(socket: tls.TLSSocket): Buffer | null {
  const session = socket.getSession();
  if (!session) return null;
  try {
    const fields = DerCursor.of(session, readTlv(session, 0, session.length));
    while (!fields.done) {
      const field = fields.next('session field');
      if (field.tag !== SESSION_PEER) continue;
      const certificate = readTlv(session, field.contentStart, field.end);
      // A copy: the session also holds the TLS 1.2 master secret, which must not outlive this call.
      return certificate.tag === TAG.SEQUENCE ? Buffer.from(session.subarray(certificate.start, certificate.end)) : null;
    }
  } catch {
    // An unreadable session only costs a full read.
  }
  return null;
}

/** Raw TCP bytes received so far, from the stream under the TLS layer; null if Node hides it. */
function rawBytesRead(socket: tls.TLSSocket): number | null {
  const handle = (socket as unknown as { _handle?: { _parent?: { bytesRead?: unknown } } })._handle;
  const bytes = handle?._parent?.bytesRead;
  return typeof bytes === 'number' && bytes > 0 ? bytes : null;
}
