/**
 * The one error base class (panva/jose style): everything the exporter throws on bad input is a
 * {@link CodedError} with a stable `code`, so callers and tests switch on the code, never on the
 * message. Each layer names its own subclass and codes; `{ cause }` is kept.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The message of anything thrown: an Error's, an object's `message`, else the value as text. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}

/**
 * The message with the system error code in front when the message does not already say it
 * (`ECONNREFUSED: connect ECONNREFUSED …` stays, `ECONNRESET: socket hang up`); `clean` rewrites
 * the message first (OpenSSL's, see probe/tls.ts).
 */
export function messageWithCode(error: unknown, clean: (message: string) => string = (m) => m): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = clean(messageOf(error));
  return typeof code === 'string' && code !== '' && !message.includes(code) ? `${code}: ${message}` : message;
}
