/**
 * The one error class of the in-memory PKI builder. Everything it rejects (contradictory options,
 * a key it cannot use, a certificate it cannot read) is a {@link PkiError} with a stable `code`,
 * so callers and tests switch on the code rather than on message text.
 */

export type PkiErrorCode =
  /** An option is missing, malformed or contradicts another (e.g. rsaPss with an EC signer). */
  | 'ERR_PKI_INVALID_OPTION'
  /** A key that is not one of the supported kinds, or not extractable. */
  | 'ERR_PKI_UNSUPPORTED_KEY'
  /** DER given as a certificate could not be read as one. */
  | 'ERR_PKI_BAD_CERTIFICATE';

export class PkiError extends Error {
  override readonly name = 'PkiError';
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
