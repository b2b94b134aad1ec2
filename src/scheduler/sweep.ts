/**
 * The sweep: every configured static target probed once, at most `concurrency` at a time, for one
 * /metrics scrape. Pure orchestration, no HTTP and no sockets: results younger than
 * `global.min_probe_interval` are reused per (target, module), scrapes that arrive while a sweep
 * runs share it (single-flight, so N Prometheus replicas never cause N sweeps), and each probe's
 * deadline is the earlier of the scrape's deadline and the module's timeout, so one dead target
 * shows up as a timed-out probe instead of making the scrape itself time out.
 */
import { hash } from 'node:crypto';
import type { Config, ModuleConfig, TargetConfig } from '../config/schema.js';
import { failedResult, neverThrows, subjectOf } from '../probe/failure.js';
import type { LookupFn } from '../net/resolve.js';
import type { ProbeFn, ProbeResult } from '../probe/types.js';
import { probeInSlots, type SlottedOutcome, type SlottedProbe } from './probe-in-slots.js';
import { createProbeSlots, type ProbeSlots } from './slots.js';

/** Re-exported for callers that still import the probe's type from here; it belongs to probe/. */

export interface SweeperOptions {
  probe: ProbeFn;
  /** Clock, Unix ms: ages of cached results, probe deadlines and the sweep duration. */
  now: () => number;
  /** Probe slots, `global.concurrency` of them, shared with /probe; created from `concurrency` when absent. */
  slots?: ProbeSlots;
  /** Used only when no `slots` are given. */
  concurrency?: number;
  /** Resolver for `probe_all_addresses` targets, whose addresses take a slot each; default the system's. */
  lookup?: LookupFn;
}

export interface SweepStats {
  startedAtMs: number;
  durationSeconds: number;
  /** Targets probed afresh in the sweep. */
  probed: number;
  /** Targets whose earlier result was reused. */
  reused: number;
}

export interface Sweeper {
  /**
   * Results for every target of `config`, in config order (duplicates of a (target, module) pair
   * reported once). `deadlineMs` is the Unix ms by which the scrape needs an answer; `Infinity`
   * leaves each probe its module's timeout. Joins the sweep in flight, if any; a caller whose
   * deadline is earlier than that sweep's gets, at its own deadline, the results finished by then
   * and `timeout` failures for the rest (the sweep itself runs on). Never rejects.
   */
  sweep(config: Config, deadlineMs: number): Promise<ProbeResult[]>;
  readonly lastSweep: SweepStats | null;
  readonly inFlight: boolean;
  /**
   * What the sweeps found last, per (target, module) in config order, without probing: each
   * target's entry is replaced as soon as a sweep finishes it. Empty before the first sweep; the
   * targets a reload removed drop out when the next sweep ends. For the status page.
   */
  latestResults(): readonly ProbeResult[];
  /** The probe slots (`global.concurrency`); /probe takes its probes' slots from here too. */
  readonly limit: ProbeSlots;
}

/** The sweep in flight: what joiners share, and what is known so far for those who cannot wait. */
interface RunningSweep {
  promise: Promise<ProbeResult[]>;
  deadlineMs: number;
  /** Unique targets in config order. */
  targets: [string, TargetConfig][];
  /** Results of the targets finished so far. */
  done: Map<string, ProbeResult[]>;
}

interface CacheEntry {
  /** What the result was probed with; a reload that changes the target or its module invalidates it. */
  fingerprint: string;
  /** When the probe started: the age of a measurement counts from when it was taken. */
  probedAtMs: number;
  results: ProbeResult[];
}

/** The identity of a static target: one cache slot and one set of series per pair. */
export function sweepKey(target: string, module: string): string {
  return `${module}\u0000${target}`;
}

const fingerprints = new WeakMap<TargetConfig, { module: ModuleConfig; fingerprint: string }>();
const moduleFingerprints = new WeakMap<ModuleConfig, string>();

/**
 * What a reused result must have been probed with: the target and its module, by value, so a
 * reload that changes either probes again. Memoised per config object, because serialising every
 * target on every scrape cost ~40 ms at 10,000 targets (docs/performance.md). The module enters as
 * a hash of its JSON: with a CA file inlined it is kilobytes, which every target's fingerprint
 * repeated (~20 MB at 10,000 targets).
 */
function fingerprintOf(target: TargetConfig, module: ModuleConfig): string {
  const memo = fingerprints.get(target);
  if (memo && memo.module === module) return memo.fingerprint;
  let moduleFingerprint = moduleFingerprints.get(module);
  if (moduleFingerprint === undefined) {
    moduleFingerprint = hash('sha256', JSON.stringify(module), 'base64');
    moduleFingerprints.set(module, moduleFingerprint);
  }
  const fingerprint = `${moduleFingerprint} ${JSON.stringify(target)}`;
  fingerprints.set(target, { module, fingerprint });
  return fingerprint;
}

/** Each (target, module) pair once, in config order. */
function uniqueTargets(config: Config): [string, TargetConfig][] {
  const unique = new Map<string, TargetConfig>();
  for (const target of config.targets) {
    const key = sweepKey(target.target, target.module);
    if (!unique.has(key)) unique.set(key, target);
  }
  return [...unique];
}

/** The cache an earlier sweep left, and the one this sweep builds (only targets still configured). */
interface Generation {
  startedAtMs: number;
  /** Results younger than this are reused (`global.min_probe_interval`). */
  minAgeMs: number;
  previous: Map<string, CacheEntry>;
  next: Map<string, CacheEntry>;
  probed: number;
  reused: number;
}

