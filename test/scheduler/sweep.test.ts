import { describe, expect, it } from 'vitest';
import { defaultModule, emptyConfig, type Config, type ModuleConfig, type TargetConfig } from '../../src/config/schema.js';
import type { ProbeFn, ProbeResult, ProbeTarget } from '../../src/probe/types.js';
import { createProbeSlots } from '../../src/scheduler/slots.js';
import { createSweeper } from '../../src/scheduler/sweep.js';

function target(name: string, module = 'default', labels: Record<string, string> = {}): TargetConfig {
  const [host, port] = name.split(':');
  return { target: name, host: host!, port: Number(port), module, serverName: null, labels };
}

function config(targets: TargetConfig[], global: Partial<Config['global']> = {}, modules: ModuleConfig[] = []): Config {
  const c = emptyConfig();
  c.targets = targets;
  Object.assign(c.global, global);
  for (const m of modules) c.modules[m.name] = m;
  return c;
}

function result(t: ProbeTarget, startedAtMs: number, address = `${t.host}:${t.port}`): ProbeResult {
  return {
    target: t.target,
    address,
    module: t.module,
    serverName: t.serverName,
    labels: t.labels,
    success: true,
    failureReason: null,
    error: null,
    durationSeconds: 0,
    startedAtMs,
    tls: null,
    chain: null,
    leaf: null,
    staple: null,
  };
}

class FakeClock {
  ms = 1_000_000;
  now = (): number => this.ms;
}

