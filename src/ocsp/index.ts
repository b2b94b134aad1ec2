/**
 * The OCSP core: parse a DER OCSPResponse, read certificate facts, pick a leaf's issuer, verify a
 * staple against leaf + issuer, and decode operator input. Pure functions over bytes; no I/O, no
 * clock (the caller passes `now`).
 */
export { OcspParseError, CertificateParseError, type OcspParseErrorCode, type CertificateParseErrorCode } from './errors.js';
export { parseOcspResponse, MAX_OCSP_RESPONSE_BYTES, ID_PKIX_OCSP_BASIC } from './parse.js';
export { certificateFacts, findIssuer, clearCertificateCache, MAX_CERTIFICATE_BYTES, OID_OCSP_SIGNING } from '../x509/certificate.js';
export { verifyOcspResponse, clearVerificationCache, DEFAULT_CLOCK_SKEW_SECONDS, type VerifyOptions } from './verify.js';
export { decodeOcspResponseInput, decodeCertificatesInput } from './input.js';
export type * from './types.js';
export type { CertificateFacts } from '../x509/types.js';
