/**
 * The one error the configuration layer throws. A config file can be wrong in several places at
 * once, and `--config.check` should show all of them in one run, so a `ConfigError` carries every
 * problem found, each naming the file, the line (when known) and the key path, as
 * `config.yaml:12: modules.strict.timeout: invalid duration "10 seconds" (...)`. Callers switch on
 * `code`; the message is the problems, one per line, ready to print.
 */
import { CodedError } from '../util/errors.js';

export interface ConfigProblem {
  /** The config file as the user named it (or the file a key points at, when that is the problem). */
  file: string;
  /** 1-based line of the offending node; null when no line applies (e.g. the file is unreadable). */
  line: number | null;
  /** Key path inside the document: `global.concurrency`, `targets[0].module`; `''` for the whole file. */
  path: string;
  message: string;
}

/** `file:line: path: message`, leaving out the parts that are unknown or empty. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line === null ? problem.file : `${problem.file}:${problem.line}`;
  return problem.path === '' ? `${where}: ${problem.message}` : `${where}: ${problem.path}: ${problem.message}`;
}

export class ConfigError extends CodedError<'ERR_CONFIG_INVALID'> {
  override readonly name = 'ConfigError';
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], options?: { cause?: unknown }) {
    if (problems.length === 0) throw new TypeError('ConfigError needs at least one problem');
    super('ERR_CONFIG_INVALID', problems.map(formatProblem).join('\n'), options);
    this.problems = problems;
  }

  /** Alias of `problems`. */
  get errors(): ConfigProblem[] {
    return this.problems;
  }
}
