import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App, type AppDeps } from '../../src/app.js';
import type { Config } from '../../src/config/schema.js';
import { VERSION } from '../../src/version.js';
import { failedResult, NOW_MS } from '../metrics/fixtures.js';
import { find, familyNames, parseExposition, valueOf } from '../metrics/exposition.js';
import { FakeStore, fakeProbe, makeConfig, target, until } from './fakes.js';

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** Allows the static targets and *.allowed.test on any port: the routes' own tests need no real allowlist. */
function allowStaticAnd(config: Config, host: string, port: number): boolean {
  return config.targets.some((t) => t.host === host && t.port === port) || host.endsWith('.allowed.test');
}

function make(config: Config, deps: Partial<AppDeps> = {}) {
  const store = new FakeStore(config);
  const fake = fakeProbe();
  const app = buildApp({
    store,
    probe: fake.probe,
    now: () => NOW_MS,
    logLevel: 'silent',
    processMetrics: false,
    isAllowed: allowStaticAnd,
    ...deps,
  });
  apps.push(app);
  return { app, store, fake };
}

describe('lifecycle endpoints', () => {
  it('answers /-/healthy and /-/ready', async () => {
    const { app } = make(makeConfig([]));
    const healthy = await app.server.inject('/-/healthy');
    expect([healthy.statusCode, healthy.body]).toEqual([200, 'Healthy']);
    expect(healthy.headers['content-type']).toBe('text/plain; charset=utf-8');
    const ready = await app.server.inject('/-/ready');
    expect([ready.statusCode, ready.body]).toEqual([200, 'Ready']);
  });

  it('answers 404 with a plain message for anything else', async () => {
    const { app } = make(makeConfig([]));
    for (const url of ['/nope', '/metrics/x', '/probe/', '/-/quit?x=1']) {
      const res = await app.server.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body).toBe(`Not found: GET ${url.split('?')[0]}\n`);
    }
    expect((await app.server.inject({ method: 'DELETE', url: '/metrics' })).statusCode).toBe(404);
  });

  it('reloads through the store: 200 on success, 500 with the error on failure, last good config kept', async () => {
    const { app, store } = make(makeConfig([target('a.test:443')]));
    store.next = makeConfig([target('a.test:443'), target('b.test:443')]);
    const ok = await app.server.inject({ method: 'POST', url: '/-/reload' });
    expect([ok.statusCode, ok.body]).toEqual([200, 'Configuration reloaded\n']);
    expect(store.current.targets).toHaveLength(2);

    store.next = { error: new Error('config.yaml:3: targets[0]: port 70000 is not between 1 and 65535') };
    const bad = await app.server.inject({ method: 'POST', url: '/-/reload' });
    expect(bad.statusCode).toBe(500);
    expect(bad.body).toBe('failed to reload config: config.yaml:3: targets[0]: port 70000 is not between 1 and 65535\n');
    expect(store.current.targets).toHaveLength(2);
    expect(store.reloads).toBe(2);

    const m = parseExposition((await app.server.inject('/metrics')).body);
    expect(valueOf(m, 'ocsp_exporter_config_last_reload_successful')).toBe(0);
    expect(valueOf(m, 'ocsp_exporter_targets')).toBe(2);
  });

  it('refuses GET on /-/reload with 405', async () => {
    const { app, store } = make(makeConfig([]));
    const res = await app.server.inject('/-/reload');
    expect([res.statusCode, res.body, res.headers.allow]).toEqual([405, 'Only POST or PUT requests allowed\n', 'POST, PUT']);
    expect(store.reloads).toBe(0);
  });

  it('reloadConfig() is the same operation, for SIGHUP', async () => {
    const { app, store } = make(makeConfig([]));
    store.next = { error: 'bad yaml' };
    expect(app.reloadConfig()).toEqual({ ok: false, error: 'bad yaml' });
    store.next = makeConfig([target('a.test:443')], { concurrency: 3 });
    expect(app.reloadConfig()).toEqual({ ok: true });
    expect(app.sweeper.limit.concurrency).toBe(3);
  });

  it('reports a store that throws on reload as a failed reload', async () => {
    const { app, store } = make(makeConfig([]));
    store.reload = () => {
      throw new Error('EACCES: permission denied');
    };
    const res = await app.server.inject({ method: 'POST', url: '/-/reload' });
    expect([res.statusCode, res.body]).toEqual([500, 'failed to reload config: EACCES: permission denied\n']);
  });

  it('unsubscribes from the store on close', async () => {
    const { app, store } = make(makeConfig([]));
    expect(store.listenerCount).toBe(1);
    await app.close();
    await app.close();
    expect(store.listenerCount).toBe(0);
  });
});

