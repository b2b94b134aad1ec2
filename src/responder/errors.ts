/**
 * Errors of the responder client. Only request building throws ({@link ResponderError}); asking a
 * responder never throws: a failed exchange is a {@link ResponderProblem} in the result, the same
 * way a bad staple is an OcspProblem in its verdict.
 */
import { CodedError } from '../util/errors.js';

export type ResponderErrorCode =
  /** The leaf or issuer certificate could not be read, so no CertID can be built. */
  'ERR_RESPONDER_BAD_CERTIFICATE';

export class ResponderError extends CodedError<ResponderErrorCode> {
  override readonly name = 'ResponderError';
}
