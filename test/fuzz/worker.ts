/**
 * Worker thread of the long fuzz run (fuzz/run.ts): fuzzes one target and, before each input,
 * copies it into shared memory and bumps a counter, so the main thread can tell a hang (the
 * counter stops) and still recover the input that caused it after terminating this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fuzzTarget, TARGETS } from './harness.js';
import { loadSeeds } from './seeds.js';

export interface WorkerInput {
  target: string;
  seed: number;
  durationMs: number;
  perInputLimitMs: number;
  /** [0] executions, [1] length of the current input. */
  counters: SharedArrayBuffer;
  /** The current input's bytes (truncated to the buffer's size). */
  current: SharedArrayBuffer;
}

export type WorkerMessage =
  | { kind: 'finding'; finding: { target: string; kind: string; message: string; input: Uint8Array } }
  | { kind: 'done'; executions: number; seconds: number; slowestMs: number };

const input = workerData as WorkerInput;
const target = TARGETS.find((t) => t.name === input.target);
if (!target) throw new Error(`unknown target ${input.target}`);
const counters = new Int32Array(input.counters);
const current = new Uint8Array(input.current);

const { stats, findings } = fuzzTarget(target, loadSeeds(), {
  seed: input.seed,
  durationMs: input.durationMs,
  perInputLimitMs: input.perInputLimitMs,
  stopOnFinding: false,
  beforeEach(bytes) {
    const n = Math.min(bytes.length, current.length);
    current.set(bytes.subarray(0, n));
    Atomics.store(counters, 1, n);
    Atomics.add(counters, 0, 1);
  },
});
for (const finding of findings.slice(0, 50)) parentPort!.postMessage({ kind: 'finding', finding } satisfies WorkerMessage);
parentPort!.postMessage({ kind: 'done', executions: stats.executions, seconds: stats.seconds, slowestMs: stats.slowestMs } satisfies WorkerMessage);
