/**
 * `/probe?…&debug=true` through the whole app against a real in-process TLS server stapling a good
 * answer: plain text with the probe's log ("Logs for the probe:", each step) and then the metrics
 * it would have returned ("Metrics that would have been returned:"), as blackbox_exporter answers;
 * `debug` accepts only true or false; the allowlist applies as to every /probe; the probe is
 * recorded in the history either way.
 */
import { once } from 'node:events';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildApp, type App } from '../../src/app.js';
import { chainPem } from '../../src/pki/index.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { FakeStore, makeConfig } from './fakes.js';

let pki: TestPki;
let server: tls.Server;
let port = 0;
let app: App;
let staple: Uint8Array;

beforeAll(async () => {
  pki = await makeTestPki();
  staple = await stapleFor(pki, pki.leafEcdsa);
  server = tls.createServer({ key: pki.leafEcdsa.keyPem, cert: chainPem(pki.leafEcdsa) });
  server.on('OCSPRequest', (_c: Buffer, _i: Buffer, callback: (error: Error | null, response?: Buffer) => void) => callback(null, Buffer.from(staple)));
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
  const config = makeConfig([], { probeAllowlist: ['127.0.0.1/32'] }, [{ name: 'default', caPem: pki.root.pem, timeoutSeconds: 3 }]);
  app = buildApp({ store: new FakeStore(config), logLevel: 'silent', processMetrics: false, historyLimit: 10 });
});

afterAll(async () => {
  await app?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const probeUrl = (extra: string): string => `/probe?target=127.0.0.1:${port}&server_name=localhost${extra}`;

describe('/probe?debug=true', () => {
  it("answers in plain text with the probe's log, the metrics it would have returned and the module", async () => {
    const res = await app.server.inject({ method: 'GET', url: probeUrl('&debug=true') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    const body = res.body;
    expect(body.startsWith('Logs for the probe:\n')).toBe(true);
    const logs = body.slice(0, body.indexOf('Metrics that would have been returned:'));
    const metricsAt = body.indexOf('Metrics that would have been returned:\n') + 'Metrics that would have been returned:\n'.length;
    const moduleAt = body.indexOf('\n\n\nModule configuration:\n');
    expect(moduleAt, 'the module section comes last').toBeGreaterThan(metricsAt);
    const metrics = body.slice(metricsAt, moduleAt);
    // The module it ran with, as /config writes modules: every key with its effective value.
    const module = parseYaml(body.slice(moduleAt + '\n\n\nModule configuration:\n'.length)) as Record<string, unknown>;
    expect(module).toMatchObject({ timeout: '3s', ip_protocol: 'any', probe_all_addresses: false });
    for (const step of [
      `Probe of 127.0.0.1:${port} (address 127.0.0.1:${port}, module default)`,
      `TCP connected to 127.0.0.1:${port} from 127.0.0.1:`,
      'TLS handshake done',
      `staple received: ${staple.length} bytes, starting 30`,
      'chain and staple judged',
      'SNI localhost',
      'Presented chain: 2 certificate(s)',
      'subject   CN=localhost',
      'Status:       GOOD',
    ]) {
      expect(logs, step).toContain(step);
    }
    // The very metrics /probe returns without debug (same families, same values but the times).
    expect(metrics).toMatch(/^ocsp_probe_success\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^ocsp_staple_present\{[^}]*\} 1$/m);
    const plain = await app.server.inject({ method: 'GET', url: probeUrl('') });
    const families = (text: string) => [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]).sort();
    expect(families(metrics)).toEqual(families(plain.body));
  });

  it('debug=false and no debug answer with the metrics as usual', async () => {
    for (const extra of ['', '&debug=false']) {
      const res = await app.server.inject({ method: 'GET', url: probeUrl(extra) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.body).not.toContain('Logs for the probe');
      expect(res.body).toMatch(/^ocsp_probe_success\{[^}]*\} 1$/m);
    }
  });

  it('refuses any other value of debug, or debug given twice, with a clear message and without probing', async () => {
    const before = app.history.list().length;
    for (const [extra, message] of [
      ['&debug=yes', 'invalid parameter "debug": "yes" (expected true or false)\n'],
      ['&debug=TRUE', 'invalid parameter "debug": "TRUE" (expected true or false)\n'],
      ['&debug=', 'invalid parameter "debug": "" (expected true or false)\n'],
      ['&debug=true&debug=false', 'parameter "debug" given more than once\n'],
    ] as const) {
      const res = await app.server.inject({ method: 'GET', url: probeUrl(extra) });
      expect(res.statusCode, extra).toBe(400);
      expect(res.body, extra).toBe(message);
    }
    expect(app.history.list().length).toBe(before);
  });

  it('the allowlist applies with debug too', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/probe?target=127.0.0.2:443&debug=true' });
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain('Logs for the probe');
  });

  it('records each /probe probe in the history, with its log', async () => {
    await app.server.inject({ method: 'GET', url: probeUrl('&debug=true') });
    const [newest] = app.history.list();
    expect(newest).toMatchObject({ source: 'probe', result: { target: `127.0.0.1:${port}`, success: true } });
    expect(newest!.result.log?.map((line) => line.text)).toContain('chain and staple judged');
    expect(newest!.result.presented?.[0]?.subject).toBe('CN=localhost');
  });
});
