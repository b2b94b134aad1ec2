/**
 * What commands need from the process, passed in so tests can run them in-process: output
 * streams and exit codes.
 */
import { CodedError } from '../util/errors.js';

export interface CommandIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIO: CommandIO = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

export const EXIT = {
  /** Valid and good (inspect, check), or the server stopped cleanly. */
  ok: 0,
  /** Parsed / probed, but not valid or not good. */
  notGood: 1,
  /** Input unreadable or unparseable, usage or configuration error. */
  unreadable: 2,
} as const;

/** A mistake in the command line: the message is printed with the usage hint, exit 2. */
export class UsageError extends CodedError<'ERR_USAGE'> {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}
