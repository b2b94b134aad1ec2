import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { ConfigStore } from '../../src/config/store.js';

describe('ConfigStore with a real config file', () => {
  let dir: string;
  let file: string;
  let clockMs: number;
  const now = () => clockMs;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ocsp-store-'));
    file = join(dir, 'config.yaml');
    clockMs = 1_700_000_000_000;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('good → bad keeps the last good config; bad → good swaps and advances the timestamp', () => {
    writeFileSync(file, 'targets:\n  - one.example.com:443\n');
    const store = new ConfigStore(loadConfigFile(file), () => loadConfigFile(file), { now });
    const seen: Config[] = [];
    store.onChange((config) => seen.push(config));

    expect(store.lastReloadSuccessful).toBe(true);
    expect(store.lastReloadSuccessTimestampSeconds).toBe(1_700_000_000);
    const first = store.current;
    expect(first.targets.map((t) => t.target)).toEqual(['one.example.com:443']);

    // A bad edit: the whole file is refused, the old config stays.
    clockMs += 10_000;
    writeFileSync(file, 'targets:\n  - two.example.com:443\n  - target: three.example.com:443\n    module: fast\n');
    const bad = store.reload();
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toBeInstanceOf(ConfigError);
    expect(!bad.ok && bad.error.message).toBe(`${file}:4: targets[1].module: unknown module "fast" (defined: default)`);
    expect(store.current).toBe(first);
    expect(store.lastReloadSuccessful).toBe(false);
    expect(store.lastReloadSuccessTimestampSeconds).toBe(1_700_000_000);
    expect(seen).toEqual([]);

    // A deleted file is a failed reload too.
    clockMs += 10_000;
    rmSync(file);
    const missing = store.reload();
    expect(!missing.ok && missing.error.message).toBe(`${file}: cannot read the config file: no such file`);
    expect(store.current).toBe(first);
    expect(store.lastReloadSuccessful).toBe(false);

    // Fixed: swapped, successful again, timestamp advanced, listeners told.
    clockMs += 10_000;
    writeFileSync(file, 'targets:\n  - two.example.com:443\n');
    expect(store.reload()).toEqual({ ok: true });
    expect(store.current).not.toBe(first);
    expect(store.current.targets.map((t) => t.target)).toEqual(['two.example.com:443']);
    expect(store.lastReloadSuccessful).toBe(true);
    expect(store.lastReloadSuccessTimestampSeconds).toBe(1_700_000_030);
    expect(seen).toEqual([store.current]);
  });
});

describe('ConfigStore', () => {
  const config = (name: string): Config => ({ global: { concurrency: 1, minProbeIntervalSeconds: 0, probeAllowlist: [] }, modules: {}, targets: [], file: name });

  it('defaults its clock to Date.now', () => {
    const before = Date.now() / 1000;
    const store = new ConfigStore(config('a'), () => config('b'));
    expect(store.lastReloadSuccessTimestampSeconds).toBeGreaterThanOrEqual(before);
    expect(store.lastReloadSuccessTimestampSeconds).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it('turns a non-Error throw from the loader into an Error and never throws itself', () => {
    const store = new ConfigStore(config('a'), () => {
      throw 'boom';
    });
    const result = store.reload();
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toBeInstanceOf(Error);
    expect(!result.ok && result.error.message).toBe('boom');
    expect(store.current.file).toBe('a');
  });

  it('unsubscribed listeners are not called; a throwing listener neither fails the reload nor stops the others', () => {
    let next = 0;
    const reported: unknown[] = [];
    const store = new ConfigStore(config('a'), () => config(`c${++next}`), { now: () => 0, onListenerError: (e) => reported.push(e) });
    const calls: string[] = [];
    const off = store.onChange((c) => calls.push(`first ${c.file}`));
    store.onChange(() => {
      throw new Error('listener bug');
    });
    store.onChange((c) => calls.push(`third ${c.file}`));

    expect(store.reload()).toEqual({ ok: true });
    off();
    expect(store.reload()).toEqual({ ok: true });
    expect(calls).toEqual(['first c1', 'third c1', 'third c2']);
    expect(reported.map((e) => (e as Error).message)).toEqual(['listener bug', 'listener bug']);
    expect(store.current.file).toBe('c2');
    expect(store.lastReloadSuccessful).toBe(true);
  });
});
