/**
 * A pool of worker threads that run `probeTarget`, so probing uses every core. The cost of a probe
 * is OpenSSL's client handshake, ~1.5 ms of CPU each on the machines measured: a single thread tops
 * out around 700–950 handshakes/s, below what a Go prober reaches on two cores, so the handshakes
 * themselves must run on several threads. Each worker does its own handshakes and keeps its own
 * per-module TLS contexts; the pool sends each module once per config version (a new config
 * object is a new version), not with every probe, and gets plain results back by structured clone.
 *
 * Probes go to the worker with the fewest in flight. A worker that dies (uncaught exception,
 * out of memory, failed start) or stops answering well past its probes' deadlines turns each
 * of its probes into a failed result with reason `internal` and is replaced; the pool never throws
 * and never hangs a probe. The number of probes in flight is bounded (`maxPending`): beyond it a
 * probe is answered at once as failed instead of queueing without limit.
 *
 * The pieces: the messages (pool-messages.ts), starting a worker (worker-start.ts), module
 * versions (module-versions.ts), sharing leaf facts (shared-leaf-facts.ts) and the responder
 * relay (responder-relay.ts); this module dispatches, watches and replaces.
 */
import { availableParallelism } from 'node:os';
import type { ResourceLimits, Worker } from 'node:worker_threads';
import type { ModuleConfig } from '../config/schema.js';
import { messageOf } from '../util/errors.js';
import { failedResult, neverThrows, subjectOf } from './failure.js';
import { moduleVersions } from './module-versions.js';
import type { FromWorker, ToWorker } from './pool-messages.js';
import { answerWorkerQuery } from './responder-relay.js';
import { batchedPost } from './batched-post.js';
import { shareLeafFacts } from './shared-leaf-facts.js';
import type { ProbeFn, ProbeResult, ProbeTarget } from './types.js';
import { defaultWorkerScript, startWorker } from './worker-start.js';

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
   * Resolves once every worker of the pool has started (its code loaded, listening), or the pool
   * closes. A probe sent to a worker still starting waits for it while its deadline runs, and a
   * start takes from a fraction of a second to several seconds on a loaded machine (a worker from
   * TypeScript sources compiles them first); callers whose deadlines must not pay for that wait here.
   */
  ready(): Promise<void>;
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
  /** Posts to the worker, batched per event-loop turn (batched-post.ts). */
  send: (message: ToWorker) => void;
  pending: Map<number, Pending>;
  /** Module ids this worker has been sent (a replacement worker starts empty). */
  known: Set<number>;
  /** Loaded and listening; probes go to starting workers only when no worker is ready. */
  ready: boolean;
  /** Why the worker is going away, reported for each of its probes; null while healthy. */
  failure: string | null;
  /** Given up as stuck: its probes were answered and its replacement started without waiting for its exit. */
  abandoned: boolean;
  /** The worker's last uncaught error, reported with its exit. */
  lastError: string | null;
  exited: Promise<void>;
}

const MAX_WORKERS = 256;

/**
 * A probe's garbage is small and short-lived, but with V8's default (process-sized) limits each
 * worker's heap grows lazily to ~100 MB over a few thousand probes. Small limits make the workers
 * collect early: measured over 4,000 probes on two workers, the process grew by 19–30 MB instead of
 * 80–92 MB, with no more CPU per probe. The young generation is 12 MB rather than 4: the native
 * TLS engine's handshakes allocate many short-lived buffers, and with it 12 MB took 7–12 % less CPU
 * per probe (1,000 targets, six alternating pairs: 2.43 against 2.62 ms cold, 1.21 against 1.37
 * steady; at 10,000 1.43/1.06 against 1.55/1.15) for ~7–10 MiB more peak RSS. A worker that does
 * run out of heap dies and is replaced, its probes reported as `internal` failures, like any other crash.
 */
export const DEFAULT_WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 12, maxOldGenerationSizeMb: 64 };

