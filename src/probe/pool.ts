/**
 * A pool of worker threads that run `probeTarget`, so probing uses every core. The cost of a probe
 * is OpenSSL's client handshake (~1.5 ms of CPU each, see NOTES.md): a single thread tops out
 * around 700–950 handshakes/s, below what a Go prober reaches on two cores, so the handshakes
 * themselves must run on several threads. Each worker does its own handshakes and keeps its own
 * per-module TLS contexts; the pool sends each module once per config version (a new config
 * object is a new version), not with every probe, and gets plain results back by structured clone.
 *
 * Probes go to the worker with the fewest in flight. A worker that dies (uncaught exception,
 * out of memory, failed start) or stops answering well past its probes' deadlines turns each
 * of its probes into a failed result with reason `internal` and is replaced; the pool never throws
 * and never hangs a probe. The number of probes in flight is bounded (`maxPending`): beyond it a
 * probe is answered at once as failed instead of queueing without limit.
 */
import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits, type WorkerOptions } from 'node:worker_threads';
import type { ModuleConfig } from '../config/schema.js';
import { localAnswers, sharedAnswerCache, type AnswerQuery, type AnswerReply } from '../responder/check.js';
import { syntheticFailure, type ProbeFn } from '../scheduler/sweep.js';
import { BoundedCache } from '../util/cache.js';
import type { CertificateFacts } from '../x509/types.js';
import type { ProbeResult, ProbeTarget } from './types.js';
import { messageOf } from '../util/errors.js';

/** Main thread → worker. `answer` replies to a worker's `answer-query` (responder checks). */
export type ToWorker =
  | { type: 'module'; id: number; module: ModuleConfig }
  | { type: 'forget'; id: number }
  | { type: 'answer'; id: number; reply: AnswerReply | null; error: string | null }
  | ProbeRequest;

export interface ProbeRequest {
  type: 'probe';
  seq: number;
  target: ProbeTarget;
  moduleId: number;
  deadlineMs: number;
}

/** Worker → main thread. `ready` once its modules are loaded, before any result. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; seq: number; results: ProbeResult[] }
  | { type: 'failed'; seq: number; error: string }
  | { type: 'answer-query'; id: number; query: AnswerQuery };

/**
 * Responder answers for every worker come from the main thread's cache (src/responder/), so probes
 * on different threads of one certificate still cost its CA one request per answer lifetime.
 */
const mainThreadAnswers = localAnswers(sharedAnswerCache);

export interface ProbePoolOptions {
  /** Worker threads. Default `os.availableParallelism()`. */
  workers?: number;
  /** Probes in flight at once, over all workers; more are answered at once as failed (`internal`). Default 10,000. */
  maxPending?: number;
  /**
   * How long past a probe's deadline its worker may stay silent before it is presumed stuck,
   * terminated and replaced. Default 5,000 ms.
   */
  stuckGraceMs?: number;
  /** How long `close()` lets probes in flight finish before terminating the workers. Default 15,000 ms. */
  closeTimeoutMs?: number;
  /** Worker entry module. Default `./worker.js` next to this file (`./worker.ts` when running from sources). */
  workerScript?: URL;
  /** V8 heap limits of each worker (see `Worker`'s `resourceLimits`). Default {@link DEFAULT_WORKER_LIMITS}. */
  resourceLimits?: ResourceLimits;
}

export interface ProbePoolStats {
  /** Workers running now. */
  workers: number;
  /** Probes in flight. */
  pending: number;
  /** Probes answered since the pool started (failures included). */
  completed: number;
  /** Workers that died or were terminated as stuck, and so were replaced. */
  replaced: number;
  /** Probes refused because `maxPending` were in flight. */
  rejected: number;
  /** Module definitions posted to workers: one per worker and config version, not one per probe. */
  modulesSent: number;
}

