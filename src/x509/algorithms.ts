/**
 * The digest and signature algorithms the exporter knows, by OID (RFC 3279 §2.2.1, RFC 5754 §2,
 * RFC 4055, RFC 5758 §3.2, RFC 8410): what the DER reader names, what node:crypto calls them, and
 * the WebCrypto-style names (`SHA-256`) the OCSP request and the PKI builder take.
 */

/** Digest names as options spell them. */
export type HashName = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

/** OIDs of the digests by option name. */
export const HASH_OIDS: Record<HashName, string> = {
  'SHA-1': '1.3.14.3.2.26',
  'SHA-256': '2.16.840.1.101.3.4.2.1',
  'SHA-384': '2.16.840.1.101.3.4.2.2',
  'SHA-512': '2.16.840.1.101.3.4.2.3',
};

/** node:crypto's name of a digest given by option name. */
export const NODE_HASH_NAMES: Record<HashName, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** Digests by OID, as read from DER: short name and node:crypto's name. */
export const HASH_ALGORITHMS: Record<string, { name: string; node: string }> = {
  '1.3.14.3.2.26': { name: 'sha1', node: 'sha1' },
  '2.16.840.1.101.3.4.2.4': { name: 'sha224', node: 'sha224' },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', node: 'sha256' },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', node: 'sha384' },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', node: 'sha512' },
  '1.2.840.113549.2.5': { name: 'md5', node: 'md5' },
};

export type SignatureScheme =
  | { kind: 'rsa'; hash: string }
  | { kind: 'rsa-pss' }
  | { kind: 'ecdsa'; hash: string }
  | { kind: 'eddsa' };

export const SIGNATURE_ALGORITHMS: Record<string, { name: string; scheme: SignatureScheme }> = {
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', scheme: { kind: 'rsa', hash: 'md5' } },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', scheme: { kind: 'rsa', hash: 'sha1' } },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', scheme: { kind: 'rsa', hash: 'sha224' } },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', scheme: { kind: 'rsa', hash: 'sha256' } },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', scheme: { kind: 'rsa', hash: 'sha384' } },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', scheme: { kind: 'rsa', hash: 'sha512' } },
  '1.2.840.113549.1.1.10': { name: 'RSASSA-PSS', scheme: { kind: 'rsa-pss' } },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', scheme: { kind: 'ecdsa', hash: 'sha1' } },
  '1.2.840.10045.4.3.1': { name: 'ecdsa-with-SHA224', scheme: { kind: 'ecdsa', hash: 'sha224' } },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', scheme: { kind: 'ecdsa', hash: 'sha256' } },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', scheme: { kind: 'ecdsa', hash: 'sha384' } },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', scheme: { kind: 'ecdsa', hash: 'sha512' } },
  '1.3.101.112': { name: 'Ed25519', scheme: { kind: 'eddsa' } },
  '1.3.101.113': { name: 'Ed448', scheme: { kind: 'eddsa' } },
};
