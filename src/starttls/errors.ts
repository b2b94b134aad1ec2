/**
 * Why a STARTTLS dialogue did not end in a TLS handshake. `ERR_STARTTLS_TIMEOUT` is the probe's
 * deadline passing mid-dialogue (reported as `timeout`); every other code is the server's doing
 * (reported as `starttls`).
 */
import { CodedError } from '../util/errors.js';
import { escapeForTerminal, excerptOf } from '../util/text.js';

export type StarttlsErrorCode =
  /** The server answered the upgrade command (or greeted) with a refusal. */
  | 'ERR_STARTTLS_REFUSED'
  /** The server's capabilities do not include the upgrade. */
  | 'ERR_STARTTLS_NOT_OFFERED'
  /** The server's bytes are not the protocol's (or it said something after its go-ahead). */
  | 'ERR_STARTTLS_PROTOCOL'
  /** A line or the whole dialogue exceeded its byte bound. */
  | 'ERR_STARTTLS_TOO_LARGE'
  /** The server closed (or reset) the connection mid-dialogue. */
  | 'ERR_STARTTLS_CLOSED'
  /** The probe's deadline passed mid-dialogue. */
  | 'ERR_STARTTLS_TIMEOUT';

export class StarttlsError extends CodedError<StarttlsErrorCode> {}

const MAX_QUOTED_CHARS = 200;

/**
 * A server's words for an error message: at most 200 characters, in double quotes, line breaks
 * written `\r` `\n` and every other terminal-unsafe character escaped (util/text.ts), so a hostile
 * answer can neither forge log or report lines nor flood them.
 */
export function quoteAnswer(text: string): string {
  const excerpt = excerptOf(text, MAX_QUOTED_CHARS).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  return `"${escapeForTerminal(excerpt)}"`;
}
