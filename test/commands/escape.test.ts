/**
 * Human output of `check` and `inspect` escapes the control characters a certificate subject (or
 * any other text from the far side) can carry, so a CN cannot fake report lines, move the
 * cursor or retitle the terminal.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { escapeForTerminal } from '../../src/util/text.js';
import { createCertificate, type Issued } from '../../src/pki/index.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';

const EVIL_CN = 'evil\n[OK] fake\x1b]0;title\x07\r\u202e\u2028\x9b';

/** Raw controls other than the report's own newlines; none may reach the terminal. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

let pki: TestPki;
let leaf: Issued;
let signer: Issued;
let server: tls.Server;
let port: number;
let dir: string;

beforeAll(async () => {
  pki = await makeTestPki();
  leaf = await createCertificate({
    commonName: EVIL_CN,
    issuer: pki.intermediate,
    keys: await cachedKeys('ec-p256', 'escape-leaf'),
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    extendedKeyUsage: ['serverAuth'],
  });
  signer = await createCertificate({
    commonName: EVIL_CN,
    issuer: pki.intermediate,
    keys: await cachedKeys('ec-p256', 'escape-responder'),
    extendedKeyUsage: ['ocspSigning'],
  });
  server = tls.createServer({ cert: leaf.pem + pki.intermediate.pem, key: leaf.keyPem });
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
  dir = await mkdtemp(path.join(tmpdir(), 'escape-'));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('escapeForTerminal', () => {
  it.each([
    ['plain text', 'plain text'],
    ['a\nb', 'a\\x0ab'],
    ['\r\t\x00\x07', '\\x0d\\x09\\x00\\x07'],
    ['\x1b]0;title\x07', '\\x1b]0;title\\x07'],
    ['\x7f\x85\x9b', '\\x7f\\x85\\x9b'],
    ['\u2028\u2029', '\\u{2028}\\u{2029}'],
    ['\u202aa\u202eb\u2066c\u2069\u200e\u200f\u061c', '\\u{202a}a\\u{202e}b\\u{2066}c\\u{2069}\\u{200e}\\u{200f}\\u{61c}'],
    ['CN=a\\;b', 'CN=a\\;b'],
    ['é ü 日本 ✓', 'é ü 日本 ✓'],
  ])('%j → %s', (input, escaped) => {
    expect(escapeForTerminal(input)).toBe(escaped);
  });
});

describe('human reports escape control characters from certificates', () => {
  it('check prints an evil certificate subject escaped, one line', async () => {
    const r = await run('check', `127.0.0.1:${port}`);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).not.toMatch(/^\[OK\] fake/m);
    const certificateLines = r.stdout.split('\n').filter((line) => line.startsWith('Certificate:'));
    expect(certificateLines).toHaveLength(1);
    expect(certificateLines[0]).toContain('CN=evil\\x0a[OK] fake\\x1b]0\\;title\\x07\\x0d\\u{202e}\\u{2028}\\x9b,');
    // The JSON report keeps the subject as it is (for programs).
    const json = await run('check', `127.0.0.1:${port}`, '--json');
    expect(JSON.parse(json.stdout)[0].leaf.subject).toContain('evil\n[OK] fake\x1b]0\\;title\x07\r\u202e\u2028\x9b');
  });

  it('inspect prints an evil signer subject escaped', async () => {
    const response = path.join(dir, 'staple.der');
    await writeFile(response, await stapleFor(pki, leaf, { signer }));
    const leafFile = path.join(dir, 'leaf.pem');
    await writeFile(leafFile, leaf.pem);
    const issuerFile = path.join(dir, 'issuer.pem');
    await writeFile(issuerFile, pki.intermediate.pem);
    const r = await run('inspect', '--response', response, '--cert', leafFile, '--issuer', issuerFile);
    expect(r.stdout).toMatch(/^Verdict:\s+VALID$/m);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).not.toMatch(/^\[OK\] fake/m);
    expect(r.stdout).toMatch(/^Signed by:\s+delegated CN=evil\\x0a\[OK\] fake\\x1b\]0\\;title\\x07\\x0d\\u\{202e\}\\u\{2028\}\\x9b; /m);
  });
});
