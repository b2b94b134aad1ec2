/**
 * A fresh result takes over the parts of the result it replaces that did not change. Results come
 * from the probe workers as structured clones, so every probe brings its own copy of the same staple
 * verdict, TLS parameters and strings (~1.5 KB of main-thread heap per result, measured), and a
 * sweep of 10,000 targets would hold them a second time until the old generation is collected.
 * In a fleet that did not change, a new result then costs little more than its own object and the
 * per-probe values (duration, start time).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ProbeResult } from '../probe/types.js';

/** Parts compared by value; the strings are compared by `===` and shared the same way. */
const PARTS = ['labels', 'tls', 'chain', 'leaf', 'staple'] as const;
const STRINGS = ['target', 'address', 'module', 'serverName'] as const;

/**
 * Replaces, in each of `results`, the parts equal by value to those of the replaced result of the
 * same address with that result's own objects. Results are treated as immutable once handed out, so
 * this runs on fresh results only (the sweeper's `onMeasured`), before anything else sees them.
 */
export function shareUnchangedParts(results: readonly ProbeResult[], replaced: readonly ProbeResult[]): void {
  if (replaced.length === 0) return;
  for (const result of results) {
    const previous = replaced.find((old) => old.address === result.address);
    if (!previous) continue;
    const mutable = result as unknown as Record<string, unknown>;
    const earlier = previous as unknown as Record<string, unknown>;
    for (const key of STRINGS) if (mutable[key] === earlier[key]) mutable[key] = earlier[key];
    for (const key of PARTS) if (mutable[key] !== earlier[key] && isDeepStrictEqual(mutable[key], earlier[key])) mutable[key] = earlier[key];
  }
}
