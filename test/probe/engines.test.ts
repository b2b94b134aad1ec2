/**
 * Which engine runs a probe's handshake, and the hand-over from the native engine to Node's: a
 * server refusing what the native engine offers (`refused`), a native handshake that fails where
 * Node's succeeds (`failed`), both failing (Node's words reported), and what is never handed over
 * (connection failures, timeouts). Real in-process servers on loopback; the counter is read from a
 * real exporter's /metrics.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { defaultEngineFrom, engineOf } from '../../src/probe/engines.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { FakeStore, makeConfig, target } from '../server/fakes.js';
import * as H from '../hardening/hostile.js';

let pki: TestPki;
let staple: Buffer;
const closers: (() => void)[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
  staple = Buffer.from(await stapleFor(pki, pki.leafEcdsa));
});

afterAll(async () => {
  for (const close of closers) close();
  await H.closeAll();
});

/** A TLS server stapling the leaf's good response (test/hardening/hostile.ts), with more of Node's server options. */
async function tlsServer(options: tls.TlsOptions = {}): Promise<number> {
  return (await H.stapleServer({ key: pki.leafEcdsa.keyPem, cert: pki.leafEcdsa.pem + pki.intermediate.pem, staple, tls: options })).port;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

/**
 * A server whose first `junkConnections` connections are answered with an HTTP error instead of
 * TLS; the later ones are relayed to a real TLS server. Counts connections, so a test sees how
 * many handshakes ran.
 */
async function junkThenTls(junkConnections: number): Promise<{ port: number; connections: () => number }> {
  const tlsPort = await tlsServer();
  let connections = 0;
  const outer = net.createServer((socket) => {
    socket.on('error', () => undefined);
    if (++connections <= junkConnections) {
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
      return;
    }
    const upstream = net.connect(tlsPort, '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  return { port: await listen(outer), connections: () => connections };
}

const nativeModule: ModuleConfig = { ...defaultModule('m'), handshake: 'native', timeoutSeconds: 3, serverName: 'localhost', caPem: '' };

async function probeOnce(port: number, module: ModuleConfig = nativeModule): Promise<ProbeResult> {
  const results = await probeTarget({ ...target(`127.0.0.1:${port}`), module: module.name }, module, Date.now() + module.timeoutSeconds * 1000);
  expect(results).toHaveLength(1);
  return results[0]!;
}

describe('the engine a module gets', () => {
  it('native by default; OCSP_EXPORTER_HANDSHAKE=node switches the default; anything else is an error', () => {
    expect(defaultEngineFrom(undefined)).toBe('native');
    expect(defaultEngineFrom('')).toBe('native');
    expect(defaultEngineFrom('node')).toBe('node');
    expect(defaultEngineFrom('native')).toBe('native');
    expect(() => defaultEngineFrom('openssl')).toThrow(/OCSP_EXPORTER_HANDSHAKE="openssl": use native or node/);
  });

  it("a module's own handshake wins; a client certificate means Node's engine unless said otherwise", () => {
    expect(engineOf({ ...defaultModule('a'), handshake: 'node' })).toBe('node');
    expect(engineOf({ ...defaultModule('b'), handshake: 'native' })).toBe('native');
    expect(engineOf({ ...defaultModule('c'), clientCertPem: 'PEM' })).toBe('node');
  });
});

describe("the native engine hands over to Node's", () => {
  it('refused: a server with only CBC suites is probed by Node, which speaks them', async () => {
    const port = await tlsServer({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' });
    const result = await probeOnce(port);
    expect(result.success).toBe(true);
    expect(result.tls?.cipher).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256');
    expect(result.staple?.present).toBe(true);
    expect(result.handshake).toMatchObject({ engine: 'node', fallback: { reason: 'refused', why: expect.stringMatching(/handshake_failure/) } });
    expect(result.log?.map((l) => l.text)).toContainEqual(expect.stringMatching(/^native engine: .*handshake_failure.*; running Node's handshake instead$/));
  });

  it('failed: where the native handshake fails and Node succeeds, Node\'s result is the probe\'s', async () => {
    const server = await junkThenTls(1);
    const result = await probeOnce(server.port);
    expect(server.connections()).toBe(2);
    expect(result.success).toBe(true);
    expect(result.staple?.verdict).toMatchObject({ valid: true, single: { certStatus: 'good' } });
    expect(result.handshake).toMatchObject({ engine: 'node', fallback: { reason: 'failed', why: expect.stringMatching(/did not answer with TLS/) } });
  });

  it("failed on both: the probe fails with Node's words, and says the native engine tried first", async () => {
    const server = await junkThenTls(Number.POSITIVE_INFINITY);
    const result = await probeOnce(server.port);
    expect(server.connections()).toBe(2);
    expect(result).toMatchObject({ success: false, failureReason: 'tls', error: expect.stringMatching(/wrong version number|packet length too long/) });
    expect(result.handshake).toMatchObject({ engine: 'node', fallback: { reason: 'failed' } });
  });

  it('never for a refused connection, a server that drops it, or one that never answers: one attempt, its own answer', async () => {
    const closed = net.createServer();
    const closedPort = await listen(closed);
    closed.close();
    const refused = await probeOnce(closedPort);
    expect(refused).toMatchObject({ success: false, failureReason: 'connect', handshake: { engine: 'native', fallback: null } });

    let droppedConnections = 0;
    const dropper = net.createServer((socket) => {
      droppedConnections++;
      socket.on('error', () => undefined);
      socket.once('data', () => socket.destroy());
    });
    const dropped = await probeOnce(await listen(dropper));
    expect(dropped).toMatchObject({ success: false, failureReason: 'tls', error: 'connection closed during handshake', handshake: { engine: 'native', fallback: null } });
    expect(droppedConnections).toBe(1);

    let silentConnections = 0;
    const silent = net.createServer((socket) => {
      silentConnections++;
      socket.on('error', () => undefined);
    });
    const silentPort = await listen(silent);
    const startedMs = Date.now();
    const hung = await probeOnce(silentPort, { ...nativeModule, timeoutSeconds: 0.5 });
    expect(hung).toMatchObject({ success: false, failureReason: 'timeout', handshake: { engine: 'native', fallback: null } });
    expect(silentConnections).toBe(1);
    // One deadline for both engines: no second handshake after it.
    expect(Date.now() - startedMs).toBeLessThan(1500);
  });

  it('counts each hand-over by reason in ocsp_exporter_handshake_fallbacks_total', async () => {
    const cbcPort = await tlsServer({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' });
    const junk = await junkThenTls(Number.POSITIVE_INFINITY);
    const goodPort = await tlsServer();
    const module = { ...nativeModule, name: 'default' };
    const config = makeConfig([target(`127.0.0.1:${cbcPort}`), target(`127.0.0.1:${junk.port}`), target(`127.0.0.1:${goodPort}`)], { minProbeIntervalSeconds: 0 }, [module]);
    const app = buildApp({ store: new FakeStore(config), logLevel: 'silent', processMetrics: false });
    try {
      const base = await app.listen({ host: '127.0.0.1', port: 0 });
      for (let scrape = 1; scrape <= 2; scrape++) {
        const text = await (await fetch(`${base}/metrics`)).text();
        expect(text).toContain(`ocsp_exporter_handshake_fallbacks_total{reason="refused"} ${scrape}\n`);
        expect(text).toContain(`ocsp_exporter_handshake_fallbacks_total{reason="failed"} ${scrape}\n`);
      }
    } finally {
      await app.close();
    }
  });
});
