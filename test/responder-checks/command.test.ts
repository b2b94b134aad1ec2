/**
 * `check --responder-check` in-process against a real loopback HTTP responder: the human report,
 * the JSON report and exit codes, escaping of a hostile file name and responder message (they
 * cannot forge terminal lines or colours), and the usage errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { createCertificate, type Issued } from '../../src/pki/index.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { sendDer, startHttpServer, type TestHttpServer } from '../responder/support.js';

let dir: string;
let pki: TestPki;
let responder: TestHttpServer;
let configFile: string;
let goodPath: string;
let revokedPath: string;
let hostilePath: string;
let mode: 'good' | 'redirect' = 'good';
let goodLeaf: Issued;
let revokedLeaf: Issued;
/** The leaf the responder answers about (one at a time: each test asks about one certificate). */
let current: Issued;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => void (out += t), stderr: (t) => void (err += t) });
  return { code, out, err };
}

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'responder-check-command-'));
  responder = await startHttpServer(async (_, res) => {
    if (mode === 'redirect') {
      res.writeHead(302, { location: 'http://elsewhere.example/ocsp' }).end();
      return;
    }
    sendDer(res, await stapleFor(pki, current, current === revokedLeaf ? { status: 'revoked', revocationReason: 'keyCompromise' } : {}));
  });
  const keys = await cachedKeys('ec-p256', 'leaf-ecdsa');
  const make = (name: string) => createCertificate({ commonName: name, issuer: pki.intermediate, keys, ocspUrls: [responder.url] });
  goodLeaf = await make('good.example');
  revokedLeaf = await make('revoked.example');
  goodPath = join(dir, 'good.pem');
  revokedPath = join(dir, 'revoked.pem');
  // An OSC title sequence and a newline (no "[": that would make the name a glob).
  hostilePath = join(dir, 'evil\u001b]0;owned\u0007\nFAKE: line.pem');
  writeFileSync(goodPath, goodLeaf.pem + pki.intermediate.pem);
  writeFileSync(revokedPath, revokedLeaf.pem + pki.intermediate.pem);
  writeFileSync(hostilePath, goodLeaf.pem + pki.intermediate.pem);
  configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, 'global:\n  responder_allowlist: ["127.0.0.0/8"]\nmodules:\n  default:\n    responder_cache_max_age: 0s\n');
});

afterAll(async () => {
  await responder.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('check --responder-check', () => {
  it('prints a good answer and exits 0', async () => {
    current = goodLeaf;
    const { code, out } = await run(['check', '--responder-check', goodPath, '--config.file', configFile]);
    expect(code).toBe(0);
    expect(out).toContain(`Certificate:  ${goodPath}\n`);
    expect(out).toMatch(/Subject:\s+CN=good\.example, serial [0-9A-F]+, expires /);
    expect(out).toContain('Issuer:       from bundle\n');
    expect(out).toMatch(new RegExp(`Responder:\\s+UP: ${responder.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(AIA; GET, \\d\\.\\d{3} s, HTTP 200\\)`));
    expect(out).toMatch(/Status:\s+GOOD\n/);
    expect(out).toMatch(/Signed by:\s+issuer\n/);
  });

  it('reports revoked in JSON with the answer in inspect --json form, exit 1', async () => {
    current = revokedLeaf;
    const { code, out } = await run(['check', '--responder-check', revokedPath, '--config.file', configFile, '--json']);
    expect(code).toBe(1);
    const [report] = JSON.parse(out) as Array<Record<string, any>>;
    expect(report).toMatchObject({ certificate: revokedPath, module: 'default', readable: true, problem: null, issuerSource: 'bundle' });
    expect(report!['responder']).toMatchObject({ up: true, urlSource: 'aia', problems: [], answer: { certStatus: 'revoked', revocationReason: 'keyCompromise', valid: true } });
  });

  it('escapes a hostile file name; a redirect is not followed and says where it pointed', async () => {
    current = goodLeaf;
    mode = 'redirect';
    try {
      const { code, out } = await run(['check', '--responder-check', hostilePath, '--config.file', configFile]);
      expect(code).toBe(1);
      expect(out).not.toContain('\u001b');
      expect(out).not.toContain('\u0007');
      expect(out).not.toMatch(/^FAKE: line/m);
      expect(out).toMatch(/Responder:\s+DOWN or invalid/);
      expect(out).toContain('  - redirect: a redirect, which is never followed');
      expect(out).toMatch(/Why:\s+.*http:\/\/elsewhere\.example\/ocsp/);
      expect(responder.requests.length).toBeGreaterThan(0);
    } finally {
      mode = 'good';
    }
  });

  it('an unreadable file is reported with its reason, exit 1', async () => {
    const { code, out } = await run(['check', '--responder-check', join(dir, 'missing.pem'), '--config.file', configFile]);
    expect(code).toBe(1);
    expect(out).toContain(`File:         UNUSABLE (missing): ${join(dir, 'missing.pem')}: no such file`);
  });

  it('usage errors exit 2', async () => {
    expect((await run(['check', 'example.com:443', '--responder-check', goodPath])).err).toContain('check --responder-check takes no HOST:PORT');
    const unknown = await run(['check', '--responder-check', goodPath, '--module', 'nope']);
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.err).toContain('unknown module "nope"');
    expect((await run(['check', '--responder-check', `${dir}/**/*.pem`])).err).toContain('invalid glob: "**" is not supported');
  });
});
