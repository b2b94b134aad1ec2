/**
 * The credential files a config names, checked at load the way Node's TLS stack (OpenSSL) will use
 * them: a certificate bundle whose every PEM `CERTIFICATE` block (RFC 7468 §5) is readable, a
 * private key that loads without a passphrase, and whether that key belongs to the first
 * certificate of the bundle (the one a TLS peer is sent, RFC 8446 §4.4.2). The main config
 * (`ca_file`, `client_cert_file`/`client_key_file`) and the web config (`client_ca_file`,
 * `cert_file`/`key_file`) both use these; each words the outcome its own way.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { messageOf } from '../util/errors.js';
import { pemCertificateBlocks } from './pem.js';

export type CertificateBundleCheck =
  | { ok: true; certificates: X509Certificate[] }
  /** No `-----BEGIN CERTIFICATE-----` block at all. */
  | { ok: false; reason: 'no_certificate' }
  /** Block `index` (0-based) of `count` is not a certificate OpenSSL can read. */
  | { ok: false; reason: 'unreadable_certificate'; index: number; count: number; detail: string };

/** Parses every PEM certificate block of `pem`; the first unreadable one is the problem. */
export function checkCertificateBundle(pem: string): CertificateBundleCheck {
  const blocks = pemCertificateBlocks(pem);
  if (blocks.length === 0) return { ok: false, reason: 'no_certificate' };
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (error) {
      return { ok: false, reason: 'unreadable_certificate', index, count: blocks.length, detail: messageOf(error) };
    }
  }
  return { ok: true, certificates };
}

/** An unencrypted PEM (or DER-in-PEM) private key, or why OpenSSL cannot load it. */
export function loadPrivateKey(pem: string): { ok: true; key: KeyObject } | { ok: false; detail: string } {
  try {
    return { ok: true, key: createPrivateKey(pem) };
  } catch (error) {
    return { ok: false, detail: messageOf(error) };
  }
}

export type KeyPairCheck =
  | { ok: true }
  /** The key does not load (encrypted, not a key, corrupt). */
  | { ok: false; reason: 'unreadable_key'; detail: string }
  /** The bundle has no readable first certificate to compare with. */
  | { ok: false; reason: 'unreadable_certificate'; detail: string }
  /** Both load, but the key is not the certificate's. */
  | { ok: false; reason: 'mismatch'; detail: string };

/**
 * Whether `keyPem` is the private key of the first certificate in `certPem`. OpenSSL takes a
 * mismatched pair without complaint when a context is built and fails only in handshakes, so the
 * loaders check it here.
 */
export function checkKeyPair(certPem: string, keyPem: string): KeyPairCheck {
  const key = loadPrivateKey(keyPem);
  if (!key.ok) return { ok: false, reason: 'unreadable_key', detail: key.detail };
  const first = pemCertificateBlocks(certPem)[0];
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(first ?? certPem);
  } catch (error) {
    return { ok: false, reason: 'unreadable_certificate', detail: messageOf(error) };
  }
  if (!certificate.checkPrivateKey(key.key)) return { ok: false, reason: 'mismatch', detail: 'the key does not match the certificate' };
  return { ok: true };
}
