/** Test doubles for the app's collaborators: an in-memory config source and a recording probe. */
import { defaultModule, emptyConfig, type Config, type ModuleConfig, type TargetConfig } from '../../src/config/schema.js';
import type { ConfigSource } from '../../src/app.js';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.js';
import type { ProbeFn } from '../../src/probe/types.js';
import { okResult } from '../metrics/fixtures.js';

export function target(name: string, extra: Partial<TargetConfig> = {}): TargetConfig {
  const colon = name.lastIndexOf(':');
  return { target: name, host: name.slice(0, colon), port: Number(name.slice(colon + 1)), module: 'default', serverName: null, labels: {}, ...extra };
}

export function makeConfig(targets: TargetConfig[], global: Partial<Config['global']> = {}, modules: Partial<ModuleConfig>[] = []): Config {
  const c = emptyConfig();
  c.targets = targets;
  c.file = '/etc/ocsp-stapling-exporter/config.yaml';
  Object.assign(c.global, global);
  for (const m of modules) c.modules[m.name ?? 'default'] = { ...defaultModule(m.name), ...m };
  return c;
}

export class FakeStore implements ConfigSource {
  lastReloadSuccessful = true;
  lastReloadSuccessTimestampSeconds: number | null = 1_763_000_000;
  reloads = 0;
  next: Config | { error: unknown } | null = null;
  private listeners: ((config: Config) => void)[] = [];

  constructor(public current: Config) {}

  reload(): { ok: true } | { ok: false; error: unknown } {
    this.reloads++;
    const next = this.next;
    if (next && 'error' in next) {
      this.lastReloadSuccessful = false;
      return { ok: false, error: next.error };
    }
    if (next) this.current = next;
    this.lastReloadSuccessful = true;
    this.lastReloadSuccessTimestampSeconds = 1_763_000_100;
    for (const l of this.listeners) l(this.current);
    return { ok: true };
  }

  onChange(listener: (config: Config) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.length;
  }
}

export interface ProbeCall {
  target: ProbeTarget;
  module: ModuleConfig;
  deadlineMs: number;
}

/** A probe answering with a canned good result per target (or `answer`), optionally held until released. */
export function fakeProbe(options: { hold?: boolean; answer?: (t: ProbeTarget, module: ModuleConfig) => ProbeResult[]; now?: () => number } = {}) {
  const calls: ProbeCall[] = [];
  const held: (() => void)[] = [];
  let active = 0;
  let maxActive = 0;
  const probe: ProbeFn = async (t, module, deadlineMs) => {
    calls.push({ target: t, module, deadlineMs });
    active++;
    maxActive = Math.max(maxActive, active);
    try {
      if (options.hold) await new Promise<void>((resolve) => held.push(resolve));
      return options.answer
        ? options.answer(t, module)
        : [okResult({ target: t.target, address: `${t.host}:${t.port}`, module: module.name, labels: t.labels, serverName: t.serverName })];
    } finally {
      active--;
    }
  };
  return {
    probe,
    calls,
    held,
    get maxActive() {
      return maxActive;
    },
    releaseAll() {
      for (const r of held.splice(0)) r();
    },
  };
}

export async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} never became true`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
