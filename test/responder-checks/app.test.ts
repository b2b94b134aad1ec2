/**
 * /metrics of the whole app with `responder_checks` configured, against a real loopback HTTP
 * responder: the check's series come in the same family blocks as the probed ones (one `# TYPE`
 * each), the app's own listen socket is refused as a responder like a probe's (destination rules),
 * and a reload that removes the entry removes its series.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import { createCertificate, type Issued } from '../../src/pki/index.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { find, parseExposition, valueOf } from '../metrics/exposition.js';
import { fakeProbe } from '../server/fakes.js';
import { sendDer, startHttpServer, type TestHttpServer } from '../responder/support.js';

let dir: string;
let pki: TestPki;
let app: App;
let responder: TestHttpServer;
let yaml: string;
let certPath: string;
let ownPath: string;

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'responder-checks-app-'));
  let leaf!: Issued;
  responder = await startHttpServer(async (_, res) => sendDer(res, await stapleFor(pki, leaf, { signer: pki.responder })));
  leaf = await createCertificate({ commonName: 'app.example', issuer: pki.intermediate, keys: await cachedKeys('ec-p256', 'leaf-ecdsa'), ocspUrls: [responder.url] });
  certPath = join(dir, 'app.pem');
  writeFileSync(certPath, leaf.pem + pki.intermediate.pem);
  ownPath = join(dir, 'own.pem');
  writeFileSync(ownPath, leaf.pem + pki.intermediate.pem);
  yaml = 'global:\n  responder_allowlist: ["127.0.0.0/8"]\ntargets:\n  - target: www.example.com:443\nresponder_checks:\n  - certificate: app.pem\n    labels: { ca: internal }\n';
  const file = join(dir, 'config.yaml');
  const store = new ConfigStore(parseConfig(yaml, file), () => parseConfig(yaml, file));
  app = buildApp({ store, probe: fakeProbe().probe, logLevel: 'silent', processMetrics: false });
});

afterAll(async () => {
  await app.close();
  await responder.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('/metrics with responder_checks', () => {
  it('has the responder check series beside the probed ones, in one block per family', async () => {
    const res = await app.server.inject('/metrics');
    expect(res.statusCode).toBe(200);
    const metrics = parseExposition(res.body);
    const id = { certificate: certPath, ca: 'internal' };
    expect(valueOf(metrics, 'ocsp_responder_up', id)).toBe(1);
    expect(valueOf(metrics, 'ocsp_responder_cert_status', { ...id, status: 'good' })).toBe(1);
    expect(valueOf(metrics, 'ocsp_responder_check_certificate_readable', id)).toBe(1);
    expect(find(metrics, 'ocsp_cert_not_after_timestamp_seconds').map((s) => s.labels['target'] ?? s.labels['certificate'])).toEqual(['www.example.com:443', certPath]);
    expect(res.body.match(/^# TYPE ocsp_cert_not_after_timestamp_seconds /gm)).toHaveLength(1);
    expect(res.body.match(/^# TYPE ocsp_responder_up /gm)).toHaveLength(1);
    expect(responder.requests).toHaveLength(1);
  });

  it("refuses the exporter's own listen socket as a responder, as probes do", async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    yaml += `  - certificate: own.pem\nmodules:\n  default:\n    responder_url: ${address}/\n`;
    expect(app.reloadConfig().ok).toBe(true);
    const metrics = parseExposition((await app.server.inject('/metrics')).body);
    expect(valueOf(metrics, 'ocsp_responder_up', { certificate: ownPath })).toBe(0);
    expect(valueOf(metrics, 'ocsp_responder_problem', { certificate: ownPath, problem: 'not_allowed' })).toBe(1);
  });

  it('a reload without the section removes its series', async () => {
    yaml = 'targets:\n  - target: www.example.com:443\n';
    expect(app.reloadConfig().ok).toBe(true);
    const res = await app.server.inject('/metrics');
    expect(res.body).not.toContain('certificate=');
    expect(res.body).not.toContain('ocsp_responder_check_certificate_readable');
  });
});
