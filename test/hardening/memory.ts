/**
 * Heap and RSS measurements after a full garbage collection, for "memory stays bounded" checks.
 * `gc` is reached without --expose-gc on the command line: the flag is set at run time and the
 * function taken from a fresh V8 context (a documented V8 behaviour, used only in tests).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface MemorySample {
  heapUsedMiB: number;
  /** Buffers and Uint8Arrays live outside the V8 heap: a cache of DER bytes shows up here. */
  arrayBuffersMiB: number;
  /** heapUsed + arrayBuffers: what the process holds on to, without allocator slack. */
  retainedMiB: number;
  rssMiB: number;
}

const MiB = 1024 * 1024;

/** Collects garbage twice (weak maps and finalizers need a second pass), then samples. */
export async function settledMemory(): Promise<MemorySample> {
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const usage = process.memoryUsage();
  return {
    heapUsedMiB: usage.heapUsed / MiB,
    arrayBuffersMiB: usage.arrayBuffers / MiB,
    retainedMiB: (usage.heapUsed + usage.arrayBuffers) / MiB,
    rssMiB: usage.rss / MiB,
  };
}

/** `before → after (+growth)` for logs. */
export function describeGrowth(before: MemorySample, after: MemorySample): string {
  const growth = after.retainedMiB - before.retainedMiB;
  return (
    `heap+buffers ${before.retainedMiB.toFixed(1)} → ${after.retainedMiB.toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)}), ` +
    `RSS ${before.rssMiB.toFixed(0)} → ${after.rssMiB.toFixed(0)} MiB`
  );
}
