/**
 * Ephemeral (EC)DHE key shares with node:crypto: X25519 (RFC 7748) and the NIST curves P-256 and
 * P-384 (uncompressed points, RFC 8446 §4.2.8.2). The shared secret is X25519's output or the
 * x-coordinate of the ECDH point, as both TLS 1.2 (RFC 8422 §5.10) and TLS 1.3 use it.
 */
import { createECDH, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { NamedGroup } from './constants.js';
import { TlsAlertError } from './errors.js';

export interface KeyShare {
  readonly group: NamedGroup;
  /** What goes on the wire: 32 bytes for X25519, an uncompressed point for the NIST curves. */
  readonly publicKey: Buffer;
  /** The shared secret with the peer's public value; an invalid one is alert illegal_parameter. */
  computeSecret(peer: Buffer): Buffer;
}

/** DER prefix of an X25519 PKCS#8 private key (RFC 8410), for a fixed test-vector key only. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * Raw X25519 keys go in and out through JWK: Node maps it to OpenSSL's raw-key calls, while DER
 * goes through OpenSSL 3's decoder framework, measured at 117 µs per import and 78 µs per export
 * against 15 µs and 2 µs (a probe makes one of each).
 *
 * The public key comes JWK-encoded out of the key generation itself, never from `export()` on a
 * generated key: in Node 20 the generation job's destructor (a garbage-collection finalizer) locks
 * the key's mutex, and `export()` holds that same mutex while allocating on the V8 heap. A
 * collection during the export that finalizes the job deadlocks the thread for good: a probe
 * worker of the benchmark was found in futex_wait under ~KeyPairGenConfig inside ExportJWKEdKey,
 * and a 1 MB young generation gets there within seconds (test/tls-native/key-exchange-gc.test.ts).
 * The encoding inside the job runs while the job is still alive, so its finalizer cannot run then.
 */
function x25519Share(privateRaw?: Buffer): KeyShare {
  let privateKey: KeyObject;
  let raw: Buffer;
  if (privateRaw) {
    // Test vectors only: these keys come from no generation job.
    privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateRaw]), format: 'der', type: 'pkcs8' });
    raw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url');
  } else {
    // @types/node's overloads lack the 'jwk' public encoding for x25519, which Node accepts.
    const generated = generateKeyPairSync('x25519', { publicKeyEncoding: { format: 'jwk' } } as unknown as Parameters<typeof generateKeyPairSync>[1]) as unknown as {
      privateKey: KeyObject;
      publicKey: { x?: unknown };
    };
    if (typeof generated.publicKey.x !== 'string') throw new Error('X25519 key generation returned no JWK public key');
    privateKey = generated.privateKey;
    raw = Buffer.from(generated.publicKey.x, 'base64url');
  }
  return {
    group: 'x25519',
    publicKey: raw,
    computeSecret(peer) {
      if (peer.length !== 32) throw new TlsAlertError('illegal_parameter', `an X25519 key share of ${peer.length} bytes (32 expected)`);
      let secret: Buffer;
      try {
        const peerKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: peer.toString('base64url') }, format: 'jwk' });
        secret = diffieHellman({ privateKey, publicKey: peerKey });
      } catch {
        throw new TlsAlertError('illegal_parameter', 'the server sent an unusable X25519 key share');
      }
      // RFC 7748 §6.1 / RFC 8446 §7.4.2: an all-zero result means a small-order point.
      if (secret.every((byte) => byte === 0)) throw new TlsAlertError('illegal_parameter', 'the X25519 shared secret is all zeros');
      return secret;
    },
  };
}

const CURVE_NAMES = { secp256r1: 'prime256v1', secp384r1: 'secp384r1' } as const;
const POINT_LENGTHS = { secp256r1: 65, secp384r1: 97 } as const;

function nistShare(group: 'secp256r1' | 'secp384r1', privateRaw?: Buffer): KeyShare {
  const ecdh = createECDH(CURVE_NAMES[group]);
  if (privateRaw) ecdh.setPrivateKey(privateRaw);
  else ecdh.generateKeys();
  return {
    group,
    publicKey: ecdh.getPublicKey(null, 'uncompressed'),
    computeSecret(peer) {
      // RFC 8446 §4.2.8.2: only the uncompressed form (0x04 ‖ X ‖ Y).
      if (peer.length !== POINT_LENGTHS[group] || peer[0] !== 4) {
        throw new TlsAlertError('illegal_parameter', `a ${group} key share that is not an uncompressed point (${peer.length} bytes)`);
      }
      try {
        return ecdh.computeSecret(peer);
      } catch {
        throw new TlsAlertError('illegal_parameter', `the server's ${group} point is not on the curve`);
      }
    },
  };
}

/** A fresh key share for `group`; `privateRaw` fixes the private key (test vectors only). */
export function generateKeyShare(group: NamedGroup, privateRaw?: Buffer): KeyShare {
  return group === 'x25519' ? x25519Share(privateRaw) : nistShare(group, privateRaw);
}

/**
 * How long, and for how many handshakes, a thread offers the same key share. A generation is one
 * scalar multiplication (X25519 ~50 µs here, a twentieth of a probe); the server's share, and so
 * every handshake's secrets, stay fresh. Reusing the client's ephemeral key only weakens forward
 * secrecy, which protects nothing here: a probe sends no data but its Finished and close_notify.
 * RFC 8446 does not require a fresh client share per connection; the bound keeps one key's life short.
 */
export const KEY_SHARE_REUSE = { maxAgeMs: 10_000, maxUses: 4096 } as const;

const reusable = new Map<NamedGroup, { share: KeyShare; bornMs: number; uses: number }>();

/** This thread's current key share for `group`, made afresh once it is KEY_SHARE_REUSE old or used. */
export function reusableKeyShare(group: NamedGroup, nowMs: number = Date.now()): KeyShare {
  let current = reusable.get(group);
  if (!current || current.uses >= KEY_SHARE_REUSE.maxUses || nowMs - current.bornMs >= KEY_SHARE_REUSE.maxAgeMs || nowMs < current.bornMs) {
    current = { share: generateKeyShare(group), bornMs: nowMs, uses: 0 };
    reusable.set(group, current);
  }
  current.uses++;
  return current.share;
}