/** A probe that records its calls and resolves when the test says so (or at once). */
function recordingProbe(clock: FakeClock, options: { manual?: boolean } = {}) {
  const calls: { target: ProbeTarget; module: ModuleConfig; deadlineMs: number }[] = [];
  const pending: (() => void)[] = [];
  let active = 0;
  let maxActive = 0;
  const probe: ProbeFn = async (t, module, deadlineMs) => {
    calls.push({ target: t, module, deadlineMs });
    active++;
    maxActive = Math.max(maxActive, active);
    const startedAtMs = clock.now();
    if (options.manual) await new Promise<void>((resolve) => pending.push(resolve));
    else await new Promise((resolve) => setImmediate(resolve));
    active--;
    return [result(t, startedAtMs)];
  };
  return {
    probe,
    calls,
    pending,
    get maxActive() {
      return maxActive;
    },
    get active() {
      return active;
    },
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error('condition never became true');
}

describe('createSweeper', () => {
  it('runs one sweep for ten concurrent callers', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock, { manual: true });
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 8 });
    const c = config([target('a.test:443'), target('b.test:443'), target('c.test:443')]);
    const sweeps = Array.from({ length: 10 }, () => sweeper.sweep(c, Infinity));
    expect(sweeper.inFlight).toBe(true);
    await until(() => fake.pending.length === 3);
    for (const resolve of fake.pending) resolve();
    const all = await Promise.all(sweeps);
    expect(fake.calls).toHaveLength(3);
    for (const results of all) expect(results).toBe(all[0]);
    expect(all[0]!.map((r) => r.target)).toEqual(['a.test:443', 'b.test:443', 'c.test:443']);
    expect(sweeper.inFlight).toBe(false);
    expect(sweeper.lastSweep).toMatchObject({ probed: 3, reused: 0 });
  });

  it('answers a joiner with an earlier deadline at that deadline, with what is finished', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock, { manual: true });
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 4 });
    const c = config([target('fast.test:443'), target('slow.test:443')]);
    const first = sweeper.sweep(c, Infinity);
    await until(() => fake.pending.length === 2);
    fake.pending.shift()!(); // fast.test answers
    await new Promise((resolve) => setImmediate(resolve));
    const hurried = await sweeper.sweep(c, clock.ms + 30); // 30 ms of real time to wait
    expect(hurried.map((r) => [r.target, r.success, r.failureReason])).toEqual([
      ['fast.test:443', true, null],
      ['slow.test:443', false, 'timeout'],
    ]);
    expect(hurried[1]!.error).toBe('still being probed by a sweep started earlier with a longer deadline');
    expect(sweeper.inFlight).toBe(true);
    fake.pending.shift()!();
    const full = await first;
    expect(full.map((r) => [r.target, r.success])).toEqual([
      ['fast.test:443', true],
      ['slow.test:443', true],
    ]);
    expect(fake.calls).toHaveLength(2);
  });

  it('starts a new sweep once the previous one finished', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock);
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 4 });
    const c = config([target('a.test:443')], { minProbeIntervalSeconds: 0 });
    await sweeper.sweep(c, Infinity);
    await sweeper.sweep(c, Infinity);
    expect(fake.calls).toHaveLength(2);
  });

  it('reuses results younger than min_probe_interval, counted from the start of the probe', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock);
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 4 });
    const c = config([target('a.test:443'), target('b.test:443')], { minProbeIntervalSeconds: 15 });
    const first = await sweeper.sweep(c, Infinity);
    clock.ms += 14_999;
    const second = await sweeper.sweep(c, Infinity);
    expect(fake.calls).toHaveLength(2);
    expect(second).toEqual(first);
    expect(sweeper.lastSweep).toMatchObject({ probed: 0, reused: 2 });
    clock.ms += 1;
    const third = await sweeper.sweep(c, Infinity);
    expect(fake.calls).toHaveLength(4);
    expect(third[0]!.startedAtMs).toBe(clock.ms);
    expect(sweeper.lastSweep).toMatchObject({ probed: 2, reused: 0 });
  });

  it('drops results of targets removed from the config', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock);
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 4 });
    const both = config([target('a.test:443'), target('b.test:443')], { minProbeIntervalSeconds: 60 });
    await sweeper.sweep(both, Infinity);
    const onlyA = config([target('a.test:443')], { minProbeIntervalSeconds: 60 });
    const results = await sweeper.sweep(onlyA, Infinity);
    expect(results.map((r) => r.target)).toEqual(['a.test:443']);
    expect(fake.calls).toHaveLength(2);
    // b's old result is gone: adding it back probes it again even within the interval.
    await sweeper.sweep(both, Infinity);
    expect(fake.calls.map((c) => c.target.target)).toEqual(['a.test:443', 'b.test:443', 'b.test:443']);
  });

  it('keeps the latest results without probing: empty before the first sweep, each target replaced as it finishes', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock, { manual: true });
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 4 });
    const both = config([target('a.test:443'), target('b.test:443')], { minProbeIntervalSeconds: 0 });
    expect(sweeper.latestResults()).toEqual([]);
    const first = sweeper.sweep(both, Infinity);
    await until(() => fake.pending.length === 2);
    for (const resolve of fake.pending.splice(0)) resolve();
    await first;
    expect(sweeper.latestResults().map((r) => [r.target, r.startedAtMs])).toEqual([
      ['a.test:443', 1_000_000],
      ['b.test:443', 1_000_000],
    ]);
    clock.ms += 5000;
    const second = sweeper.sweep(both, Infinity);
    await until(() => fake.pending.length === 2);
    fake.pending.shift()!(); // a answers; b is still being probed
    await until(() => sweeper.latestResults()[0]!.startedAtMs === 1_005_000);
    expect(sweeper.latestResults().map((r) => [r.target, r.startedAtMs])).toEqual([
      ['a.test:443', 1_005_000],
      ['b.test:443', 1_000_000],
    ]);
    fake.pending.shift()!();
    await second;
    expect(fake.calls).toHaveLength(4);
    // A reload removed a: it drops out when the next sweep (here reusing b's result) ends.
    await sweeper.sweep(config([target('b.test:443')], { minProbeIntervalSeconds: 60 }), Infinity);
    expect(sweeper.latestResults().map((r) => r.target)).toEqual(['b.test:443']);
    expect(fake.calls).toHaveLength(4);
  });

  it('probes again when a reload changed the target or its module', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock);
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 4 });
    await sweeper.sweep(config([target('a.test:443')], { minProbeIntervalSeconds: 60 }), Infinity);
    await sweeper.sweep(config([target('a.test:443', 'default', { env: 'x' })], { minProbeIntervalSeconds: 60 }), Infinity);
    expect(fake.calls).toHaveLength(2);
    const slower = { ...defaultModule(), timeoutSeconds: 3 };
    await sweeper.sweep(config([target('a.test:443', 'default', { env: 'x' })], { minProbeIntervalSeconds: 60 }, [slower]), Infinity);
    expect(fake.calls).toHaveLength(3);
    // An identical reloaded config (new objects, same content) reuses.
    await sweeper.sweep(config([target('a.test:443', 'default', { env: 'x' })], { minProbeIntervalSeconds: 60 }, [{ ...slower }]), Infinity);
    expect(fake.calls).toHaveLength(3);
  });

  it('gives each probe the earlier of the scrape deadline and its module timeout', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock);
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 4 });
    const quick = { ...defaultModule('quick'), timeoutSeconds: 2 };
    const c = config([target('a.test:443'), target('b.test:443', 'quick')], { minProbeIntervalSeconds: 0 }, [quick]);
    await sweeper.sweep(c, clock.ms + 5_000);
    expect(fake.calls.map((x) => [x.target.target, x.deadlineMs - clock.ms])).toEqual([
      ['a.test:443', 5_000],
      ['b.test:443', 2_000],
    ]);
    fake.calls.length = 0;
    await sweeper.sweep(c, Infinity);
    expect(fake.calls.map((x) => x.deadlineMs - clock.ms)).toEqual([10_000, 2_000]);
  });

  it('never runs more than the concurrency limit at once', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock, { manual: true });
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 3 });
    const c = config(Array.from({ length: 20 }, (_, i) => target(`t${i}.test:443`)));
    const done = sweeper.sweep(c, Infinity);
    let released = 0;
    while (released < 20) {
      await until(() => fake.pending.length > 0);
      expect(fake.active).toBeLessThanOrEqual(3);
      // Release one at a time so the queue keeps refilling.
      fake.pending.shift()!();
      released++;
    }
    const results = await done;
    expect(results).toHaveLength(20);
    expect(fake.maxActive).toBe(3);
  });

  it('shares its limiter with other callers', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock, { manual: true });
    const slots = createProbeSlots(2, clock.now);
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, slots });
    expect(sweeper.limit).toBe(slots);
    let releaseOther!: () => void;
    const other = slots.run(() => new Promise<void>((resolve) => (releaseOther = resolve)), Infinity);
    const done = sweeper.sweep(config([target('a.test:443'), target('b.test:443')]), Infinity);
    await until(() => fake.pending.length === 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(fake.calls).toHaveLength(1); // one slot is taken by the other caller
    releaseOther();
    await other;
    await until(() => fake.pending.length === 2);
    for (const resolve of fake.pending) resolve();
    expect(await done).toHaveLength(2);
  });

  it('reports targets still queued at the scrape deadline as timeouts without probing them', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock, { manual: true });
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 1 });
    const c = config([target('a.test:443'), target('b.test:443')], { minProbeIntervalSeconds: 60 });
    const done = sweeper.sweep(c, clock.ms + 1_000);
    await until(() => fake.pending.length === 1);
    clock.ms += 1_000; // a's probe used the whole budget
    fake.pending.shift()!();
    const results = await done;
    expect(fake.calls.map((x) => x.target.target)).toEqual(['a.test:443']);
    expect(results[1]).toMatchObject({
      target: 'b.test:443',
      address: 'b.test:443',
      success: false,
      failureReason: 'timeout',
      error: 'no probe slot free before the scrape deadline (global.concurrency)',
    });
    expect(sweeper.lastSweep).toMatchObject({ probed: 1, reused: 0 });
    // The skipped target was not cached: the next sweep probes it.
    const again = sweeper.sweep(c, Infinity);
    await until(() => fake.pending.length === 1);
    fake.pending.shift()!();
    await again;
    expect(fake.calls.map((x) => x.target.target)).toEqual(['a.test:443', 'b.test:443']);
  });

  it('answers a target queued behind a slot held past the scrape deadline at that deadline', async () => {
    // The slot is held by another user of the slots (a /probe at a target that never answers).
    const slots = createProbeSlots(1);
    let releaseOther!: () => void;
    const other = slots.run(() => new Promise<void>((resolve) => (releaseOther = resolve)), Infinity);
    const fake = recordingProbe(new FakeClock());
    const sweeper = createSweeper({ probe: fake.probe, now: Date.now, slots });
    const started = Date.now();
    const results = await sweeper.sweep(config([target('a.test:443')]), started + 150);
    const elapsedMs = Date.now() - started;
    expect(elapsedMs).toBeGreaterThanOrEqual(140);
    expect(elapsedMs).toBeLessThan(600);
    expect(fake.calls).toHaveLength(0);
    expect(results[0]).toMatchObject({ target: 'a.test:443', failureReason: 'timeout' });
    releaseOther();
    await other;
  });

  it('gives each address of a probe_all_addresses target a slot of its own, the target none', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock, { manual: true });
    const addresses = ['192.0.2.1', '192.0.2.2', '192.0.2.3'].map((address) => ({ address, family: 4 }));
    const all: ModuleConfig = { ...defaultModule('all'), probeAllAddresses: true };
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 1, lookup: async () => addresses });
    const done = sweeper.sweep(config([target('lb.test:443', 'all')], {}, [all]), Infinity);
    for (let i = 0; i < 3; i++) {
      await until(() => fake.pending.length === 1);
      expect(fake.active).toBe(1);
      fake.pending.shift()!();
    }
    const results = await done;
    // Each address probed as an IP literal that keeps the name for SNI and the target label.
    expect(fake.calls.map((c) => [c.target.host, c.target.serverName, c.target.target])).toEqual([
      ['192.0.2.1', 'lb.test', 'lb.test:443'],
      ['192.0.2.2', 'lb.test', 'lb.test:443'],
      ['192.0.2.3', 'lb.test', 'lb.test:443'],
    ]);
    expect(results).toHaveLength(3);
    // The resolution was the sweep's, not the probe's: each address's log still starts with it.
    for (const r of results) {
      expect(r.log?.[0]?.text).toMatch(/^resolved lb\.test \(ip_protocol any\) to 192\.0\.2\.1, 192\.0\.2\.2, 192\.0\.2\.3 \(probe_all_addresses: each is probed\), before this address's probe, in \d+ ms$/);
    }
    const unresolved = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 1, lookup: async () => [] });
    const [failed] = await unresolved.sweep(config([target('gone.test:443', 'all')], {}, [all]), Infinity);
    expect(failed).toMatchObject({ failureReason: 'dns', log: [{ text: 'resolving gone.test (ip_protocol any) failed' }] });
  });

  it('reports a duplicate (target, module) pair once', async () => {
    const clock = new FakeClock();
    const fake = recordingProbe(clock);
    const sweeper = createSweeper({ probe: fake.probe, now: clock.now, concurrency: 4 });
    const results = await sweeper.sweep(config([target('a.test:443'), target('a.test:443')]), Infinity);
    expect(results).toHaveLength(1);
    expect(fake.calls).toHaveLength(1);
  });

  it('keeps one result per address of a target', async () => {
    const clock = new FakeClock();
    const probe: ProbeFn = async (t) => [result(t, clock.ms, '192.0.2.1:443'), result(t, clock.ms, '192.0.2.2:443')];
    const sweeper = createSweeper({ probe, now: clock.now, concurrency: 4 });
    const results = await sweeper.sweep(config([target('lb.test:443'), target('x.test:443')]), Infinity);
    expect(results.map((r) => `${r.target} ${r.address}`)).toEqual([
      'lb.test:443 192.0.2.1:443',
      'lb.test:443 192.0.2.2:443',
      'x.test:443 192.0.2.1:443',
      'x.test:443 192.0.2.2:443',
    ]);
  });

  it('turns a throwing probe or a missing module into an internal failure instead of rejecting', async () => {
    const clock = new FakeClock();
    const probe: ProbeFn = async () => {
      throw new Error('boom');
    };
    const sweeper = createSweeper({ probe, now: clock.now, concurrency: 4 });
    const results = await sweeper.sweep(config([target('a.test:443'), target('b.test:443', 'nope')]), Infinity);
    expect(results[0]).toMatchObject({ success: false, failureReason: 'internal', error: 'probe threw: boom' });
    expect(results[1]).toMatchObject({ success: false, failureReason: 'internal', error: 'module "nope" is not configured' });
  });
});
