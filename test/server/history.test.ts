/**
 * The recent-probes history: newest first, `limit` recent entries plus up to `limit` failed ones
 * kept after they leave (blackbox_exporter's prober/history.go), a byte bound that a flood of huge
 * logs cannot pass, and the app recording every fresh sweep probe (reused results are not probes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, DEFAULT_HISTORY_LIMIT, type App } from '../../src/app.js';
import { parseServeArgs } from '../../src/commands/serve.js';
import { UsageError } from '../../src/commands/io.js';
import { estimatedEntryBytes, isFailure, ProbeHistory } from '../../src/server/history.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { failedResult, okResult } from '../metrics/fixtures.js';
import { fakeProbe, FakeStore, makeConfig, target } from './fakes.js';

const ok = (name: string): ProbeResult => okResult({ target: name });
const failed = (name: string): ProbeResult => failedResult('connect', { target: name });
const targetsOf = (history: ProbeHistory): string[] => history.list().map((entry) => entry.result.target);

describe('ProbeHistory', () => {
  it('lists newest first, finds entries by id, numbers them from 1 and keeps source and time', () => {
    const history = new ProbeHistory(10);
    history.record('sweep', ok('a:443'), 1000);
    history.record('probe', failed('b:443'), 2000);
    expect(history.list().map((e) => [e.id, e.source, e.atMs, e.result.target])).toEqual([
      [2, 'probe', 2000, 'b:443'],
      [1, 'sweep', 1000, 'a:443'],
    ]);
    expect(history.get(1)?.result.target).toBe('a:443');
    expect(history.get(3)).toBeUndefined();
  });

  it('keeps the last `limit` probes, and failed ones that left them for another `limit`', () => {
    const history = new ProbeHistory(3);
    history.record('sweep', failed('f1:443'), 1);
    history.record('sweep', ok('o1:443'), 2);
    history.record('sweep', failed('f2:443'), 3);
    for (let i = 0; i < 10; i++) history.record('sweep', ok(`ok${i}:443`), 10 + i);
    // The 3 most recent, then the failures that scrolled out, all newest first.
    expect(targetsOf(history)).toEqual(['ok9:443', 'ok8:443', 'ok7:443', 'f2:443', 'f1:443']);
    expect(history.get(1)?.result.target).toBe('f1:443');
    expect(history.get(2)).toBeUndefined(); // o1 left for good

    // At most `limit` kept failures: the oldest goes.
    for (let i = 0; i < 5; i++) history.record('probe', failed(`g${i}:443`), 100 + i);
    for (let i = 0; i < 3; i++) history.record('probe', ok(`new${i}:443`), 200 + i);
    expect(targetsOf(history)).toEqual(['new2:443', 'new1:443', 'new0:443', 'g4:443', 'g3:443', 'g2:443']);
    expect(history.list().length).toBeLessThanOrEqual(2 * history.limit);
  });

  it('counts as failed what needs attention: a failed probe, a bad or missing staple where one is expected', () => {
    expect(isFailure(ok('a:443'))).toBe(false);
    expect(isFailure(failed('a:443'))).toBe(true);
    const missing = okResult({}, null);
    expect(isFailure(missing)).toBe(true); // the leaf names a responder: a staple is expected
    expect(isFailure({ ...missing, leaf: { ...missing.leaf!, ocspUrls: [], mustStaple: false } })).toBe(false);
    const invalid = ok('a:443');
    expect(isFailure({ ...invalid, staple: { ...invalid.staple!, verdict: { ...invalid.staple!.verdict!, valid: false } } })).toBe(true);
  });

  it('a flood of huge logs stays within the byte bound, newest kept, healthy entries evicted before failed ones', () => {
    const maxBytes = 1024 * 1024;
    const history = new ProbeHistory(1000, maxBytes);
    const huge = (result: ProbeResult): ProbeResult => ({ ...result, log: Array.from({ length: 32 }, (_, i) => ({ atMs: i, text: 'z'.repeat(1024) })) });
    const perEntry = estimatedEntryBytes(huge(ok('x:443')));
    expect(perEntry).toBeGreaterThan(32 * 2 * 1024);
    history.record('sweep', huge(failed('kept-failure:443')), 0);
    for (let i = 0; i < 500; i++) {
      history.record('sweep', huge(ok(`flood${i}:443`)), i + 1);
      expect(history.estimatedBytes).toBeLessThanOrEqual(maxBytes);
    }
    const listed = targetsOf(history);
    expect(listed[0]).toBe('flood499:443');
    expect(listed).toContain('kept-failure:443');
    expect(listed.length).toBe(Math.floor(maxBytes / perEntry));
  });

  it('limit 0 keeps nothing; a nonsensical limit is refused', () => {
    const history = new ProbeHistory(0);
    history.record('probe', failed('a:443'), 1);
    expect(history.list()).toEqual([]);
    expect(() => new ProbeHistory(-1)).toThrow(TypeError);
    expect(() => new ProbeHistory(1.5)).toThrow(TypeError);
  });
});

describe('--history.limit', () => {
  it(`defaults to ${DEFAULT_HISTORY_LIMIT}, accepts 0, refuses what is not a small number`, () => {
    expect(parseServeArgs({}).historyLimit).toBe(DEFAULT_HISTORY_LIMIT);
    expect(parseServeArgs({ 'history.limit': '0' }).historyLimit).toBe(0);
    expect(parseServeArgs({ 'history.limit': '250' }).historyLimit).toBe(250);
    for (const bad of ['-1', 'ten', '1e3', '10001', '']) {
      expect(() => parseServeArgs({ 'history.limit': bad }), bad).toThrow(UsageError);
    }
    expect(() => parseServeArgs({ 'history.limit': 'ten' })).toThrow('--history.limit: expected 0 to 10000 (0 keeps no recent probes), got "ten"');
  });
});

describe('the app records sweep probes', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('each fresh probe of a sweep once; a result reused within min_probe_interval is no new probe', async () => {
    let nowMs = 1_800_000_000_000;
    const probe = fakeProbe();
    const config = makeConfig([target('a.example.test:443'), target('b.example.test:443')], { minProbeIntervalSeconds: 60 });
    app = buildApp({ store: new FakeStore(config), probe: probe.probe, now: () => nowMs, logLevel: 'silent', processMetrics: false, historyLimit: 5 });
    expect((await app.server.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    const first = app.history.list();
    expect(first.map((e) => e.result.target).sort()).toEqual(['a.example.test:443', 'b.example.test:443']);
    expect(first.every((e) => e.source === 'sweep' && e.atMs === nowMs)).toBe(true);
    nowMs += 10_000; // within min_probe_interval: reused
    await app.server.inject({ method: 'GET', url: '/metrics' });
    expect(probe.calls).toHaveLength(2);
    expect(app.history.list()).toHaveLength(2);
    nowMs += 60_000; // stale: probed again
    await app.server.inject({ method: 'GET', url: '/metrics' });
    expect(probe.calls).toHaveLength(4);
    expect(app.history.list()).toHaveLength(4);
  });
});
