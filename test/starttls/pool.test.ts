/**
 * A module's `starttls` reaches the probe worker threads: modules travel to workers whole (structured
 * clone, pool-messages.ts), so a STARTTLS probe through the pool must equal one on this thread.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { createProbePool, type ProbePool } from '../../src/probe/pool.js';
import { makeTestPki, stapleFor } from '../helpers/pki.js';
import { startStarttlsServer, type StarttlsTestServer } from './support.js';

let server: StarttlsTestServer;
let pool: ProbePool;
let module: ModuleConfig;

beforeAll(async () => {
  const pki = await makeTestPki();
  server = await startStarttlsServer(
    { keyPem: pki.leafEcdsa.keyPem, certPem: pki.leafEcdsa.pem + pki.intermediate.pem, staple: await stapleFor(pki, pki.leafEcdsa) },
    async (peer) => {
      peer.write('+OK ready\r\n');
      if ((await peer.readLine()) !== 'CAPA') return;
      peer.write('+OK\r\nSTLS\r\n.\r\n');
      if ((await peer.readLine()) !== 'STLS') return;
      peer.write('+OK go\r\n');
      peer.upgrade();
    },
  );
  module = { ...defaultModule('pop3'), starttls: 'pop3', caPem: pki.root.pem, timeoutSeconds: 10 };
  pool = createProbePool({ workers: 1 });
  await pool.ready();
});

afterAll(async () => {
  await pool?.close();
  await server?.close();
});

it('a POP3 STLS probe through a worker thread reports the staple', async () => {
  const target = { target: `127.0.0.1:${server.port}`, host: '127.0.0.1', port: server.port, module: 'pop3', serverName: 'localhost', labels: {} };
  const [result] = await pool.probe(target, module, Date.now() + 10_000);
  expect(result).toMatchObject({ success: true, error: null, chain: { verified: true, length: 2 } });
  expect(result!.staple).toMatchObject({ present: true, verdict: { valid: true } });
});
