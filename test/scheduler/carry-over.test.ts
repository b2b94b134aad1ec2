import { describe, expect, it } from 'vitest';
import { shareUnchangedParts } from '../../src/scheduler/carry-over.js';
import { failedResult, okResult, single, verdict } from '../metrics/fixtures.js';

describe('shareUnchangedParts', () => {
  it('takes the replaced result\'s objects for the parts equal by value, per address', () => {
    const before = [okResult(), okResult({ address: '192.0.2.11:443' })];
    // As the workers deliver them: deep copies, new per-probe values.
    const after = structuredClone(before).map((r) => ({ ...r, durationSeconds: 0.2, startedAtMs: r.startedAtMs + 60_000 }));
    shareUnchangedParts(after, [...before].reverse());
    for (const [i, result] of after.entries()) {
      for (const part of ['labels', 'tls', 'chain', 'leaf', 'staple'] as const) expect(result[part], part).toBe(before[i]![part]);
      expect(result.durationSeconds).toBe(0.2);
      expect(result.startedAtMs).toBe(before[i]!.startedAtMs + 60_000);
    }
  });

  it('keeps the fresh parts that changed, and results of other addresses untouched', () => {
    const before = okResult();
    const refreshed = okResult({}, verdict({ single: single({ thisUpdate: new Date(0) }) }));
    const moved = structuredClone(okResult({ address: '192.0.2.99:443' }));
    const down = failedResult('connect', { address: before.address });
    shareUnchangedParts([refreshed, moved, down], [before]);
    expect(refreshed.staple).not.toBe(before.staple);
    expect(refreshed.staple?.verdict?.single?.thisUpdate).toEqual(new Date(0));
    expect(refreshed.tls).toBe(before.tls);
    expect(moved.tls).not.toBe(before.tls);
    expect(down.tls).toBeNull();
    expect(down.staple).toBeNull();
  });

  it('does nothing for a target seen for the first time', () => {
    const fresh = okResult();
    const copy = structuredClone(fresh);
    shareUnchangedParts([fresh], []);
    expect(fresh).toEqual(copy);
  });
});
