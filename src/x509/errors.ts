/**
 * The error of the X.509 layer: reading a certificate throws only {@link CertificateParseError},
 * with a stable `code`.
 */
import { CodedError } from '../util/errors.js';

export type CertificateParseErrorCode =
  /** Not a DER X.509 certificate (RFC 5280 §4.1), or no certificate in the input. */
  | 'ERR_CERT_MALFORMED'
  /** A single certificate larger than MAX_CERTIFICATE_BYTES. */
  | 'ERR_CERT_TOO_LARGE';

export class CertificateParseError extends CodedError<CertificateParseErrorCode> {
  override readonly name = 'CertificateParseError';
}
