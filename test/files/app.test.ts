/**
 * /metrics of the whole app with `staple_files` configured: the file series come in the same
 * family blocks as probed ones, a reload that adds an entry shows it at the next scrape, and a
 * missing file is logged once (naming the file, never its content).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { fakeProbe } from '../server/fakes.js';
import { find, parseExposition, valueOf } from '../metrics/exposition.js';

let dir: string;
let pki: TestPki;
let app: App;
let yaml: string;
const logLines: string[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'staple-files-app-'));
  writeFileSync(join(dir, 'www.pem'), pki.leafEcdsa.pem + pki.intermediate.pem + pki.leafEcdsa.keyPem);
  writeFileSync(join(dir, 'www.pem.ocsp'), await stapleFor(pki, pki.leafEcdsa));
  yaml = 'targets:\n  - target: www.example.com:443\nstaple_files:\n  - haproxy: "*.pem"\n    labels: { site: www }\n';
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  const store = new ConfigStore(parseConfig(yaml, file), () => parseConfig(yaml, file));
  app = buildApp({ store, probe: fakeProbe().probe, logLevel: 'warn', logStream: { write: (line) => logLines.push(line) }, processMetrics: false });
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('/metrics with staple_files', () => {
  it('has the file series beside the probed ones, in one block per family', async () => {
    const res = await app.server.inject('/metrics');
    expect(res.statusCode).toBe(200);
    const metrics = parseExposition(res.body);
    const ids = { file: join(dir, 'www.pem.ocsp'), certificate: join(dir, 'www.pem'), site: 'www' };
    expect(valueOf(metrics, 'ocsp_staple_file_readable', ids)).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_valid', ids)).toBe(1);
    expect(find(metrics, 'ocsp_staple_present').map((s) => s.labels['target'] ?? s.labels['file'])).toEqual(['www.example.com:443', join(dir, 'www.pem.ocsp')]);
    expect(res.body.match(/^# TYPE ocsp_staple_present /gm)).toHaveLength(1);
    expect(res.body).not.toContain('PRIVATE KEY');
  });

  it('after a reload with one more entry, a missing file is a series and one warning', async () => {
    yaml += '  - staple: gone.der\n    certificate: www.pem\n';
    expect(app.reloadConfig().ok).toBe(true);
    for (let i = 0; i < 2; i++) {
      const metrics = parseExposition((await app.server.inject('/metrics')).body);
      expect(valueOf(metrics, 'ocsp_staple_file_error', { file: join(dir, 'gone.der'), reason: 'missing' })).toBe(1);
    }
    const warnings = logLines.filter((line) => line.includes('gone.der'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, reason: 'missing', file: join(dir, 'gone.der'), msg: `staple file: ${join(dir, 'gone.der')}: no such file` });
  });
});
