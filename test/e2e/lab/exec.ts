/**
 * Runs short-lived command-line tools (openssl, faketime) for the lab and returns their output.
 * A non-zero exit becomes a `LabError` quoting the command line and stderr, so a failing
 * certificate or response generation says exactly which openssl invocation went wrong.
 */
import { execFile } from 'node:child_process';
import { LabError } from './errors.js';

export interface ExecResult {
  stdout: Buffer;
  stderr: string;
  /** 0 unless `allowFailure` let a failing exit through. */
  exitCode: number;
}

export interface ExecOptions {
  cwd?: string;
  /** Bytes written to the tool's stdin (then closed). */
  input?: Buffer | string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Resolve on a non-zero exit too (openssl ocsp exits 1 for a bad signature or tryLater). */
  allowFailure?: boolean;
}

/** Runs `file args...`; resolves with stdout as bytes, rejects with LAB_COMMAND_FAILED. */
export function run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        encoding: 'buffer',
        timeout: options.timeoutMs ?? 15_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const stderrText = stderr.toString('utf8');
        if (error && options.allowFailure && typeof error.code === 'number') {
          resolve({ stdout, stderr: stderrText, exitCode: error.code });
          return;
        }
        if (error) {
          reject(
            new LabError(
              'LAB_COMMAND_FAILED',
              `${[file, ...args].join(' ')} failed (${error.code ?? error.signal ?? 'error'}):\n${stderrText}${stdout.toString('utf8')}`,
              { cause: error },
            ),
          );
          return;
        }
        resolve({ stdout, stderr: stderrText, exitCode: 0 });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** `openssl args...` in `cwd`. */
export function openssl(args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return run('openssl', args, options);
}
