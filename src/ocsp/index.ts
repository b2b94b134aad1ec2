/**
 * The OCSP core: parse a DER OCSPResponse, verify a staple against leaf + issuer, and decode
 * operator input. Pure functions over bytes; no I/O, no clock (the caller passes `now`).
 * Certificates are read by the X.509 layer (src/x509/).
 */
export { OcspParseError, type OcspParseErrorCode } from './errors.js';
export { parseOcspResponse, MAX_OCSP_RESPONSE_BYTES, ID_PKIX_OCSP_BASIC } from './parse.js';
export { verifyOcspResponse, clearVerificationCache, DEFAULT_CLOCK_SKEW_SECONDS, type VerifyOptions } from './verify.js';
export { decodeOcspResponseInput } from './input.js';
export type * from './types.js';
