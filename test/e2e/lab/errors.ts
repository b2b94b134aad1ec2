/**
 * Errors raised by the end-to-end lab. Every failure of the harness itself (a binary missing, a
 * server that never became ready, a port taken, an openssl command that failed) is a `LabError`
 * with a stable `code`, and its message carries the evidence (stderr, error log) so a red CI run
 * can be diagnosed from the test output alone.
 */

export type LabErrorCode =
  | 'LAB_BINARY_MISSING'
  | 'LAB_COMMAND_FAILED'
  | 'LAB_PORT_IN_USE'
  | 'LAB_NOT_READY'
  | 'LAB_PROCESS_EXITED'
  | 'LAB_TIMEOUT'
  | 'LAB_BAD_OUTPUT';

export class LabError extends Error {
  override readonly name = 'LabError';
  constructor(
    readonly code: LabErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}
