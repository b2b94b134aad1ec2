/**
 * The app with the real config machinery: a YAML file in a temp dir, `loadConfigFile`,
 * `ConfigStore` and the real `/probe` allowlist. Probes are faked (no network needed to judge
 * reloads and access rules).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import { find, parseExposition, valueOf } from '../metrics/exposition.js';
import { fakeProbe } from './fakes.js';

let dir: string;
let file: string;
let app: App;
let clockMs = Date.UTC(2026, 10, 20, 10, 0, 0);
const fake = fakeProbe();

function yaml(targets: string[], extra = ''): string {
  return [
    'global:',
    '  concurrency: 5',
    '  min_probe_interval: 0s',
    '  probe_allowlist: ["*.example.com:443", "10.20.0.0/16:443"]',
    extra,
    'targets:',
    ...targets.map((t) => `  - target: ${t}\n    labels: { env: prod }`),
    '',
  ].join('\n');
}

function loadError(): string {
  try {
    loadConfigFile(file);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the config file to be invalid');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocsp-exporter-reload-'));
  file = join(dir, 'config.yaml');
  await writeFile(file, yaml(['a.internal.test:443', 'b.internal.test:8443']));
  const store = new ConfigStore(loadConfigFile(file), () => loadConfigFile(file), { now: () => clockMs });
  app = buildApp({ store, probe: fake.probe, now: () => clockMs, logLevel: 'silent', processMetrics: false });
});

afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

async function scrape() {
  const res = await app.server.inject('/metrics');
  expect(res.statusCode).toBe(200);
  return parseExposition(res.body);
}

describe('reloading a real config file', () => {
  it('serves the loaded file', async () => {
    expect((await app.server.inject('/-/ready')).body).toBe('Ready');
    const m = await scrape();
    expect(find(m, 'ocsp_probe_success').map((s) => [s.labels.target, s.labels.env])).toEqual([
      ['a.internal.test:443', 'prod'],
      ['b.internal.test:8443', 'prod'],
    ]);
    expect(valueOf(m, 'ocsp_exporter_targets')).toBe(2);
    expect(valueOf(m, 'ocsp_exporter_config_last_reload_successful')).toBe(1);
    expect(valueOf(m, 'ocsp_exporter_config_last_reload_success_timestamp_seconds')).toBe(clockMs / 1000);
    expect(app.sweeper.limit.concurrency).toBe(5);
  });

  it('applies an edited file and drops the removed target', async () => {
    await writeFile(file, yaml(['a.internal.test:443'], '  ').replace('concurrency: 5', 'concurrency: 7'));
    clockMs += 60_000;
    const res = await app.server.inject({ method: 'POST', url: '/-/reload' });
    expect([res.statusCode, res.body]).toEqual([200, 'Configuration reloaded\n']);
    const m = await scrape();
    expect(find(m, 'ocsp_probe_success').map((s) => s.labels.target)).toEqual(['a.internal.test:443']);
    expect(valueOf(m, 'ocsp_exporter_targets')).toBe(1);
    expect(valueOf(m, 'ocsp_exporter_config_last_reload_success_timestamp_seconds')).toBe(clockMs / 1000);
    expect(app.sweeper.limit.concurrency).toBe(7);
  });

  it('keeps the last good config when the file is broken, and says why', async () => {
    await writeFile(file, yaml(['a.internal.test:443', 'c.internal.test:443']).replace('concurrency: 5', 'concurency: 5'));
    const expected = loadError();
    expect(expected).toContain(file);
    const res = await app.server.inject({ method: 'POST', url: '/-/reload' });
    expect(res.statusCode).toBe(500);
    expect(res.body).toBe(`failed to reload config: ${expected}\n`);
    const m = await scrape();
    expect(find(m, 'ocsp_probe_success').map((s) => s.labels.target)).toEqual(['a.internal.test:443']);
    expect(valueOf(m, 'ocsp_exporter_config_last_reload_successful')).toBe(0);
    expect(app.reloadConfig()).toEqual({ ok: false, error: expected });
  });

  it('recovers once the file is fixed', async () => {
    await writeFile(file, yaml(['a.internal.test:443', 'c.internal.test:443']));
    expect(app.reloadConfig()).toEqual({ ok: true });
    const m = await scrape();
    expect(valueOf(m, 'ocsp_exporter_config_last_reload_successful')).toBe(1);
    expect(find(m, 'ocsp_probe_success').map((s) => s.labels.target)).toEqual(['a.internal.test:443', 'c.internal.test:443']);
  });
});

describe('/probe with the real allowlist', () => {
  it.each([
    ['www.example.com:443', 200],
    ['a.b.example.com:443', 200],
    ['10.20.3.4:443', 200],
    ['a.internal.test:443', 200],
    ['example.com:443', 403],
    ['evil-example.com:443', 403],
    ['www.example.com:8443', 403],
    ['10.21.0.1:443', 403],
    ['169.254.169.254:80', 403],
    ['a.internal.test:444', 403],
  ])('%s → %i', async (target, status) => {
    const res = await app.server.inject(`/probe?target=${encodeURIComponent(target)}`);
    expect(res.statusCode).toBe(status);
    if (status === 403) {
      expect(res.body).toBe(
        `target "${target}" is not allowed: /probe only probes the configured targets and those matching ` +
          "global.probe_allowlist in the exporter's config file\n",
      );
      // The answer goes to anyone who can reach /probe: no filesystem path.
      expect(res.body).not.toContain(file);
    } else {
      expect(valueOf(parseExposition(res.body), 'ocsp_probe_success', { target })).toBe(1);
    }
  });
});
