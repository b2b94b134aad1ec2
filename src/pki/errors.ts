/**
 * The one error class of the in-memory PKI builder. Everything it rejects (contradictory options,
 * a key it cannot use, a certificate it cannot read) is a {@link PkiError} with a stable `code`,
 * so callers and tests switch on the code rather than on message text.
 */
import { CodedError } from '../util/errors.js';

export type PkiErrorCode =
  /** An option is missing, malformed or contradicts another (e.g. rsaPss with an EC signer). */
  | 'ERR_PKI_INVALID_OPTION'
  /** A key that is not one of the supported kinds, or not extractable. */
  | 'ERR_PKI_UNSUPPORTED_KEY'
  /** DER given as a certificate could not be read as one. */
  | 'ERR_PKI_BAD_CERTIFICATE';

export class PkiError extends CodedError<PkiErrorCode> {
  override readonly name = 'PkiError';
}
