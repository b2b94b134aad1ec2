/**
 * Slow and idle clients on the real listening exporter (buildApp on 127.0.0.1:0, raw sockets): a
 * client trickling one header line at a time, or sending nothing, is answered 408 and cut at the
 * headers timeout; connections beyond the cap are closed as soon as they are accepted; and a scrape
 * whose answer takes longer than the request timeout is still answered (that timeout counts only
 * receiving the request). Small limits through AppDeps.httpLimits keep it to a few seconds; the
 * defaults are checked as documented.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, HTTP_SERVER_LIMITS, type App, type AppDeps } from '../../src/app.js';
import { makeTestPki } from '../helpers/pki.js';
import { FakeStore, fakeProbe, makeConfig, target } from '../server/fakes.js';

const apps: App[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function serve(deps: Partial<AppDeps> = {}): Promise<{ app: App; port: number }> {
  const app = buildApp({ store: new FakeStore(makeConfig([target('a.test:443')])), logLevel: 'silent', processMetrics: false, ...deps });
  apps.push(app);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: Number(new URL(base).port) };
}

/** A raw connection recording what it receives and when it closes (ms since connecting). */
async function connect(port: number): Promise<{ socket: net.Socket; received: () => string; closedAfter: Promise<number> }> {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  socket.on('data', (chunk) => (received += String(chunk)));
  socket.on('error', () => {});
  const started = performance.now();
  const closedAfter = once(socket, 'close').then(() => performance.now() - started);
  await once(socket, 'connect');
  return { socket, received: () => received, closedAfter };
}

/** `promise`'s value, or null when it takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  return Promise.race([promise, sleep(ms).then(() => null)]);
}

const HEADERS_TIMEOUT_MS = 600;
const small = { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 1_000, timeoutCheckIntervalMs: 100 };

describe('slow and idle clients', () => {
  it('a client sending one header line at a time is answered 408 and closed at the headers timeout', async () => {
    const { port } = await serve({ httpLimits: small });
    const client = await connect(port);
    client.socket.write('GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let line = 0;
    const trickle = setInterval(() => client.socket.writable && client.socket.write(`X-Slow-${line++}: still here\r\n`), 100);
    try {
      const closedAfter = await within(client.closedAfter, 3_000);
      expect(closedAfter).not.toBeNull();
      expect(closedAfter!).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(closedAfter!).toBeLessThan(HEADERS_TIMEOUT_MS + 100 + 500);
      expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(trickle);
    }
  });

  it('a client that connects and sends nothing is closed at the headers timeout', async () => {
    const { port } = await serve({ httpLimits: small });
    const client = await connect(port);
    const closedAfter = await within(client.closedAfter, 3_000);
    expect(closedAfter).not.toBeNull();
    expect(closedAfter!).toBeLessThan(HEADERS_TIMEOUT_MS + 100 + 500);
  });

  it('over TLS, a client that never finishes the handshake is dropped at the handshake timeout', async () => {
    const pki = await makeTestPki();
    const https = { cert: pki.leafEcdsa.pem + pki.intermediate.pem, key: pki.leafEcdsa.keyPem };
    // Headers may take 5 s here: only the handshake timeout can cut the client within the second.
    const { port } = await serve({ https, httpLimits: { headersTimeoutMs: 5_000, requestTimeoutMs: 5_000, timeoutCheckIntervalMs: 100, tlsHandshakeTimeoutMs: 600 } });
    const client = await connect(port);
    // The first bytes of a TLS record, then silence.
    client.socket.write(Buffer.from([0x16, 0x03, 0x01]));
    const closedAfter = await within(client.closedAfter, 3_000);
    expect(closedAfter).not.toBeNull();
    expect(closedAfter!).toBeLessThan(600 + 500);

    // After a handshake, the headers timeout applies as over plain HTTP.
    const { port: tlsPort } = await serve({ https, httpLimits: small });
    const secure = tls.connect({ port: tlsPort, host: '127.0.0.1', rejectUnauthorized: false });
    sockets.push(secure);
    secure.on('error', () => {});
    let received = '';
    secure.on('data', (chunk) => (received += String(chunk)));
    await once(secure, 'secureConnect');
    const started = performance.now();
    secure.write('GET /-/healthy HTTP/1.1\r\nHost: x\r\n');
    await within(once(secure, 'close'), 3_000);
    expect(performance.now() - started).toBeLessThan(HEADERS_TIMEOUT_MS + 100 + 500);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('connections beyond the cap are closed at once; a place freed is usable again', async () => {
    const { port } = await serve({ httpLimits: { maxConnections: 3 } });
    const held = [await connect(port), await connect(port), await connect(port)];
    for (const client of held) client.socket.write('GET /-/healthy HTTP/1.1\r\nHost: x\r\n');
    const refused = await connect(port);
    refused.socket.write('GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n');
    const closedAfter = await within(refused.closedAfter, 2_000);
    expect(closedAfter).not.toBeNull();
    expect(refused.received()).toBe('');
    // The held ones are still served.
    held[0]!.socket.write('\r\n');
    await expect.poll(() => held[0]!.received(), { timeout: 2_000 }).toMatch(/^HTTP\/1\.1 200 /);
    held[1]!.socket.destroy();
    await once(held[1]!.socket, 'close');
    await sleep(50);
    const next = await connect(port);
    next.socket.write('GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await next.closedAfter;
    expect(next.received()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a scrape answered later than the request timeout is still answered (long scrapes are not cut)', async () => {
    const fake = fakeProbe({ hold: true });
    const { port } = await serve({ probe: fake.probe, httpLimits: { ...small, idleTimeoutMs: 5_000 } });
    const client = await connect(port);
    client.socket.write('GET /probe?target=a.test:443 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await sleep(1_600);
    fake.releaseAll();
    await within(client.closedAfter, 3_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(client.received()).toContain('ocsp_probe_success');
  });

  it('has the documented defaults: 10 s for headers, 30 s for the request, 10 min idle, 72 s keep-alive, 512 connections', async () => {
    expect(HTTP_SERVER_LIMITS).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      timeoutCheckIntervalMs: 1_000,
      idleTimeoutMs: 600_000,
      keepAliveTimeoutMs: 72_000,
      tlsHandshakeTimeoutMs: 10_000,
      maxConnections: 512,
    });
    // A silent socket must outlast the longest module timeout (300 s) a scrape without a deadline header can take.
    expect(HTTP_SERVER_LIMITS.idleTimeoutMs).toBeGreaterThan(300_000);
    const { app } = await serve();
    const node = app.server.server;
    expect([node.headersTimeout, node.requestTimeout, node.keepAliveTimeout, node.timeout, node.maxConnections]).toEqual([
      10_000, 30_000, 72_000, 600_000, 512,
    ]);
  });
});
