/**
 * The in-memory PKI builder: key pairs, X.509 certificates and crafted OCSP responses, made with
 * pkijs/asn1js on Node's WebCrypto without shelling out. Used by the demo lab to stage every
 * staple state on loopback and by tests that need certificates and responses quickly.
 */
export { generateKeys, keyKindOf, exportPkcs8Pem, KEY_KINDS, type CryptoKeyPair, type KeyKind } from './keys.js';
export {
  createCertificate,
  chainPem,
  ipAddressBytes,
  type CertificateOptions,
  type ExtendedKeyUsage,
  type Issued,
} from './certificate.js';
export { createOcspResponse, type OcspResponseOptions, type SingleResponseSpec } from './ocsp-response.js';
export { pemEncode, readCertificate, type CertificateParts, type HashName } from './der.js';
export { PkiError, type PkiErrorCode } from './errors.js';
