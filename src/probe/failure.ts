/**
 * Failures as data: the one shape of a failed result, and the wrapper that keeps a probe's promise
 * never to throw. Every layer that cannot or will not run a probe (a sweep out of time, a dead or
 * missing worker, a full or closed pool) answers with {@link failedResult}, so a failure is a
 * series and a log line like any other result, never an exception.
 */
import type { TargetConfig } from '../config/schema.js';
import { formatAddress } from '../net/resolve.js';
import { messageOf } from '../util/errors.js';
import type { FailureReason, ProbeFn, ProbeResult } from './types.js';

/** What a result is about and when its probe started: the fields that precede the outcome. */
export type ResultSubject = Pick<ProbeResult, 'target' | 'address' | 'module' | 'serverName' | 'labels' | 'startedAtMs'>;

/**
 * The subject of a result about a target as configured, for when none of its addresses was
 * probed: the address is `host:port`, the server name the configured one.
 */
export function subjectOf(target: TargetConfig, startedAtMs: number): ResultSubject {
  return {
    target: target.target,
    address: formatAddress(target.host, target.port),
    module: target.module,
    serverName: target.serverName,
    labels: target.labels,
    startedAtMs,
  };
}

/** A result reporting that nothing could be judged: no TLS facts, no chain, no leaf, no staple. */
export function failedResult(subject: ResultSubject, reason: FailureReason, error: string, durationSeconds = 0): ProbeResult {
  return {
    ...subject,
    success: false,
    failureReason: reason,
    error,
    durationSeconds,
    tls: null,
    chain: null,
    leaf: null,
    staple: null,
  };
}

/**
 * `probe` with its promise enforced: should it throw anyway (a bug of ours), the caller gets an
 * `internal` failure "probe threw: <message>" instead of a rejection, so no caller needs a catch
 * of its own. `now` is the clock the failure's start and duration are taken from.
 */
export function neverThrows(probe: ProbeFn, now: () => number = Date.now): ProbeFn {
  return async (target, module, deadlineMs) => {
    const startedAtMs = now();
    try {
      return await probe(target, module, deadlineMs);
    } catch (error) {
      const subject = subjectOf({ ...target, module: module.name }, startedAtMs);
      return [failedResult(subject, 'internal', `probe threw: ${messageOf(error)}`, (now() - startedAtMs) / 1000)];
    }
  };
}
