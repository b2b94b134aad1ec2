/**
 * Signature checks with node:crypto over bytes exactly as received (tbsResponseData of an OCSP
 * response, tbsCertificate of a certificate): RSA PKCS#1 v1.5, RSASSA-PSS with its parameters
 * (RFC 4055 §3.1), ECDSA (RFC 5758 §3.2) and EdDSA (RFC 8410 §6), with SHA-1 and SHA-2 digests.
 * Answers true or false and never throws: an unsupported algorithm, a key of the wrong type or a
 * garbled signature are all "does not verify".
 */
import { constants, verify, type KeyObject } from 'node:crypto';
import { HASH_ALGORITHMS, SIGNATURE_ALGORITHMS } from './algorithms.js';
import { DerCursor, TAG, contextTag, readAlgorithmIdentifier, readTlv, smallInteger } from './der.js';

/** Digests accepted in signatures. MD5 is known broken and counts as unsupported. */
const SIGNATURE_DIGESTS = new Set(['sha1', 'sha224', 'sha256', 'sha384', 'sha512']);
const MGF1_OID = '1.2.840.113549.1.1.8';

interface PssParams {
  hash: string;
  saltLength: number;
}

/** RSASSA-PSS-params (RFC 4055 §3.1); null when Node cannot express them (MGF1 hash ≠ message hash). */
function readPssParams(params: Uint8Array | null): PssParams | null {
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  if (params && params.length > 0) {
    const top = readTlv(params, 0, params.length);
    if (top.tag === TAG.NULL) return null;
    const c = DerCursor.of(params, top);
    const hashTlv = c.optional(contextTag(0, true), 'hashAlgorithm');
    if (hashTlv) {
      const hc = DerCursor.of(params, hashTlv);
      const alg = readAlgorithmIdentifier(params, hc.expect(TAG.SEQUENCE, 'hashAlgorithm'), 'hashAlgorithm');
      const name = HASH_ALGORITHMS[alg.oid]?.node;
      if (!name) return null;
      hash = name;
    }
    const mgfTlv = c.optional(contextTag(1, true), 'maskGenAlgorithm');
    if (mgfTlv) {
      const mc = DerCursor.of(params, mgfTlv);
      const mgf = readAlgorithmIdentifier(params, mc.expect(TAG.SEQUENCE, 'maskGenAlgorithm'), 'maskGenAlgorithm');
      if (mgf.oid !== MGF1_OID || !mgf.params) return null;
      const inner = readAlgorithmIdentifier(params, mgf.params, 'MGF1 hash');
      const name = HASH_ALGORITHMS[inner.oid]?.node;
      if (!name) return null;
      mgfHash = name;
    }
    const saltTlv = c.optional(contextTag(2, true), 'saltLength');
    if (saltTlv) {
      const sc = DerCursor.of(params, saltTlv);
      saltLength = smallInteger(params, sc.expect(TAG.INTEGER, 'saltLength'), 'saltLength');
    }
    const trailerTlv = c.optional(contextTag(3, true), 'trailerField');
    if (trailerTlv) {
      const tc = DerCursor.of(params, trailerTlv);
      if (smallInteger(params, tc.expect(TAG.INTEGER, 'trailerField'), 'trailerField') !== 1) return null;
    }
    c.finish('RSASSA-PSS-params');
  }
  // Node's verify uses the message digest for MGF1 too.
  if (mgfHash !== hash || !SIGNATURE_DIGESTS.has(hash)) return null;
  return { hash, saltLength };
}

/**
 * Whether `signature` over `data` verifies with `key` under the algorithm `oid` (+ DER `params`).
 */
export function verifySignature(key: KeyObject | null, oid: string, params: Uint8Array | null, data: Uint8Array, signature: Uint8Array): boolean {
  if (!key) return false;
  const alg = SIGNATURE_ALGORITHMS[oid];
  if (!alg) return false;
  const keyType = key.asymmetricKeyType;
  try {
    switch (alg.scheme.kind) {
      case 'rsa':
        if ((keyType !== 'rsa' && keyType !== 'rsa-pss') || !SIGNATURE_DIGESTS.has(alg.scheme.hash)) return false;
        return verify(alg.scheme.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'rsa-pss': {
        if (keyType !== 'rsa' && keyType !== 'rsa-pss') return false;
        const pss = readPssParams(params);
        if (!pss) return false;
        return verify(pss.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, signature);
      }
      case 'ecdsa':
        if (keyType !== 'ec' || !SIGNATURE_DIGESTS.has(alg.scheme.hash)) return false;
        return verify(alg.scheme.hash, data, { key, dsaEncoding: 'der' }, signature);
      case 'eddsa':
        if (keyType !== (oid === '1.3.101.112' ? 'ed25519' : 'ed448')) return false;
        return verify(null, data, key, signature);
    }
  } catch {
    // OpenSSL errors on garbled signatures or parameters: "does not verify".
    return false;
  }
}
