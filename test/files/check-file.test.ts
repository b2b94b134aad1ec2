import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let dir: string;

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'check-file-'));
  writeFileSync(join(dir, 'site.pem'), pki.leafEcdsa.pem + pki.intermediate.pem + pki.leafEcdsa.keyPem);
  writeFileSync(join(dir, 'site.pem.ocsp'), await stapleFor(pki, pki.leafEcdsa));
  writeFileSync(join(dir, 'expired.der'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(Date.now() - 10 * 86_400_000) }));
  // Written two days ago, still valid for a day: past half its window, so the job has stalled.
  writeFileSync(join(dir, 'stalled.der'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(Date.now() - 2 * 86_400_000) }));
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
  utimesSync(join(dir, 'stalled.der'), twoDaysAgo, twoDaysAgo);
  writeFileSync(join(dir, 'leaf.crt'), pki.leafEcdsa.pem);
  writeFileSync(join(dir, 'issuer.crt'), pki.intermediate.pem);
  writeFileSync(join(dir, 'empty.ocsp'), '');
  // A name that would move the cursor and start a new line if printed as is.
  writeFileSync(join(dir, 'evil\n\u001b[2Kname.der'), await stapleFor(pki, pki.leafEcdsa));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['check', ...args], { stdout: (t) => void (out += t), stderr: (t) => void (err += t) });
  return { code, out, err };
}

describe('check --file', () => {
  it('a good staple beside an HAProxy bundle: exit 0, the verdict as check prints it, no key material', async () => {
    const { code, out } = await run('--file', join(dir, 'site.pem.ocsp'), '--cert', join(dir, 'site.pem'));
    expect(code).toBe(0);
    expect(out).toMatch(/^File: +.*site\.pem\.ocsp, written \d{4}-/m);
    expect(out).toMatch(/^Staple: +VALID, \d+ bytes, issuer from bundle$/m);
    expect(out).toMatch(/^Status: +GOOD$/m);
    expect(out).toMatch(/^Rewrite by: +\d{4}-.*0\.5 of the usable window after it was written$/m);
    expect(out).not.toContain('PRIVATE KEY');
    for (const line of pki.leafEcdsa.keyPem.split('\n').filter((l) => l && !l.startsWith('-----'))) expect(out).not.toContain(line);
  });

  it('an expired staple with an explicit issuer: exit 1, the problem in plain words', async () => {
    const { code, out } = await run('--file', join(dir, 'expired.der'), '--cert', join(dir, 'leaf.crt'), '--issuer', join(dir, 'issuer.crt'));
    expect(code).toBe(1);
    expect(out).toMatch(/^Staple: +INVALID, \d+ bytes, issuer from issuer_file$/m);
    expect(out).toMatch(/^ {2}- expired: /m);
    expect(out).not.toMatch(/passed: the refresh job has stalled/);
  });

  it('a valid staple the job has not rewritten in time: still exit 0, the deadline passed', async () => {
    const { code, out } = await run('--file', join(dir, 'stalled.der'), '--cert', join(dir, 'leaf.crt'), '--issuer', join(dir, 'issuer.crt'));
    expect(code).toBe(0);
    expect(out).toMatch(/^Staple: +VALID/m);
    expect(out).toMatch(/^Rewrite by: +.*\(passed: the refresh job has stalled\)$/m);
  });

  it('an empty file is no staple; a missing one is missing: exit 1', async () => {
    expect((await run('--file', join(dir, 'empty.ocsp'), '--cert', join(dir, 'leaf.crt'))).out).toMatch(/^Staple: +NONE \(the file is empty\)$/m);
    const missing = await run('--file', join(dir, 'nope.ocsp'), '--cert', join(dir, 'leaf.crt'));
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/^Problem: +UNREADABLE \(missing\): .*nope\.ocsp: no such file$/m);
    expect(missing.out).toMatch(/^Staple: +MISSING \(no such file\)$/m);
  });

  it('--json: the same facts for programs', async () => {
    const { code, out } = await run('--file', join(dir, 'site.pem.ocsp'), '--cert', join(dir, 'site.pem'), '--json');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ file: join(dir, 'site.pem.ocsp'), readable: true, problem: null, staplePresent: true, issuerSource: 'bundle' });
    expect(report.staple).toMatchObject({ valid: true });
    expect(Date.parse(report.rewriteDeadline)).toBeGreaterThan(Date.now());
    expect(out).not.toContain('PRIVATE KEY');
  });

  it('escapes file names for the terminal', async () => {
    const { out } = await run('--file', join(dir, 'evil\n\u001b[2Kname.der'), '--cert', join(dir, 'leaf.crt'), '--issuer', join(dir, 'issuer.crt'));
    expect(out).toContain('evil\\x0a\\x1b[2Kname.der');
    expect(out).not.toContain('\u001b');
  });

  it('usage errors: exit 2', async () => {
    const noCert = await run('--file', join(dir, 'site.pem.ocsp'));
    expect(noCert.code).toBe(2);
    expect(noCert.err).toMatch(/^check --file needs --cert CERT/);
    expect((await run('--file', 'x', '--cert', 'y', 'www.example.com:443')).code).toBe(2);
    expect((await run('--file', 'x', '--cert', 'y', '--module', 'nope')).err).toMatch(/unknown module "nope"/);
  });
});
