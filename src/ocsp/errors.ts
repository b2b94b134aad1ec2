/**
 * Error classes of the OCSP core. Bad input is reported with a stable `code` (panva/jose style):
 * callers and tests switch on the code, never on the message. Parsing an OCSP response throws only
 * {@link OcspParseError} (reading a certificate throws x509's CertificateParseError).
 * Verification never throws: its failures are named problems in the verdict.
 */
import { CodedError } from '../util/errors.js';

export type OcspParseErrorCode =
  /** More than MAX_OCSP_RESPONSE_BYTES (64 KiB): no real staple is that big. */
  | 'ERR_OCSP_TOO_LARGE'
  /** Zero bytes (or only whitespace, for text input). */
  | 'ERR_OCSP_EMPTY'
  /** Not a DER OCSPResponse (RFC 6960 §4.2.1): truncated, wrong type, bad lengths, bad times... */
  | 'ERR_OCSP_MALFORMED'
  /** Well-formed but outside what RFC 6960 defines (unknown version or status). */
  | 'ERR_OCSP_UNSUPPORTED';

export class OcspParseError extends CodedError<OcspParseErrorCode> {
  override readonly name = 'OcspParseError';
}
