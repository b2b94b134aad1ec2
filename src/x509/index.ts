/**
 * The X.509 layer: a strict DER reader, certificate facts, signature checks, PEM and operator
 * input, and the chain path building probes judge a presented chain with. Pure functions over
 * bytes; no sockets, no clock (the caller passes the time).
 */
export { CertificateParseError, type CertificateParseErrorCode } from './errors.js';
export { certificateFacts, findIssuer, clearCertificateCache, MAX_CERTIFICATE_BYTES, OID_OCSP_SIGNING } from './certificate.js';
export { decodeCertificatesInput } from './input.js';
export { verifyChain, trustAnchorsFrom, systemTrustAnchors, type ChainVerdict } from './chain.js';
export type * from './types.js';