/** The earlier result of `key`, when it was probed with the same settings and is young enough. */
function reusable(generation: Generation, key: string, fingerprint: string): CacheEntry | null {
  const cached = generation.previous.get(key);
  const fresh = cached && cached.fingerprint === fingerprint && generation.startedAtMs - cached.probedAtMs < generation.minAgeMs;
  return fresh ? cached : null;
}

/** Records a slot's outcome in the next generation of the cache. */
function keep(generation: Generation, key: string, fingerprint: string, outcome: SlottedOutcome): void {
  const cached = generation.previous.get(key);
  if (outcome.measured) {
    generation.next.set(key, { fingerprint, probedAtMs: outcome.probedAtMs, results: outcome.results });
    // The older result is let go now, not at the end of the sweep: otherwise a sweep holds two
    // generations of results (and of their rendered text), ~60 MB more at 10,000 targets.
    generation.previous.delete(key);
    generation.probed++;
  } else if (cached) {
    // Not a measurement: keep the older result for the next scrape to judge.
    generation.next.set(key, cached);
  }
}

/** What a sweep started earlier has finished, and `timeout` failures for the targets it has not. */
function partialResults(running: RunningSweep, atMs: number): ProbeResult[] {
  return running.targets.flatMap(
    ([key, target]) =>
      running.done.get(key) ?? [
        failedResult(subjectOf(target, atMs), 'timeout', 'still being probed by a sweep started earlier with a longer deadline'),
      ],
  );
}

/**
 * A scrape with a shorter timeout than the one that started the sweep (a curl without the
 * header, an HA pair with different timeouts) must still answer in time: at its own deadline
 * it takes what is finished and reports the rest as timed out.
 */
function joinUntil(running: RunningSweep, deadlineMs: number, now: () => number): Promise<ProbeResult[]> {
  return new Promise<ProbeResult[]>((resolve) => {
    const timer = setTimeout(() => resolve(partialResults(running, now())), Math.max(0, deadlineMs - now()));
    void running.promise.then((results) => {
      clearTimeout(timer);
      resolve(results);
    });
  });
}

export function createSweeper(options: SweeperOptions): Sweeper {
  const { now } = options;
  // probeTarget promises never to throw; if it does anyway, that is our bug, reported as data.
  const probe = neverThrows(options.probe, now);
  const limit = options.slots ?? createProbeSlots(options.concurrency ?? 1, now);
  const slotted: SlottedProbe = {
    probe,
    now,
    ...(options.lookup ? { lookup: options.lookup } : {}),
    noSlotError: 'no probe slot free before the scrape deadline (global.concurrency)',
  };
  let cache = new Map<string, CacheEntry>();
  let current: RunningSweep | null = null;
  let lastSweep: SweepStats | null = null;
  let latest = new Map<string, ProbeResult[]>();

  /** One target's results: reused, probed afresh, or why neither was possible. */
  async function resultsFor(config: Config, generation: Generation, key: string, target: TargetConfig, deadlineMs: number): Promise<ProbeResult[]> {
    const module = config.modules[target.module];
    if (!module) {
      return [failedResult(subjectOf(target, generation.startedAtMs), 'internal', `module "${target.module}" is not configured`)];
    }
    const fingerprint = fingerprintOf(target, module);
    const cached = reusable(generation, key, fingerprint);
    if (cached) {
      generation.next.set(key, cached);
      generation.reused++;
      return cached.results;
    }
    // Queued behind `concurrency` others until the deadline, a probe is answered then as a timeout
    // without being started: starting later would leave a DNS lookup running that nobody waits for.
    const outcome = await probeInSlots(slotted, limit, target, module, deadlineMs);
    keep(generation, key, fingerprint, outcome);
    return outcome.results;
  }

  async function run(config: Config, deadlineMs: number, sweep: Omit<RunningSweep, 'promise'>): Promise<ProbeResult[]> {
    const generation: Generation = {
      startedAtMs: now(),
      minAgeMs: config.global.minProbeIntervalSeconds * 1000,
      previous: cache,
      next: new Map(),
      probed: 0,
      reused: 0,
    };
    const perTarget = await Promise.all(
      sweep.targets.map(async ([key, target]) => {
        const results = await resultsFor(config, generation, key, target, deadlineMs);
        sweep.done.set(key, results);
        latest.set(key, results);
        return results;
      }),
    );
    latest = new Map(sweep.targets.map(([key]) => [key, sweep.done.get(key) ?? []]));
    // Targets no longer configured are dropped here, so their series disappear.
    cache = generation.next;
    const { startedAtMs, probed, reused } = generation;
    lastSweep = { startedAtMs, durationSeconds: (now() - startedAtMs) / 1000, probed, reused };
    return perTarget.flat();
  }

  function start(config: Config, deadlineMs: number): Promise<ProbeResult[]> {
    const state = { deadlineMs, targets: uniqueTargets(config), done: new Map<string, ProbeResult[]>() };
    const running: RunningSweep = {
      ...state,
      promise: run(config, deadlineMs, state).finally(() => {
        if (current === running) current = null;
      }),
    };
    current = running;
    return running.promise;
  }

  return {
    sweep(config, deadlineMs) {
      const running = current;
      if (!running) return start(config, deadlineMs);
      if (deadlineMs >= running.deadlineMs) return running.promise;
      return joinUntil(running, deadlineMs, now);
    },
    get lastSweep() {
      return lastSweep;
    },
    get inFlight() {
      return current !== null;
    },
    latestResults() {
      return [...latest.values()].flat();
    },
    limit,
  };
}
