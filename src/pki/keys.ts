/**
 * Key pairs for the in-memory PKI: generated with Node's WebCrypto (the engine pkijs uses), always
 * extractable so they can be written out as PKCS#8 PEM for TLS servers and for OpenSSL. Signing
 * goes through `node:crypto` on the same keys, which lets one key sign with any digest and with
 * RSASSA-PSS without re-importing it per algorithm.
 */
import { KeyObject, constants as cryptoConstants, sign as nodeSign, type webcrypto } from 'node:crypto';
import { pemEncode } from './der.js';
import { PkiError } from './errors.js';

/** WebCrypto types, named here because the project compiles without the DOM lib. */
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type CryptoKey = webcrypto.CryptoKey;

export type KeyKind = 'ec-p256' | 'ec-p384' | 'rsa-2048';

export const KEY_KINDS: readonly KeyKind[] = ['ec-p256', 'ec-p384', 'rsa-2048'];

const subtle = globalThis.crypto.subtle;

/** A new extractable key pair of the given kind. */
export async function generateKeys(kind: KeyKind): Promise<CryptoKeyPair> {
  switch (kind) {
    case 'ec-p256':
    case 'ec-p384':
      return subtle.generateKey({ name: 'ECDSA', namedCurve: kind === 'ec-p256' ? 'P-256' : 'P-384' }, true, [
        'sign',
        'verify',
      ]);
    case 'rsa-2048':
      return subtle.generateKey(
        { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        true,
        ['sign', 'verify'],
      );
    default:
      throw new PkiError('ERR_PKI_INVALID_OPTION', `unknown key kind: ${String(kind)}`);
  }
}

/** Which supported kind a WebCrypto key pair is; throws ERR_PKI_UNSUPPORTED_KEY otherwise. */
export function keyKindOf(keys: CryptoKeyPair): KeyKind {
  const algorithm = keys.privateKey.algorithm as webcrypto.KeyAlgorithm & { namedCurve?: string; modulusLength?: number };
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256') return 'ec-p256';
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-384') return 'ec-p384';
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' && algorithm.modulusLength === 2048) return 'rsa-2048';
  throw new PkiError(
    'ERR_PKI_UNSUPPORTED_KEY',
    `unsupported key: ${algorithm.name} ${algorithm.namedCurve ?? algorithm.modulusLength ?? ''}`.trim(),
  );
}

export function isRsa(kind: KeyKind): boolean {
  return kind === 'rsa-2048';
}

function requireExtractable(key: CryptoKey, what: string): void {
  if (!key.extractable) throw new PkiError('ERR_PKI_UNSUPPORTED_KEY', `${what} must be extractable`);
}

/** SubjectPublicKeyInfo DER of the public key. */
export async function exportSpki(keys: CryptoKeyPair): Promise<Uint8Array> {
  requireExtractable(keys.publicKey, 'public key');
  return new Uint8Array(await subtle.exportKey('spki', keys.publicKey));
}

/** PKCS#8 `PRIVATE KEY` PEM, as Node's `tls` and OpenSSL read it. */
export async function exportPkcs8Pem(keys: CryptoKeyPair): Promise<string> {
  requireExtractable(keys.privateKey, 'private key');
  return pemEncode(new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY');
}

export interface SignOptions {
  hash: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
  /** RSASSA-PSS with MGF1 over the same digest and a salt as long as the digest (RFC 4055 §3.1). */
  pss?: boolean;
}

const HASH_LENGTH: Record<SignOptions['hash'], number> = { 'SHA-1': 20, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

/**
 * Signs `data` with the private key. ECDSA signatures come out as the DER Ecdsa-Sig-Value X.509
 * and OCSP carry (RFC 3279 §2.2.3), not WebCrypto's raw r‖s.
 */
export function signData(keys: CryptoKeyPair, data: Uint8Array, options: SignOptions): Uint8Array {
  const kind = keyKindOf(keys);
  const key = KeyObject.from(keys.privateKey);
  const hash = options.hash.replace('-', '').toLowerCase();
  if (options.pss) {
    if (!isRsa(kind)) throw new PkiError('ERR_PKI_INVALID_OPTION', `RSASSA-PSS needs an RSA key, not ${kind}`);
    return new Uint8Array(
      nodeSign(hash, data, {
        key,
        padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
        saltLength: HASH_LENGTH[options.hash],
      }),
    );
  }
  return new Uint8Array(nodeSign(hash, data, isRsa(kind) ? key : { key, dsaEncoding: 'der' }));
}

/** Digest length in bytes, the PSS salt length used here. */
export function hashLength(hash: SignOptions['hash']): number {
  return HASH_LENGTH[hash];
}
