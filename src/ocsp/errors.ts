/**
 * Error classes of the OCSP core. Bad input is reported with a stable `code` (panva/jose style):
 * callers and tests switch on the code, never on the message. Parsing an OCSP response throws only
 * {@link OcspParseError}; reading a certificate throws only {@link CertificateParseError}.
 * Verification never throws: its failures are named problems in the verdict.
 */

export type OcspParseErrorCode =
  /** More than MAX_OCSP_RESPONSE_BYTES (64 KiB): no real staple is that big. */
  | 'ERR_OCSP_TOO_LARGE'
  /** Zero bytes (or only whitespace, for text input). */
  | 'ERR_OCSP_EMPTY'
  /** Not a DER OCSPResponse (RFC 6960 §4.2.1): truncated, wrong type, bad lengths, bad times... */
  | 'ERR_OCSP_MALFORMED'
  /** Well-formed but outside what RFC 6960 defines (unknown version or status). */
  | 'ERR_OCSP_UNSUPPORTED';

export class OcspParseError extends Error {
  override readonly name = 'OcspParseError';
  readonly code: OcspParseErrorCode;

  constructor(code: OcspParseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export type CertificateParseErrorCode =
  /** Not a DER X.509 certificate (RFC 5280 §4.1), or no certificate in the input. */
  | 'ERR_CERT_MALFORMED'
  /** A single certificate larger than MAX_CERTIFICATE_BYTES. */
  | 'ERR_CERT_TOO_LARGE';

export class CertificateParseError extends Error {
  override readonly name = 'CertificateParseError';
  readonly code: CertificateParseErrorCode;

  constructor(code: CertificateParseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
