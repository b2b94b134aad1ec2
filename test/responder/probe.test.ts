/**
 * The responder check inside a probe: a real loopback TLS server stapling an answer, a loopback
 * responder answering differently, and `probeTarget` (in-thread and through the worker-thread pool)
 * reporting both. Opt-in only: a module without `query_responder` never contacts the responder, and
 * probes on different worker threads still share one request per certificate.
 */
import { once } from 'node:events';
import type net from 'node:net';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { addProbeMetrics } from '../../src/metrics/collect.js';
import { chainPem, type Issued } from '../../src/pki/index.js';
import { createProbePool } from '../../src/probe/pool.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.js';
import { sharedAnswerCache } from '../../src/responder/index.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { LOOPBACK_ALLOWED, sendDer, startHttpServer, type TestHttpServer } from './support.js';

let pki: TestPki;
let tlsPort = 0;
let tlsServer: tls.Server;
let revokedResponder: TestHttpServer;

async function stapleServer(leaf: Issued, staple: Uint8Array): Promise<tls.Server> {
  const server = tls.createServer({ key: leaf.keyPem, cert: chainPem(leaf) });
  server.on('OCSPRequest', (_c: Buffer, _i: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => callback(null, Buffer.from(staple)));
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const target = (): ProbeTarget => ({ target: `127.0.0.1:${tlsPort}`, host: '127.0.0.1', port: tlsPort, module: 'm', serverName: 'localhost', labels: {} });
const moduleWith = (extra: Partial<ModuleConfig>): ModuleConfig => ({ ...defaultModule('m'), timeoutSeconds: 3, caPem: pki.root.pem, responderDestinations: LOOPBACK_ALLOWED, ...extra });

beforeAll(async () => {
  pki = await makeTestPki();
  // The staple says good; the CA's responder already says revoked.
  tlsServer = await stapleServer(pki.leafEcdsa, await stapleFor(pki, pki.leafEcdsa));
  tlsPort = (tlsServer.address() as net.AddressInfo).port;
  const revoked = await stapleFor(pki, pki.leafEcdsa, { status: 'revoked', signer: pki.responder });
  revokedResponder = await startHttpServer((_, res) => sendDer(res, revoked));
});

beforeEach(() => {
  sharedAnswerCache.clear();
  revokedResponder.requests.length = 0;
});

afterAll(async () => {
  await revokedResponder.close();
  await new Promise((resolve) => tlsServer.close(resolve));
});

describe('probeTarget with query_responder', () => {
  it('reports the staple and the responder side by side: good staple, revoked answer', async () => {
    const [result] = await probeTarget(target(), moduleWith({ queryResponder: true, responderUrl: revokedResponder.url }), Date.now() + 3000);
    expect(result!.success).toBe(true);
    expect(result!.staple?.verdict?.single?.certStatus).toBe('good');
    expect(result!.responder).toMatchObject({ up: true, url: revokedResponder.url, urlSource: 'config', source: 'network' });
    expect(result!.responder?.verdict?.single?.certStatus).toBe('revoked');
    expect(result!.chainResponders).toBeUndefined();
    expect(revokedResponder.requests).toHaveLength(1);
  });

  it("asks the responder under the module's ip_protocol", async () => {
    const families: number[] = [];
    const port = new URL(revokedResponder.url).port;
    // The target is an IPv4 literal (no lookup); only the responder's name goes through this
    // lookup, which answers like getaddrinfo for a dual-stack name, IPv6 first.
    const lookup = async (_host: string, options: { family: 0 | 4 | 6 }) => {
      families.push(options.family);
      const all = [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ];
      return all.filter((a) => options.family === 0 || a.family === options.family);
    };
    const responderUrl = `http://ocsp.lab.test:${port}/`;
    const [v4] = await probeTarget(target(), moduleWith({ queryResponder: true, responderUrl, ipProtocol: 'ip4' }), Date.now() + 3000, { lookup });
    expect(v4!.responder).toMatchObject({ up: true });
    // 'any' takes the first answer, ::1, where nothing listens; not served from the ip4 answer,
    // because the family is part of the answer cache's key.
    const [any] = await probeTarget(target(), moduleWith({ queryResponder: true, responderUrl, ipProtocol: 'any' }), Date.now() + 3000, { lookup });
    expect(any!.responder).toMatchObject({ up: false, problems: ['connect'] });
    expect(families).toEqual([4, 0]);
  });

  it('never contacts the responder unless the module opts in', async () => {
    const [result] = await probeTarget(target(), moduleWith({ responderUrl: revokedResponder.url }), Date.now() + 3000);
    expect(result!.responder).toBeUndefined();
    expect(revokedResponder.requests).toHaveLength(0);
  });

  it('keeps the probe a success when the responder fails, and stays within the deadline', async () => {
    const hang = await startHttpServer(() => undefined);
    try {
      const started = Date.now();
      const [result] = await probeTarget(target(), moduleWith({ queryResponder: true, responderUrl: hang.url }), started + 800);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(result!.success).toBe(true);
      expect(result!.staple?.verdict?.valid).toBe(true);
      expect(result!.responder).toMatchObject({ up: false, problems: ['timeout'] });
    } finally {
      await hang.close();
    }
  });

  it('asks the chain responders when query_chain_responders is set (none here: no intermediate names one)', async () => {
    const [result] = await probeTarget(target(), moduleWith({ queryChainResponders: true }), Date.now() + 3000);
    expect(result!.responder).toBeUndefined();
    // chainPem(leaf) sends leaf + intermediate (the root comes from the CA file); the intermediate has no AIA OCSP URL.
    expect(result!.chainResponders).toEqual([
      expect.objectContaining({ depth: 1, subject: 'CN=Test Intermediate CA', issuerSource: 'ca_file', responder: expect.objectContaining({ problems: ['no_url'] }) }),
    ]);
  });

  it('shares one request between probes on different worker threads', async () => {
    const pool = createProbePool({ workers: 2 });
    try {
      const module = moduleWith({ queryResponder: true, responderUrl: revokedResponder.url });
      const results = (await Promise.all(Array.from({ length: 40 }, () => pool.probe(target(), module, Date.now() + 5000)))).flat();
      expect(results.every((r) => r.success && r.responder?.up === true)).toBe(true);
      expect(results.every((r) => r.responder?.verdict?.single?.certStatus === 'revoked')).toBe(true);
      expect(revokedResponder.requests).toHaveLength(1);
      expect(results.filter((r) => r.responder?.source === 'network')).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });
});

async function exposition(results: ProbeResult[]): Promise<string[]> {
  const registry = new Registry();
  addProbeMetrics(registry, results, Date.now());
  return (await registry.metrics()).split('\n').filter((line) => line.startsWith('ocsp_responder') || line.startsWith('ocsp_cert_revoked') || line.startsWith('ocsp_chain_responder') || line.startsWith('ocsp_chain_cert'));
}

describe('responder metrics', () => {
  it('says revoked when the responder does although the staple says good, with the answer dates', async () => {
    const results = await probeTarget(target(), moduleWith({ queryResponder: true, responderUrl: revokedResponder.url }), Date.now() + 3000);
    const lines = await exposition(results);
    const labels = `target="127.0.0.1:${tlsPort}",address="127.0.0.1:${tlsPort}",module="m"`;
    const single = results[0]!.responder!.verdict!.single!;
    expect(lines).toEqual(
      expect.arrayContaining([
        `ocsp_cert_revoked{${labels}} 1`,
        `ocsp_responder_up{${labels}} 1`,
        `ocsp_responder_cache_hit{${labels}} 0`,
        `ocsp_responder_cert_status{${labels},status="good"} 0`,
        `ocsp_responder_cert_status{${labels},status="revoked"} 1`,
        `ocsp_responder_cert_status{${labels},status="unknown"} 0`,
        `ocsp_responder_this_update_timestamp_seconds{${labels}} ${single.thisUpdate.getTime() / 1000}`,
        `ocsp_responder_next_update_timestamp_seconds{${labels}} ${single.nextUpdate!.getTime() / 1000}`,
      ]),
    );
    expect(lines.some((l) => /^ocsp_responder_duration_seconds\{.*\} 0\.\d+/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('ocsp_responder_problem{'))).toBe(false);
    // The second probe reuses the answer.
    const again = await exposition(await probeTarget(target(), moduleWith({ queryResponder: true, responderUrl: revokedResponder.url }), Date.now() + 3000));
    expect(again).toContain(`ocsp_responder_cache_hit{${labels}} 1`);
  });

  it('reports a redirecting responder as down with its problem, no status, and revocation from the staple only', async () => {
    const redirect = await startHttpServer((_, res) => {
      res.writeHead(301, { Location: 'http://elsewhere.example/' });
      res.end();
    });
    try {
      const lines = await exposition(await probeTarget(target(), moduleWith({ queryResponder: true, responderUrl: redirect.url }), Date.now() + 3000));
      expect(lines.filter((l) => !l.startsWith('ocsp_responder_duration') && !l.startsWith('ocsp_responder_fetch'))).toEqual([
        expect.stringMatching(/^ocsp_cert_revoked\{.*\} 0$/),
        expect.stringMatching(/^ocsp_responder_problem\{.*,problem="redirect"\} 1$/),
        expect.stringMatching(/^ocsp_responder_up\{.*\} 0$/),
        expect.stringMatching(/^ocsp_responder_cache_hit\{.*\} 0$/),
      ]);
    } finally {
      await redirect.close();
    }
  });

  it('has only the no_url problem for a certificate naming no responder, and chain series per depth', async () => {
    const results = await probeTarget(target(), moduleWith({ queryChainResponders: true }), Date.now() + 3000);
    expect(await exposition(results)).toEqual([
      expect.stringMatching(/^ocsp_cert_revoked\{.*\} 0$/),
      expect.stringMatching(/^ocsp_chain_responder_problem\{.*,depth="1",problem="no_url"\} 1$/),
    ]);
  });
});
