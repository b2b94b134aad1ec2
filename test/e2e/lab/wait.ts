/**
 * Polling with a deadline. Everything in the lab that waits (a server becoming ready, nginx
 * fetching its first staple, the responder reloading its index) goes through `waitFor`, so every
 * wait is bounded and a timeout says what was awaited and what was last seen.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from './errors.js';

export interface WaitOptions {
  /** Delay between attempts, ms (default 50). */
  intervalMs?: number;
  /** Words for the timeout message: "timed out waiting for <what>". */
  what?: string;
  /** Extra text for the timeout message (e.g. a server's error log), computed on failure. */
  diagnostics?: () => string;
  /** Checked before each attempt; a non-null string aborts the wait at once with that reason. */
  abortIf?: () => string | null;
}

/**
 * Calls `predicate` until it returns a value other than `undefined`/`false`/`null` and resolves
 * with that value. Exceptions thrown by the predicate count as "not yet" (the last one is quoted
 * on timeout). Rejects with LAB_TIMEOUT after `timeoutMs`.
 */
export async function waitFor<T>(
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs: number,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const interval = options.intervalMs ?? 50;
  let lastError: unknown = null;
  for (;;) {
    const abort = options.abortIf?.();
    if (abort) {
      throw new LabError('LAB_PROCESS_EXITED', `${abort} while waiting for ${options.what ?? 'a condition'}${extra(options)}`);
    }
    try {
      const value = await predicate();
      if (value !== undefined && value !== null && value !== false) return value;
      lastError = null;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const last = lastError ? `; last error: ${(lastError as Error).message ?? String(lastError)}` : '';
      throw new LabError('LAB_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}${last}${extra(options)}`);
    }
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}

function extra(options: WaitOptions): string {
  return options.diagnostics ? `\n${options.diagnostics()}` : '';
}