// GET / and /target: test/server/page.test.ts.

describe('GET /metrics', () => {
  it('probes every static target and adds exporter metrics', async () => {
    const { app, fake } = make(makeConfig([target('a.test:443', { labels: { env: 'prod' } }), target('b.test:443')]));
    const res = await app.server.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m = parseExposition(res.body);
    expect(fake.calls.map((c) => c.target.target)).toEqual(['a.test:443', 'b.test:443']);
    expect(valueOf(m, 'ocsp_probe_success', { target: 'a.test:443', address: 'a.test:443', module: 'default', env: 'prod' })).toBe(1);
    expect(valueOf(m, 'ocsp_staple_valid', { target: 'b.test:443' })).toBe(1);
    expect(valueOf(m, 'ocsp_exporter_build_info', { version: VERSION, nodejs_version: process.version })).toBe(1);
    expect(valueOf(m, 'ocsp_exporter_config_last_reload_successful')).toBe(1);
    expect(valueOf(m, 'ocsp_exporter_config_last_reload_success_timestamp_seconds')).toBe(1_763_000_000);
    expect(valueOf(m, 'ocsp_exporter_targets')).toBe(2);
    expect(valueOf(m, 'ocsp_exporter_sweep_duration_seconds')).toBe(0);
    expect(valueOf(m, 'ocsp_exporter_sweep_probes', { result: 'probed' })).toBe(2);
    expect([...familyNames(m)].some((n) => n.startsWith('process_') || n.startsWith('nodejs_'))).toBe(false);
  });

  it('gzips the answer for a scraper that accepts gzip, as Prometheus does, and only then', async () => {
    const fleet = Array.from({ length: 200 }, (_, i) => target(`host-${i}.test:443`));
    const { app } = make(makeConfig(fleet));
    const plain = await app.server.inject('/metrics');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('accept-encoding');
    // What Prometheus sends.
    const zipped = await app.server.inject({ url: '/metrics', headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.statusCode).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = gunzipSync(zipped.rawPayload).toString('utf8');
    // Both answers come from one sweep's results; only the exporter's own timing families may differ.
    const perAddress = (body: string) => body.split('\n').filter((line) => line.startsWith('ocsp_') && !line.startsWith('ocsp_exporter_'));
    expect(perAddress(text)).toEqual(perAddress(plain.body));
    expect(perAddress(text).length).toBeGreaterThan(200 * 20);
    expect(zipped.rawPayload.length).toBeLessThan(plain.rawPayload.length / 10);
    const refused = await app.server.inject({ url: '/metrics', headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(perAddress(refused.body)).toEqual(perAddress(plain.body));
  });

  it('includes process and Node.js metrics when enabled', async () => {
    const { app } = make(makeConfig([target('a.test:443')]), { processMetrics: true });
    const m = parseExposition((await app.server.inject('/metrics')).body);
    expect(find(m, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(find(m, 'nodejs_heap_size_used_bytes')).toHaveLength(1);
    expect(valueOf(m, 'ocsp_probe_success', { target: 'a.test:443' })).toBe(1);
    // and never on /probe
    const p = parseExposition((await app.server.inject('/probe?target=a.test:443')).body);
    expect([...familyNames(p)].filter((n) => !n.startsWith('ocsp_probe') && !n.startsWith('ocsp_staple') && !n.startsWith('ocsp_cert') && !n.startsWith('ocsp_tls') && !n.startsWith('ocsp_chain'))).toEqual([]);
  });

  it('bounds each probe by the scrape timeout header minus 0.5 s, clamped to the module timeout', async () => {
    const { app, fake } = make(makeConfig([target('a.test:443'), target('b.test:443', { module: 'slow' })], { minProbeIntervalSeconds: 0 }, [{ name: 'slow', timeoutSeconds: 30 }]));
    const deadlines = async (header?: string): Promise<number[]> => {
      fake.calls.length = 0;
      await app.server.inject({ url: '/metrics', headers: header === undefined ? {} : { 'x-prometheus-scrape-timeout-seconds': header } });
      return fake.calls.map((c) => (c.deadlineMs - NOW_MS) / 1000);
    };
    expect(await deadlines('12')).toEqual([10, 11.5]);
    expect(await deadlines('5')).toEqual([4.5, 4.5]);
    expect(await deadlines(undefined)).toEqual([10, 30]);
    expect(await deadlines('0.4')).toEqual([0.2, 0.2]);
    expect(await deadlines('garbage')).toEqual([10, 30]);
    expect(await deadlines('-3')).toEqual([10, 30]);
  });

  it('shares one sweep between concurrent scrapes', async () => {
    const store = new FakeStore(makeConfig([target('a.test:443'), target('b.test:443')], { minProbeIntervalSeconds: 0 }));
    const fake = fakeProbe({ hold: true });
    const app = buildApp({ store, probe: fake.probe, now: () => NOW_MS, logLevel: 'silent', processMetrics: false, isAllowed: allowStaticAnd });
    apps.push(app);
    const scrapes = Array.from({ length: 10 }, () => app.server.inject('/metrics'));
    await until(() => fake.held.length === 2, 'both probes started');
    fake.releaseAll();
    const responses = await Promise.all(scrapes);
    expect(fake.calls).toHaveLength(2);
    for (const r of responses) expect(valueOf(parseExposition(r.body), 'ocsp_probe_success', { target: 'b.test:443' })).toBe(1);
  });

  it('answers a scrape with a short timeout in time although it joined a longer sweep', async () => {
    const store = new FakeStore(makeConfig([target('a.test:443')]));
    const fake = fakeProbe({ hold: true });
    const app = buildApp({ store, probe: fake.probe, now: () => NOW_MS, logLevel: 'silent', processMetrics: false, isAllowed: allowStaticAnd });
    apps.push(app);
    const unbounded = app.server.inject('/metrics'); // no header: module timeouts (10 s)
    await until(() => fake.held.length === 1, 'the probe started');
    const started = Date.now();
    const res = await app.server.inject({ url: '/metrics', headers: { 'x-prometheus-scrape-timeout-seconds': '0.8' } });
    expect(Date.now() - started).toBeLessThan(800);
    const m = parseExposition(res.body);
    expect(valueOf(m, 'ocsp_probe_success', { target: 'a.test:443' })).toBe(0);
    expect(valueOf(m, 'ocsp_probe_failure', { target: 'a.test:443', reason: 'timeout' })).toBe(1);
    fake.releaseAll();
    expect(valueOf(parseExposition((await unbounded).body), 'ocsp_probe_success', { target: 'a.test:443' })).toBe(1);
    expect(fake.calls).toHaveLength(1);
  });

  it("drops a removed target's series after a reload", async () => {
    const { app, store } = make(makeConfig([target('a.test:443'), target('b.test:443')]));
    expect(find(parseExposition((await app.server.inject('/metrics')).body), 'ocsp_probe_success')).toHaveLength(2);
    store.next = makeConfig([target('a.test:443')]);
    expect(app.reloadConfig().ok).toBe(true);
    const m = parseExposition((await app.server.inject('/metrics')).body);
    expect(find(m, 'ocsp_probe_success').map((s) => s.labels.target)).toEqual(['a.test:443']);
    expect(find(m, 'ocsp_staple_present', { target: 'b.test:443' })).toEqual([]);
  });

  it('reports a failed probe as data, not as an HTTP error', async () => {
    const fake = fakeProbe({ answer: (t) => [failedResult('connect', { target: t.target, address: '192.0.2.1:443' })] });
    const { app } = make(makeConfig([target('a.test:443')]), { probe: fake.probe });
    const res = await app.server.inject('/metrics');
    expect(res.statusCode).toBe(200);
    const m = parseExposition(res.body);
    expect(valueOf(m, 'ocsp_probe_success', { target: 'a.test:443' })).toBe(0);
    expect(valueOf(m, 'ocsp_probe_failure', { target: 'a.test:443', reason: 'connect' })).toBe(1);
  });

  it('follows a reloaded global.concurrency', async () => {
    const { app, store } = make(makeConfig([], { concurrency: 4 }));
    expect(app.sweeper.limit.concurrency).toBe(4);
    store.next = makeConfig([], { concurrency: 9 });
    await app.server.inject({ method: 'POST', url: '/-/reload' });
    expect(app.sweeper.limit.concurrency).toBe(9);
  });
});

describe('GET /probe', () => {
  it('probes an allowed target with a fresh registry and no exporter or process metrics', async () => {
    const { app, fake } = make(makeConfig([]), { processMetrics: true });
    const res = await app.server.inject('/probe?target=www.allowed.test:8443&module=default');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.target).toEqual({
      target: 'www.allowed.test:8443',
      host: 'www.allowed.test',
      port: 8443,
      module: 'default',
      serverName: null,
      labels: {},
    });
    const m = parseExposition(res.body);
    expect(valueOf(m, 'ocsp_probe_success', { target: 'www.allowed.test:8443', module: 'default' })).toBe(1);
    expect([...familyNames(m)].filter((n) => n.startsWith('ocsp_exporter') || n.startsWith('process_') || n.startsWith('nodejs_'))).toEqual([]);
  });

  it('accepts IPv4 and bracketed IPv6 literals and the default module', async () => {
    const allowAll = () => true;
    const { app, fake } = make(makeConfig([]), { isAllowed: allowAll });
    expect((await app.server.inject('/probe?target=192.0.2.7:443')).statusCode).toBe(200);
    expect((await app.server.inject('/probe?target=' + encodeURIComponent('[2001:db8::7]:443'))).statusCode).toBe(200);
    expect(fake.calls.map((c) => [c.target.host, c.target.port, c.module.name])).toEqual([
      ['192.0.2.7', 443, 'default'],
      ['2001:db8::7', 443, 'default'],
    ]);
  });

  it('passes a valid server_name through as SNI', async () => {
    const { app, fake } = make(makeConfig([]));
    const res = await app.server.inject('/probe?target=lb.allowed.test:443&server_name=www.example.com');
    expect(res.statusCode).toBe(200);
    expect(fake.calls[0]!.target.serverName).toBe('www.example.com');
  });

  it.each([
    ['', 'missing parameter "target" (expected host:port, e.g. /probe?target=example.com:443)'],
    ['target=', 'missing parameter "target" (expected host:port, e.g. /probe?target=example.com:443)'],
    ['target=a.test', 'invalid target: "a.test" has no port (did you mean "a.test:443"?)'],
    ['target=a.test:0', 'invalid target: "a.test:0" has port 0; ports are 1 to 65535'],
    ['target=a.test:65536', 'invalid target: "a.test:65536" has port 65536; ports are 1 to 65535'],
    ['target=a.test:https', 'invalid target: "a.test:https" has a port that is not a number: "https"'],
    ['target=https://a.test:443', 'invalid target: "https://a.test:443" is a URL, not host:port (did you mean "a.test:443"?)'],
    ['target=[a.test]:443', 'invalid target: "[a.test]:443": only IPv6 addresses go in brackets, and "a.test" is not one'],
    ['target=:443', 'invalid target: ":443" has no host (expected host:port, e.g. example.com:443 or [2001:db8::1]:443)'],
    ['target=a%20b.test:443', 'invalid target: "a b.test:443" contains whitespace (expected host:port, e.g. example.com:443 or [2001:db8::1]:443)'],
    ['target=a.test:443/x', 'invalid target: "a.test:443/x" contains "/": expected host:port without a path'],
    ['target=a.test:443&target=b.test:443', 'parameter "target" given more than once'],
    ['target=a.allowed.test:443&module=nope', 'unknown module "nope" (configured modules: default, strict)'],
    ['target=a.allowed.test:443&server_name=192.0.2.1', 'invalid server_name "192.0.2.1": expected a DNS name (SNI carries no IP addresses, RFC 6066 §3)'],
    ['target=a.allowed.test:443&server_name=bad_name!', 'invalid server_name "bad_name!": expected a DNS name (SNI carries no IP addresses, RFC 6066 §3)'],
  ])('answers 400 for "%s"', async (query, message) => {
    const { app, fake } = make(makeConfig([], {}, [{ name: 'strict' }]));
    const res = await app.server.inject(`/probe?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toBe(`${message}\n`);
    expect(fake.calls).toHaveLength(0);
  });

  it('refuses targets that are not allowed with 403, naming the config key that allows them but no file path', async () => {
    const { app, fake } = make(makeConfig([target('a.test:443')]));
    const res = await app.server.inject('/probe?target=169.254.169.254:80');
    expect(res.statusCode).toBe(403);
    expect(res.body).toBe(
      'target "169.254.169.254:80" is not allowed: /probe only probes the configured targets and those matching ' +
        "global.probe_allowlist in the exporter's config file\n",
    );
    expect(res.body).not.toContain('/etc/');
    expect((await app.server.inject('/probe?target=a.test:8443')).statusCode).toBe(403);
    expect((await app.server.inject('/probe?target=a.test:443')).statusCode).toBe(200);
    expect(fake.calls).toHaveLength(1);
  });

  it('reports a failed probe with 200 and ocsp_probe_success 0', async () => {
    const fake = fakeProbe({ answer: (t) => [failedResult('dns', { target: t.target, address: `${t.host}:${t.port}` })] });
    const { app } = make(makeConfig([]), { probe: fake.probe });
    const res = await app.server.inject('/probe?target=nx.allowed.test:443');
    expect(res.statusCode).toBe(200);
    const m = parseExposition(res.body);
    expect(valueOf(m, 'ocsp_probe_success', { target: 'nx.allowed.test:443' })).toBe(0);
    expect(valueOf(m, 'ocsp_probe_failure', { reason: 'dns' })).toBe(1);
  });

  it('derives the deadline from the scrape timeout header, clamped to the module timeout', async () => {
    const { app, fake } = make(makeConfig([], {}, [{ name: 'quick', timeoutSeconds: 2 }]));
    const deadline = async (url: string, header?: string): Promise<number> => {
      fake.calls.length = 0;
      await app.server.inject({ url, headers: header ? { 'X-Prometheus-Scrape-Timeout-Seconds': header } : {} });
      return (fake.calls[0]!.deadlineMs - NOW_MS) / 1000;
    };
    expect(await deadline('/probe?target=a.allowed.test:443', '3')).toBe(2.5);
    expect(await deadline('/probe?target=a.allowed.test:443')).toBe(10);
    expect(await deadline('/probe?target=a.allowed.test:443&module=quick', '3')).toBe(2);
  });

  it('bounds concurrent /probe requests and sweeps by the same limit', async () => {
    const store = new FakeStore(makeConfig([target('s1.test:443'), target('s2.test:443')], { concurrency: 2, minProbeIntervalSeconds: 0 }));
    const fake = fakeProbe({ hold: true });
    const app = buildApp({ store, probe: fake.probe, now: () => NOW_MS, logLevel: 'silent', processMetrics: false, isAllowed: () => true });
    apps.push(app);
    const requests = [
      ...Array.from({ length: 4 }, (_, i) => app.server.inject(`/probe?target=p${i}.test:443`)),
      app.server.inject('/metrics'),
    ];
    let released = 0;
    while (released < 6) {
      await until(() => fake.held.length > 0, 'a probe waiting');
      expect(fake.held.length).toBeLessThanOrEqual(2);
      fake.held.shift()!();
      released++;
    }
    const responses = await Promise.all(requests);
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(fake.maxActive).toBe(2);
  });
});

describe('listening and closing', () => {
  it('finishes an in-flight scrape on close, then refuses connections', async () => {
    const store = new FakeStore(makeConfig([target('a.test:443')]));
    const fake = fakeProbe({ hold: true });
    const app = buildApp({ store, probe: fake.probe, logLevel: 'silent', processMetrics: false, isAllowed: allowStaticAnd });
    apps.push(app);
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const inFlight = fetch(`${address}/metrics`);
    await until(() => fake.held.length === 1, 'the probe started');
    const closed = app.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(fetch(`${address}/-/healthy`)).rejects.toThrow();
    fake.releaseAll();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    expect(valueOf(parseExposition(await res.text()), 'ocsp_probe_success', { target: 'a.test:443' })).toBe(1);
    // The client's keep-alive socket must not hold close() open (Fastify advertises 72 s).
    const started = Date.now();
    await closed;
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('answers a failed reload with one short line and logs at most 4 KiB of the error, however long it is', async () => {
    const lines: string[] = [];
    const { app, store } = make(makeConfig([]), { logLevel: 'info', logStream: { write: (line: string) => lines.push(line) } });
    // A config error quoting a 266 KB value of the file, over several lines.
    const huge = `config.yaml:3: targets[0]: invalid target "${'x'.repeat(266_000)}"\nconfig.yaml:9: global.concurrency: must be at least 1`;
    store.next = { error: new Error(huge) };
    const res = await app.server.inject({ method: 'POST', url: '/-/reload' });
    expect(res.statusCode).toBe(500);
    expect(res.body.startsWith('failed to reload config: config.yaml:3: targets[0]: invalid target "xxx')).toBe(true);
    expect(res.body.length).toBeLessThan(600);
    expect(res.body.indexOf('\n')).toBe(res.body.length - 1);
    expect(res.body).toMatch(/… \(\d+ more characters\)\n$/);
    const failures = lines.map((l) => JSON.parse(l) as { msg: string; error?: string; err?: string }).filter((r) => r.msg.startsWith('configuration reload failed'));
    expect(failures.length).toBeGreaterThan(0);
    for (const record of failures) {
      const logged = record.error ?? record.err ?? '';
      expect(logged.startsWith('config.yaml:3:')).toBe(true);
      expect(logged.length).toBeLessThan(4096 + 40);
    }
    // SIGHUP takes the same path: the outcome carries no more than the log does.
    const outcome = app.reloadConfig();
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error.length).toBeLessThan(4096 + 40);
    // A short error is passed on whole, lines joined.
    store.next = { error: new Error('config.yaml:2: a\nconfig.yaml:4: b') };
    expect((await app.server.inject({ method: 'POST', url: '/-/reload' })).body).toBe('failed to reload config: config.yaml:2: a; config.yaml:4: b\n');
  });

  it('logs JSON lines at the configured level', async () => {
    const lines: string[] = [];
    const { app, store } = make(makeConfig([]), { logLevel: 'info', logStream: { write: (line: string) => lines.push(line) } });
    store.next = { error: new Error('line 2: unknown key "tragets"') };
    await app.server.inject({ method: 'POST', url: '/-/reload' });
    await app.server.inject('/-/healthy');
    const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string; error?: string });
    const failure = records.find((r) => r.msg === 'configuration reload failed; keeping the last good configuration' && r.error);
    expect(failure).toMatchObject({ level: 50, error: 'line 2: unknown key "tragets"' });
    // Request logging is at debug: nothing for /-/healthy at info.
    expect(records.some((r) => r.msg === 'request completed')).toBe(false);
  });
});
