/**
 * The responder check inside a probe: a real loopback TLS server stapling an answer, a loopback
 * responder answering differently, and `probeTarget` (in-thread and through the worker-thread pool)
 * reporting both. Opt-in only: a module without `query_responder` never contacts the responder, and
 * probes on different worker threads still share one request per certificate.
 */
import { once } from 'node:events';
import type net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { chainPem, type Issued } from '../../src/pki/index.js';
import { createProbePool } from '../../src/probe/pool.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeTarget } from '../../src/probe/types.js';
import { sharedAnswerCache } from '../../src/responder/index.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { sendDer, startHttpServer, type TestHttpServer } from './support.js';

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
const moduleWith = (extra: Partial<ModuleConfig>): ModuleConfig => ({ ...defaultModule('m'), timeoutSeconds: 3, caPem: pki.root.pem, ...extra });

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
    // chainPem(leaf) sends leaf, intermediate and root; the root is skipped, the intermediate has no AIA OCSP URL.
    expect(result!.chainResponders).toEqual([
      expect.objectContaining({ depth: 1, subject: 'CN=Test Intermediate CA', issuerSource: 'chain', responder: expect.objectContaining({ problems: ['no_url'] }) }),
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