/** Consecutive crashes back off the respawn up to this, so a worker that cannot start does not spin. */
const MAX_RESPAWN_DELAY_MS = 30_000;

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`createProbePool: ${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

/** The ready worker with the fewest probes in flight; a starting one only when none is ready. */
function pickSlot(slots: readonly (Slot | null)[]): Slot | null {
  let best: Slot | null = null;
  for (const slot of slots) {
    if (!slot || slot.failure !== null) continue;
    const better = !best || (slot.ready && !best.ready) || (slot.ready === best.ready && slot.pending.size < best.pending.size);
    if (better) best = slot;
  }
  return best;
}

/** A probe the pool could not get an answer for from its worker: an `internal` failure saying why. */
function failure(entry: Pending, error: string): ProbeResult {
  const subject = subjectOf({ ...entry.target, module: entry.moduleName }, entry.startedAtMs);
  return failedResult(subject, 'internal', error, (Date.now() - entry.startedAtMs) / 1000);
}

/** Every slot has a started, healthy worker. */
function allStarted(slots: readonly (Slot | null)[]): boolean {
  return slots.every((slot) => slot !== null && slot.ready && slot.failure === null);
}

/** The delay before restarting a worker after its second and later consecutive crashes: 100 ms, doubling. */
function respawnDelayMs(consecutiveCrashes: number): number {
  return Math.min(MAX_RESPAWN_DELAY_MS, 100 * 2 ** (consecutiveCrashes - 2));
}

export function createProbePool(options: ProbePoolOptions = {}): ProbePool {
  const size = positiveInteger('workers', options.workers ?? availableParallelism(), MAX_WORKERS);
  const maxPending = positiveInteger('maxPending', options.maxPending ?? 10_000);
  const stuckGraceMs = options.stuckGraceMs ?? 5_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 15_000;
  const script = options.workerScript ?? defaultWorkerScript();
  const resourceLimits = options.resourceLimits ?? DEFAULT_WORKER_LIMITS;

  const slots: (Slot | null)[] = new Array<Slot | null>(size).fill(null);
  const counts = { completed: 0, replaced: 0, rejected: 0, modulesSent: 0 };
  let nextSeq = 1;
  let pendingCount = 0;
  let consecutiveCrashes = 0;
  let closing: Promise<void> | null = null;
  const respawnTimers = new Set<NodeJS.Timeout>();
  let drained: (() => void) | null = null;
  const readyWaiters: (() => void)[] = [];

  const modules = moduleVersions((id) => {
    for (const slot of slots) {
      if (slot && slot.known.delete(id)) slot.send({ type: 'forget', id });
    }
  });

  function spawn(index: number): void {
    const worker = startWorker(script, resourceLimits);
    worker.unref(); // referenced only while it has probes in flight (see dispatch/settle)
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => {
      markExited = resolve;
    });
    const send = batchedPost<ToWorker>(
      (batch) => worker.postMessage(batch),
      (message, error) => {
        // A probe that cannot be sent is answered at once; anything else the worker then lacks shows in its answers.
        if (message.type !== 'probe') return;
        const entry = slot.pending.get(message.seq);
        if (entry) settle(slot, message.seq, [failure(entry, `probe could not be sent to the worker: ${messageOf(error)}`)]);
      },
    );
    const slot: Slot = { index, worker, send, pending: new Map(), known: new Set(), ready: false, failure: null, abandoned: false, lastError: null, exited };
    slots[index] = slot;
    // Workers post arrays (batched-post.ts).
    worker.on('message', (batch: FromWorker[]) => {
      for (const message of batch) onMessage(slot, message);
    });
    worker.on('error', (error) => {
      slot.lastError = messageOf(error);
    });
    worker.on('exit', (code) => {
      onExit(slot, code);
      markExited();
      if (!closing && !slot.abandoned) respawn(index);
    });
  }

  function onMessage(slot: Slot, message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        slot.ready = true;
        wakeReadyWaiters();
        return;
      case 'answer-query':
        answerWorkerQuery(slot.send, message);
        return;
      case 'result':
      case 'failed': {
        const entry = slot.pending.get(message.seq);
        if (!entry) return; // already failed by the watchdog
        consecutiveCrashes = 0;
        settle(slot, message.seq, message.type === 'result' ? shareLeafFacts(message.results) : [failure(entry, message.error)]);
      }
    }
  }

  /**
   * A worker silent past a probe's deadline: asked to terminate, and given up at once. A thread
   * stuck inside native code (a blocking system call, a lock) never exits however it is asked, so
   * its probes are answered now and its replacement starts now, not when (if ever) it exits.
   */
  function presumeStuck(slot: Slot, silentMs: number): void {
    if (slot.failure !== null) return;
    const why = `probe worker unresponsive ${Math.round(silentMs)} ms past a probe deadline; worker restarted`;
    slot.failure = why;
    slot.abandoned = true;
    void slot.worker.terminate();
    retire(slot, why);
    if (!closing) respawn(slot.index);
  }

  /** A worker gone: its slot freed, each of its probes answered with why it went. */
  function onExit(slot: Slot, code: number): void {
    retire(slot, slot.failure ?? `probe worker exited (code ${code})${slot.lastError ? `: ${slot.lastError}` : ''}`);
  }

  /** A worker no longer used: its slot freed (unless already taken by its replacement), each of its probes failed with `why`. */
  function retire(slot: Slot, why: string): void {
    if (slots[slot.index] === slot) slots[slot.index] = null;
    for (const [seq, entry] of [...slot.pending]) settle(slot, seq, [failure(entry, why)]);
  }

  /** The first replacement starts at once; a worker that keeps dying is restarted ever more slowly. */
  function respawn(index: number): void {
    counts.replaced++;
    consecutiveCrashes++;
    if (consecutiveCrashes <= 1) {
      spawn(index);
      return;
    }
    const timer = setTimeout(() => {
      respawnTimers.delete(timer);
      if (!closing && slots[index] === null) spawn(index);
    }, respawnDelayMs(consecutiveCrashes));
    timer.unref();
    respawnTimers.add(timer);
  }

  function settle(slot: Slot, seq: number, results: ProbeResult[]): void {
    const entry = slot.pending.get(seq);
    if (!entry) return;
    slot.pending.delete(seq);
    clearTimeout(entry.watchdog);
    pendingCount--;
    counts.completed++;
    if (slot.pending.size === 0) slot.worker.unref();
    entry.resolve(results);
    if (pendingCount === 0 && drained) drained();
  }

  /** Why a probe cannot be taken now, or null. */
  function refusal(): string | null {
    if (closing) return 'probe pool is closed';
    if (pendingCount >= maxPending) {
      counts.rejected++;
      return `probe pool full: ${pendingCount} probes in flight (maxPending ${maxPending})`;
    }
    return null;
  }

  /** The module's id, posted to the worker first if it has not seen this version. */
  function sendModule(slot: Slot, module: ModuleConfig): number {
    const moduleId = modules.idOf(module);
    if (!slot.known.has(moduleId)) {
      slot.send({ type: 'module', id: moduleId, module });
      slot.known.add(moduleId);
      counts.modulesSent++;
    }
    return moduleId;
  }

  const dispatch: ProbeFn = (target, module, deadlineMs) => {
    const startedAtMs = Date.now();
    const refuse = (error: string): Promise<ProbeResult[]> =>
      Promise.resolve([failedResult(subjectOf({ ...target, module: module.name }, startedAtMs), 'internal', error)]);
    const refused = refusal();
    if (refused !== null) return refuse(refused);
    const slot = pickSlot(slots);
    if (!slot) return refuse('no probe worker running (workers keep failing to start; see the log)');

    const moduleId = sendModule(slot, module);
    const seq = nextSeq++;
    const budgetMs = Number.isFinite(deadlineMs) ? Math.max(0, deadlineMs - startedAtMs) : module.timeoutSeconds * 1000;
    return new Promise<ProbeResult[]>((resolve) => {
      const watchdog = setTimeout(() => presumeStuck(slot, stuckGraceMs), budgetMs + stuckGraceMs);
      watchdog.unref();
      slot.pending.set(seq, { target, moduleName: module.name, startedAtMs, resolve, watchdog });
      pendingCount++;
      if (slot.pending.size === 1) slot.worker.ref();
      slot.send({ type: 'probe', seq, target, moduleId, deadlineMs });
    });
  };

  function wakeReadyWaiters(): void {
    if (closing || allStarted(slots)) for (const wake of readyWaiters.splice(0)) wake();
  }

  function ready(): Promise<void> {
    if (closing || allStarted(slots)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // The workers are unref'd until they have probes: hold the process open while waiting for them.
      const keepAlive = setInterval(() => {}, 60_000);
      readyWaiters.push(() => {
        clearInterval(keepAlive);
        resolve();
      });
    });
  }

  /** Resolves when the last probe in flight is answered, or after `ms`, whichever is first. */
  async function drainedWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        drained = resolve;
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  async function shutdown(): Promise<void> {
    for (const timer of respawnTimers) clearTimeout(timer);
    respawnTimers.clear();
    if (pendingCount > 0) await drainedWithin(closeTimeoutMs);
    const live = slots.filter((slot): slot is Slot => slot !== null);
    for (const slot of live) {
      slot.failure ??= 'probe pool closed before the probe finished';
      void slot.worker.terminate();
    }
    await Promise.all(live.map((slot) => slot.exited));
  }

  for (let i = 0; i < size; i++) spawn(i);

  return {
    probe: neverThrows(dispatch),
    size,
    stats: () => ({
      workers: slots.filter((slot) => slot !== null).length,
      pending: pendingCount,
      ...counts,
    }),
    ready,
    close() {
      if (!closing) {
        closing = shutdown();
        wakeReadyWaiters();
      }
      return closing;
    },
  };
}