export interface ProbePool {
  /** Same contract as `probeTarget`: never throws, one result per probed address. */
  readonly probe: ProbeFn;
  /** Number of worker threads the pool keeps running. */
  readonly size: number;
  stats(): ProbePoolStats;
  /**
   * Refuses new probes, lets those in flight finish (up to `closeTimeoutMs`), then stops every
   * worker; probes still in flight then are answered as failed. Idempotent.
   */
  close(): Promise<void>;
}

interface Pending {
  target: ProbeTarget;
  moduleName: string;
  startedAtMs: number;
  resolve: (results: ProbeResult[]) => void;
  watchdog: NodeJS.Timeout;
}

interface Slot {
  index: number;
  worker: Worker;
  pending: Map<number, Pending>;
  /** Module ids this worker has been sent (a replacement worker starts empty). */
  known: Set<number>;
  /** Loaded and listening; probes go to starting workers only when no worker is ready. */
  ready: boolean;
  /** Why the worker is going away, reported for each of its probes; null while healthy. */
  failure: string | null;
  exited: Promise<void>;
}

const MAX_WORKERS = 256;

/**
 * A probe's garbage is small and short-lived, but with V8's default (process-sized) limits each
 * worker's heap grows lazily to ~100 MB over a few thousand probes. Small limits make the workers
 * collect early: measured over 4,000 probes on two workers, the process grew by 19–30 MB instead of
 * 80–92 MB, with no more CPU per probe. A worker that does run out of heap dies and is replaced,
 * its probes reported as `internal` failures, like any other crash.
 */
export const DEFAULT_WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };

/**
 * Results from a worker arrive as copies. The facts of one leaf are the same for every address that
 * presents it (they derive from its DER alone, keyed by its SHA-256), and in-process results share
 * one frozen object per certificate (`certificateFacts`); this shares them again on arrival, so
 * 10,000 addresses behind a few certificates do not keep 10,000 copies (~1 KB of heap each).
 */
const sharedLeafFacts = new BoundedCache<string, CertificateFacts>(4096);

function shareLeafFacts(results: ProbeResult[]): ProbeResult[] {
  for (const result of results) {
    const leaf = result.leaf;
    if (!leaf) continue;
    const known = sharedLeafFacts.get(leaf.fingerprintSha256);
    if (known) result.leaf = known;
    else sharedLeafFacts.set(leaf.fingerprintSha256, Object.freeze(leaf));
  }
  return results;
}

/** Consecutive crashes back off the respawn up to this, so a worker that cannot start does not spin. */
const MAX_RESPAWN_DELAY_MS = 30_000;

/** Where the worker module is and how to start it, from dist/ (compiled JS) or from TS sources. */
function defaultWorkerScript(): URL {
  const fromSources = import.meta.url.endsWith('.ts');
  return new URL(fromSources ? './worker.ts' : './worker.js', import.meta.url);
}

/**
 * Worker threads do not inherit the main thread's TypeScript loader, and `execArgv: ['--import',
 * 'tsx']` does not apply to a worker's entry module on Node 20; so a `.ts` worker starts from a
 * bootstrap that registers tsx first and then imports the module.
 */
