/**
 * The probe concurrency bound under hostile load, with real loopback servers and the real probe:
 * a flood of `/probe` requests at an allowed target that accepts TCP and never answers must not
 * make `/metrics` miss its scrape deadline nor keep the static targets from being probed, and a
 * `probe_all_addresses` name with many addresses must not open more connections than
 * `global.concurrency`.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import type { LookupFn } from '../../src/net/resolve.js';
import { chainPem } from '../../src/pki/index.js';
import { withDeadline } from '../../src/util/deadline.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { startSilentServer } from '../helpers/servers.js';
import { find, parseExposition, valueOf } from '../metrics/exposition.js';
import { FakeStore, makeConfig, target } from '../server/fakes.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});

function appFor(store: FakeStore, lookup?: LookupFn): App {
  const app = buildApp({ store, logLevel: 'silent', processMetrics: false, ...(lookup ? { lookup } : {}) });
  cleanups.push(() => app.close());
  return app;
}

/** A TLS server on 127.0.0.1 that completes handshakes and hangs up: a healthy, fast target. */
async function healthyTlsServer(): Promise<number> {
  const server = tls.createServer({ key: pki.leafEcdsa.keyPem, cert: chainPem(pki.leafEcdsa) });
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error(`never happened: ${what}`);
}

describe('a /probe flood at a target that never answers', () => {
  it('leaves /metrics answering within its scrape budget, with the static targets probed', async () => {
    const silent = await startSilentServer();
    const healthy = [await healthyTlsServer(), await healthyTlsServer()];
    const statics = healthy.map((port) => target(`127.0.0.1:${port}`));
    const config = makeConfig(statics, { concurrency: 4, minProbeIntervalSeconds: 0, probeAllowlist: [`127.0.0.1:${silent.port}`] });
    const app = appFor(new FakeStore(config));

    // No scrape header: each of these holds a slot for the module's 10 s timeout.
    const flood = Array.from({ length: 100 }, () => app.server.inject(`/probe?target=127.0.0.1:${silent.port}`));
    await until(() => app.sweeper.limit.activeCount >= 2, 'the flood holding probe slots');

    const started = Date.now();
    // Budget 2 s − 0.5 s = 1.5 s; a fixed wait bounds the test when the answer does not come.
    const scrape = app.server.inject({ url: '/metrics', headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '2' } });
    const res = await withDeadline(scrape, started + 5_000);
    const elapsedMs = Date.now() - started;

    // The flood ends quickly once its target stops accepting (refused connections fail at once).
    await silent.close();
    await Promise.all(flood);

    expect(res, 'no /metrics answer within 5 s').not.toBeNull();
    expect(res!.statusCode).toBe(200);
    expect(elapsedMs).toBeLessThan(1_500 + 500);
    const metrics = parseExposition(res!.body);
    for (const t of statics) expect(valueOf(metrics, 'ocsp_probe_success', { target: t.target }), t.target).toBe(1);
  }, 30_000);

  it('answers a /probe still waiting for a slot at its deadline as a timeout at that deadline', async () => {
    const silent = await startSilentServer();
    cleanups.push(() => silent.close());
    const config = makeConfig([], { concurrency: 2, probeAllowlist: [`127.0.0.1:${silent.port}`] });
    const app = appFor(new FakeStore(config));
    const holders = Array.from({ length: 2 }, () => app.server.inject(`/probe?target=127.0.0.1:${silent.port}`));
    await until(() => app.sweeper.limit.activeCount === 2, 'both slots taken');

    const started = Date.now();
    const res = await app.server.inject({
      url: `/probe?target=127.0.0.1:${silent.port}`,
      headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '1' },
    });
    const elapsedMs = Date.now() - started;
    await silent.close();
    await Promise.all(holders);

    expect(elapsedMs).toBeGreaterThanOrEqual(450);
    expect(elapsedMs).toBeLessThan(1_000);
    const metrics = parseExposition(res.body);
    expect(valueOf(metrics, 'ocsp_probe_failure', { reason: 'timeout' })).toBe(1);
  }, 30_000);
});

/**
 * Listeners on 127.0.0.1 … 127.0.0.n, all on one port (a name's addresses share the target's
 * port), counting simultaneous connections. Each connection is held for a while and then dropped,
 * so connections of a probe overlap when they are opened together.
 */
async function countingServers(n: number, holdMs = 40) {
  const counts = { current: 0, max: 0, total: 0 };
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  let port = 0;
  for (let i = 1; i <= n; i++) {
    const server = net.createServer((socket) => {
      counts.current++;
      counts.total++;
      counts.max = Math.max(counts.max, counts.current);
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        counts.current--;
      });
      setTimeout(() => socket.destroy(), holdMs);
    });
    server.listen(port, `127.0.0.${i}`);
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    servers.push(server);
  }
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });
  const addresses = Array.from({ length: n }, (_, i) => ({ address: `127.0.0.${i + 1}`, family: 4 }));
  const lookup: LookupFn = async (host) => {
    if (host !== 'pool.test') throw Object.assign(new Error(`no such name ${host}`), { code: 'ENOTFOUND' });
    return addresses;
  };
  return { counts, port, lookup };
}

describe('probe_all_addresses under global.concurrency', () => {
  const ADDRESSES = 24;

  function poolConfig(port: number, concurrency: number) {
    const all = { name: 'all', probeAllAddresses: true };
    return makeConfig([target(`pool.test:${port}`, { module: 'all' })], { concurrency, minProbeIntervalSeconds: 0 }, [all]);
  }

  it('opens at most global.concurrency connections for a /metrics sweep of a many-address name', async () => {
    const { counts, port, lookup } = await countingServers(ADDRESSES);
    const app = appFor(new FakeStore(poolConfig(port, 4)), lookup);
    const res = await app.server.inject('/metrics');
    const series = find(parseExposition(res.body), 'ocsp_probe_success');
    expect(series.map((s) => s.labels.address).sort()).toEqual(
      Array.from({ length: ADDRESSES }, (_, i) => `127.0.0.${i + 1}:${port}`).sort(),
    );
    expect(counts.total).toBe(ADDRESSES);
    expect(counts.max).toBeLessThanOrEqual(4);
    expect(counts.max).toBeGreaterThan(1); // the addresses still run side by side
  }, 30_000);

  it('keeps /probe of such a name within its share of the slots', async () => {
    const { counts, port, lookup } = await countingServers(ADDRESSES);
    const app = appFor(new FakeStore(poolConfig(port, 4)), lookup);
    const res = await app.server.inject(`/probe?target=pool.test:${port}&module=all`);
    expect(find(parseExposition(res.body), 'ocsp_probe_success')).toHaveLength(ADDRESSES);
    expect(counts.total).toBe(ADDRESSES);
    // A static target is configured, so /probe may hold half of the 4 slots.
    expect(counts.max).toBeLessThanOrEqual(2);
  }, 30_000);

  it('probes every address one at a time at concurrency 1, without deadlocking', async () => {
    const { counts, port, lookup } = await countingServers(8, 10);
    const app = appFor(new FakeStore(poolConfig(port, 1)), lookup);
    const res = await withDeadline(app.server.inject('/metrics'), Date.now() + 10_000);
    expect(res, 'no /metrics answer within 10 s').not.toBeNull();
    expect(find(parseExposition(res!.body), 'ocsp_probe_success')).toHaveLength(8);
    expect(counts.max).toBe(1);
  }, 30_000);
});
