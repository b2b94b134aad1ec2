/**
 * Key derivation: TLS 1.3's HKDF schedule (RFC 8446 §7.1, HKDF of RFC 5869 over node:crypto's HMAC)
 * and TLS 1.2's PRF (RFC 5246 §5) with the extended master secret (RFC 7627). No cryptography of our
 * own: HMAC and the hashes are node:crypto's; only the protocol's composition of them is here.
 */
import { createHash, createHmac } from 'node:crypto';
import { u16, u8, vector } from './bytes.js';

export type HashName = 'sha256' | 'sha384';

export function hashLength(hash: HashName): number {
  return hash === 'sha256' ? 32 : 48;
}

export function digest(hash: HashName, ...data: Buffer[]): Buffer {
  const h = createHash(hash);
  for (const d of data) h.update(d);
  return h.digest();
}

function hmac(hash: HashName, key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac(hash, key);
  for (const d of data) h.update(d);
  return h.digest();
}

/** HKDF-Extract (RFC 5869 §2.2); a missing salt is a string of zeros. */
export function hkdfExtract(hash: HashName, salt: Buffer | null, ikm: Buffer): Buffer {
  return hmac(hash, salt ?? Buffer.alloc(hashLength(hash)), ikm);
}

/** HKDF-Expand (RFC 5869 §2.3). */
export function hkdfExpand(hash: HashName, prk: Buffer, info: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous: Buffer = Buffer.alloc(0);
  let produced = 0;
  for (let i = 1; produced < length; i++) {
    previous = hmac(hash, prk, previous, info, u8(i));
    blocks.push(previous);
    produced += previous.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** HKDF-Expand-Label (RFC 8446 §7.1). */
export function expandLabel(hash: HashName, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  const info = Buffer.concat([u16(length), vector(1, Buffer.from(`tls13 ${label}`, 'ascii')), vector(1, context)]);
  return hkdfExpand(hash, secret, info, length);
}

/** Derive-Secret (RFC 8446 §7.1) over an already computed transcript hash. */
export function deriveSecret(hash: HashName, secret: Buffer, label: string, transcriptHash: Buffer): Buffer {
  return expandLabel(hash, secret, label, transcriptHash, hashLength(hash));
}

export interface TrafficKeys {
  key: Buffer;
  iv: Buffer;
}

/** [sender]_write_key and [sender]_write_iv of a traffic secret (RFC 8446 §7.3). */
export function trafficKeys(hash: HashName, secret: Buffer, keyLength: number): TrafficKeys {
  return { key: expandLabel(hash, secret, 'key', Buffer.alloc(0), keyLength), iv: expandLabel(hash, secret, 'iv', Buffer.alloc(0), 12) };
}

/** Finished's verify_data (RFC 8446 §4.4.4). */
export function finishedVerifyData(hash: HashName, baseKey: Buffer, transcriptHash: Buffer): Buffer {
  const finishedKey = expandLabel(hash, baseKey, 'finished', Buffer.alloc(0), hashLength(hash));
  return hmac(hash, finishedKey, transcriptHash);
}

/** The TLS 1.3 secrets of a full handshake (no PSK), in the order the schedule produces them. */
export interface HandshakeSecrets {
  handshakeSecret: Buffer;
  clientHandshakeTraffic: Buffer;
  serverHandshakeTraffic: Buffer;
}

/**
 * What the schedule derives from constants alone, per hash: Hash(""), and Derive-Secret(early
 * secret, "derived", "") with the early secret of a handshake without PSK (HKDF-Extract(0, 0)).
 * Computed once: three HMACs and two hashes fewer per handshake.
 */
const constants = new Map<HashName, { emptyHash: Buffer; derivedFromEarly: Buffer }>();

function scheduleConstants(hash: HashName): { emptyHash: Buffer; derivedFromEarly: Buffer } {
  let known = constants.get(hash);
  if (!known) {
    const emptyHash = digest(hash);
    const early = hkdfExtract(hash, null, Buffer.alloc(hashLength(hash)));
    known = { emptyHash, derivedFromEarly: deriveSecret(hash, early, 'derived', emptyHash) };
    constants.set(hash, known);
  }
  return known;
}

/** Early secret (no PSK) → handshake secret and the two handshake traffic secrets (RFC 8446 §7.1). */
export function handshakeSecrets(hash: HashName, sharedSecret: Buffer, helloHash: Buffer): HandshakeSecrets {
  const handshakeSecret = hkdfExtract(hash, scheduleConstants(hash).derivedFromEarly, sharedSecret);
  return {
    handshakeSecret,
    clientHandshakeTraffic: deriveSecret(hash, handshakeSecret, 'c hs traffic', helloHash),
    serverHandshakeTraffic: deriveSecret(hash, handshakeSecret, 's hs traffic', helloHash),
  };
}

/** Master secret → the two application traffic secrets, over the transcript through the server Finished. */
export function applicationSecrets(hash: HashName, handshakeSecret: Buffer, serverFinishedHash: Buffer): { master: Buffer; clientApplicationTraffic: Buffer; serverApplicationTraffic: Buffer } {
  const derived = deriveSecret(hash, handshakeSecret, 'derived', scheduleConstants(hash).emptyHash);
  const master = hkdfExtract(hash, derived, Buffer.alloc(hashLength(hash)));
  return {
    master,
    clientApplicationTraffic: deriveSecret(hash, master, 'c ap traffic', serverFinishedHash),
    serverApplicationTraffic: deriveSecret(hash, master, 's ap traffic', serverFinishedHash),
  };
}

/** TLS 1.2's PRF: P_hash(secret, label + seed) (RFC 5246 §5). */
export function prf12(hash: HashName, secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'ascii'), seed]);
  const blocks: Buffer[] = [];
  let a: Buffer = labelSeed;
  let produced = 0;
  while (produced < length) {
    a = hmac(hash, secret, a);
    const block = hmac(hash, secret, a, labelSeed);
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * TLS 1.2 master secret: with the extended master secret over the session hash (RFC 7627 §4),
 * else over the two randoms (RFC 5246 §8.1).
 */
export function masterSecret12(hash: HashName, preMaster: Buffer, options: { sessionHash: Buffer } | { clientRandom: Buffer; serverRandom: Buffer }): Buffer {
  if ('sessionHash' in options) return prf12(hash, preMaster, 'extended master secret', options.sessionHash, 48);
  return prf12(hash, preMaster, 'master secret', Buffer.concat([options.clientRandom, options.serverRandom]), 48);
}