function startWorker(script: URL, resourceLimits: ResourceLimits | undefined): Worker {
  const options = { ...workerExecArgv(), ...(resourceLimits ? { resourceLimits } : {}) };
  if (!script.pathname.endsWith('.ts')) return newWorker(script, options);
  let tsxApi = 'tsx/esm/api';
  try {
    tsxApi = import.meta.resolve(tsxApi);
  } catch {
    // Some test runners lack import.meta.resolve: the bare name then resolves from the cwd.
  }
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(script.href)}); });`;
  return newWorker(bootstrap, { eval: true, ...options });
}

/**
 * A worker inherits the process' node options by default, V8 flags included (`node
 * --max-old-space-size=512 …` is common in deployments). Given explicitly, V8 flags are refused
 * (ERR_WORKER_INVALID_EXEC_ARGV), so the list is given only to drop `--input-type` (set by `node
 * --input-type=module -e`), which a worker started from a file refuses.
 */
function workerExecArgv(): { execArgv?: string[] } {
  const kept = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
  return kept.length === process.execArgv.length ? {} : { execArgv: kept };
}

/** `new Worker`; if the options given explicitly are refused (V8 flags beside `--input-type`), with none. */
function newWorker(script: URL | string, options: WorkerOptions): Worker {
  try {
    return new Worker(script, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(script, { ...options, execArgv: [] });
  }
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`createProbePool: ${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

export function createProbePool(options: ProbePoolOptions = {}): ProbePool {
  const size = positiveInteger('workers', options.workers ?? availableParallelism(), MAX_WORKERS);
  const maxPending = positiveInteger('maxPending', options.maxPending ?? 10_000);
  const stuckGraceMs = options.stuckGraceMs ?? 5_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 15_000;
  const script = options.workerScript ?? defaultWorkerScript();

  const slots: (Slot | null)[] = new Array<Slot | null>(size).fill(null);
  const moduleIds = new WeakMap<ModuleConfig, number>();
  let nextModuleId = 1;
  let nextSeq = 1;
  let pendingCount = 0;
  let completed = 0;
  let replaced = 0;
  let rejected = 0;
  let modulesSent = 0;
  let consecutiveCrashes = 0;
  let closing: Promise<void> | null = null;
  const respawnTimers = new Set<NodeJS.Timeout>();
  let drained: (() => void) | null = null;

  // A config version that is no longer referenced anywhere is dropped from the workers too, so
  // reloads do not pile up TLS contexts in them.
  const forgetModule = new FinalizationRegistry<number>((id) => {
    for (const slot of slots) {
      if (slot && slot.known.delete(id)) slot.worker.postMessage({ type: 'forget', id } satisfies ToWorker);
    }
  });

  function moduleIdOf(module: ModuleConfig): number {
    let id = moduleIds.get(module);
    if (id === undefined) {
      id = nextModuleId++;
      moduleIds.set(module, id);
      forgetModule.register(module, id);
    }
    return id;
  }

  function spawn(index: number): void {
    const worker = startWorker(script, options.resourceLimits ?? DEFAULT_WORKER_LIMITS);
    worker.unref(); // referenced only while it has probes in flight (see settle/dispatch)
    let lastError: string | null = null;
    let exited!: () => void;
    const slot: Slot = {
      index,
      worker,
      pending: new Map(),
      known: new Set(),
      ready: false,
      failure: null,
      exited: new Promise<void>((resolve) => {
        exited = resolve;
      }),
    };
    slots[index] = slot;

    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        slot.ready = true;
        return;
      }
      if (message.type === 'answer-query') {
        const send = (reply: AnswerReply | null, error: string | null): void =>
          slot.worker.postMessage({ type: 'answer', id: message.id, reply, error } satisfies ToWorker);
        mainThreadAnswers(message.query).then(
          (reply) => send(reply, null),
          (error: unknown) => send(null, messageOf(error)),
        );
        return;
      }
      const entry = slot.pending.get(message.seq);
      if (!entry) return; // already failed by the watchdog
      consecutiveCrashes = 0;
      if (message.type === 'result') settle(slot, message.seq, shareLeafFacts(message.results));
      else settle(slot, message.seq, [failure(entry, message.error)]);
    });
    worker.on('error', (error) => {
      lastError = messageOf(error);
    });
    worker.on('exit', (code) => {
      if (slots[index] === slot) slots[index] = null;
      const why = slot.failure ?? `probe worker exited (code ${code})${lastError ? `: ${lastError}` : ''}`;
      for (const [seq, entry] of [...slot.pending]) settle(slot, seq, [failure(entry, why)]);
      exited();
      if (closing) return;
      replaced++;
      consecutiveCrashes++;
      // The first replacement starts at once; a worker that keeps dying is restarted ever more slowly.
      if (consecutiveCrashes <= 1) {
        spawn(index);
        return;
      }
      const delay = Math.min(MAX_RESPAWN_DELAY_MS, 100 * 2 ** (consecutiveCrashes - 2));
      const timer = setTimeout(() => {
        respawnTimers.delete(timer);
        if (!closing && slots[index] === null) spawn(index);
      }, delay);
      timer.unref();
      respawnTimers.add(timer);
    });
  }

  function failure(entry: Pending, error: string): ProbeResult {
    const target = { ...entry.target, module: entry.moduleName };
    return syntheticFailure(target, 'internal', error, entry.startedAtMs, (Date.now() - entry.startedAtMs) / 1000);
  }

  function settle(slot: Slot, seq: number, results: ProbeResult[]): void {
    const entry = slot.pending.get(seq);
    if (!entry) return;
    slot.pending.delete(seq);
    clearTimeout(entry.watchdog);
    pendingCount--;
    completed++;
    if (slot.pending.size === 0) slot.worker.unref();
    entry.resolve(results);
    if (pendingCount === 0 && drained) drained();
  }

  /** The ready worker with the fewest probes in flight; a starting one only when none is ready. */
  function pickSlot(): Slot | null {
    let best: Slot | null = null;
    for (const slot of slots) {
      if (!slot || slot.failure !== null) continue;
      const better = !best || (slot.ready && !best.ready) || (slot.ready === best.ready && slot.pending.size < best.pending.size);
      if (better) best = slot;
    }
    return best;
  }

  /** Terminates a worker that stopped answering; its exit handler fails its probes. */
  function presumeStuck(slot: Slot, silentMs: number): void {
    if (slot.failure !== null) return;
    slot.failure = `probe worker unresponsive ${Math.round(silentMs)} ms past a probe deadline; worker restarted`;
    void slot.worker.terminate();
  }

  const probe: ProbeFn = (target, module, deadlineMs) => {
    const startedAtMs = Date.now();
    const refuse = (error: string): Promise<ProbeResult[]> =>
      Promise.resolve([syntheticFailure({ ...target, module: module.name }, 'internal', error, startedAtMs)]);
    if (closing) return refuse('probe pool is closed');
    if (pendingCount >= maxPending) {
      rejected++;
      return refuse(`probe pool full: ${pendingCount} probes in flight (maxPending ${maxPending})`);
    }
    const slot = pickSlot();
    if (!slot) return refuse('no probe worker running (workers keep failing to start; see the log)');

    const moduleId = moduleIdOf(module);
    if (!slot.known.has(moduleId)) {
      slot.worker.postMessage({ type: 'module', id: moduleId, module } satisfies ToWorker);
      slot.known.add(moduleId);
      modulesSent++;
    }
    const seq = nextSeq++;
    const budgetMs = Number.isFinite(deadlineMs) ? Math.max(0, deadlineMs - startedAtMs) : module.timeoutSeconds * 1000;
    return new Promise<ProbeResult[]>((resolve) => {
      const watchdog = setTimeout(() => presumeStuck(slot, stuckGraceMs), budgetMs + stuckGraceMs);
      watchdog.unref();
      slot.pending.set(seq, { target, moduleName: module.name, startedAtMs, resolve, watchdog });
      pendingCount++;
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage({ type: 'probe', seq, target, moduleId, deadlineMs } satisfies ToWorker);
    });
  };

  for (let i = 0; i < size; i++) spawn(i);

  async function shutdown(): Promise<void> {
    for (const timer of respawnTimers) clearTimeout(timer);
    respawnTimers.clear();
    if (pendingCount > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          drained = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, closeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const live = slots.filter((slot): slot is Slot => slot !== null);
    for (const slot of live) {
      slot.failure ??= 'probe pool closed before the probe finished';
      void slot.worker.terminate();
    }
    await Promise.all(live.map((slot) => slot.exited));
  }

  return {
    probe,
    size,
    stats: () => ({
      workers: slots.filter((slot) => slot !== null).length,
      pending: pendingCount,
      completed,
      replaced,
      rejected,
      modulesSent,
    }),
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}
