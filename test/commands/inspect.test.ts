/**
 * `inspect` end to end: responses made by the real `openssl ocsp` responder, read by our CLI, and
 * compared field by field with OpenSSL's own reading (`-resp_text`) and verdict (`-verify`).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import {
  createOpensslPki,
  opensslOcspResponse,
  opensslRespText,
  opensslVerifyResponse,
  type OpensslPki,
} from '../helpers/openssl.js';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function inspect(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(['inspect', ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
  });
  return { code, stdout, stderr };
}

async function inspectJson(...args: string[]): Promise<{ code: number; json: Record<string, any>; stderr: string }> {
  const run = await inspect(...args, '--json');
  return { code: run.code, json: JSON.parse(run.stdout), stderr: run.stderr };
}

let dir: string;
let pki: OpensslPki;
const files: Record<string, string> = {};

async function save(name: string, bytes: Uint8Array | string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  files[name] = file;
  return file;
}

/** OpenSSL's verdict, trusting the root and given the intermediate, as a client would be. */
function opensslJudge(cert: OpensslPki['leafEc'], der: Uint8Array) {
  return opensslVerifyResponse(dir, der, { issuer: pki.intermediate, cert, trusted: [pki.root], untrusted: [pki.intermediate] });
}

function isoSeconds(date: Date | null): string | null {
  return date ? date.toISOString().replace(/\.000Z$/, 'Z') : null;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'inspect-'));
  pki = await createOpensslPki(dir);
  const revokedAt = new Date(Date.UTC(2026, 5, 1, 10, 20, 30));
  await save('good.der', await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.responder, ndays: 7 }));
  await save(
    'revoked.der',
    await opensslOcspResponse({
      dir,
      issuer: pki.intermediate,
      certs: [pki.leafRsa],
      signer: pki.intermediate,
      respKeyId: true,
      ndays: 7,
      index: [{ serial: pki.leafRsa.serial, status: 'revoked', revokedAt, reason: 'keyCompromise' }],
    }),
  );
  await save('nonext.der', await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.responder }));
  await save('stranger.der', await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.strangerResponder, other: [pki.strangerCa], ndays: 7 }));
  await save('badsig.der', await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.responder, ndays: 7, badSig: true }));
  await save(
    'many.der',
    await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafMustStaple, pki.leafRsa, pki.leafEc], signer: pki.responder, ndays: 1, certIdHash: 'sha256' }),
  );
  await save('trylater.der', Uint8Array.from([0x30, 0x03, 0x0a, 0x01, 0x03]));
  await save('truncated.der', (await import('node:fs')).readFileSync(files['good.der']!).subarray(0, 60));
  await save('random.der', Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) % 251));
  const good = (await import('node:fs')).readFileSync(files['good.der']!);
  await save('good.b64', good.toString('base64') + '\n');
  await save('good.pem', `-----BEGIN OCSP RESPONSE-----\n${good.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END OCSP RESPONSE-----\n`);
  await save('leaf-with-chain.pem', pki.leafEc.pem + pki.intermediate.pem);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('inspect agrees with OpenSSL', () => {
  it('reads a good response signed by a delegated responder, as OpenSSL does', async () => {
    const { code, json } = await inspectJson('--response', files['good.der']!, '--cert', pki.leafEc.certPath, '--issuer', pki.intermediate.certPath);
    const text = await opensslRespText(new Uint8Array((await import('node:fs')).readFileSync(files['good.der']!)));
    const verdict = await opensslJudge(pki.leafEc, new Uint8Array((await import('node:fs')).readFileSync(files['good.der']!)));
    expect(code).toBe(0);
    expect(json.responseStatus).toBe('successful');
    expect(json.certStatus).toBe('good');
    expect(json.valid).toBe(true);
    expect(json.problems).toEqual([]);
    expect(verdict.verifyOk).toBe(true);
    expect(verdict.timesInvalid).toBe(false);
    expect(json.signatureValid).toBe(true);
    expect(json.certIdMatchesLeaf).toBe(true);
    expect(json.signer.kind).toBe('delegated');
    expect(json.responderId.kind).toBe('byName');
    expect(json.serialNumber).toBe(pki.leafEc.serial);
    expect(json.producedAt).toBe(isoSeconds(text.producedAt));
    expect(json.thisUpdate).toBe(isoSeconds(text.singles[0]!.thisUpdate));
    expect(json.nextUpdate).toBe(isoSeconds(text.singles[0]!.nextUpdate));
    expect(json.numSingleResponses).toBe(1);
    expect(json.revocationTime).toBeNull();
    expect(json.revocationReason).toBeNull();
  });

  it('reports revocation time and reason as in the responder index, exit 1', async () => {
    const { code, json } = await inspectJson('--response', files['revoked.der']!, '--cert', pki.leafRsa.certPath, '--issuer', pki.intermediate.certPath);
    expect(code).toBe(1);
    expect(json.valid).toBe(true);
    expect(json.certStatus).toBe('revoked');
    expect(json.revocationTime).toBe('2026-06-01T10:20:30Z');
    expect(json.revocationReason).toBe('keyCompromise');
    expect(json.signer.kind).toBe('issuer');
    expect(json.responderId.kind).toBe('byKey');
    expect(json.singleResponses[0].revocationReason).toBe('keyCompromise');
  });

  it('reports a missing nextUpdate as null and as an advisory problem', async () => {
    const { code, json } = await inspectJson('--response', files['nonext.der']!, '--cert', pki.leafEc.certPath, '--issuer', pki.intermediate.certPath);
    expect(json.nextUpdate).toBeNull();
    expect(json.problems).toEqual(['no_next_update']);
    expect(json.valid).toBe(true);
    expect(code).toBe(0);
  });

  it('rejects a stranger-signed and a tampered response like OpenSSL', async () => {
    for (const [name, problem] of [
      ['stranger.der', 'unauthorized_responder'],
      ['badsig.der', 'bad_signature'],
    ] as const) {
      const der = new Uint8Array((await import('node:fs')).readFileSync(files[name]!));
      const verdict = await opensslJudge(pki.leafEc, der);
      const { code, json } = await inspectJson('--response', files[name]!, '--cert', pki.leafEc.certPath, '--issuer', pki.intermediate.certPath);
      expect(verdict.verifyOk, name).toBe(false);
      expect(json.signatureValid, name).toBe(false);
      expect(code, name).toBe(1);
      expect(json.valid, name).toBe(false);
      expect(json.problems, name).toContain(problem);
    }
  });

  it('picks the SingleResponse matching the leaf among several (SHA-256 CertIDs)', async () => {
    const { code, json } = await inspectJson('--response', files['many.der']!, '--cert', pki.leafEc.certPath, '--issuer', pki.intermediate.certPath);
    expect(code).toBe(0);
    expect(json.numSingleResponses).toBe(3);
    expect(json.serialNumber).toBe(pki.leafEc.serial);
    expect(json.singleResponses.map((s: { matchesLeaf: boolean }) => s.matchesLeaf)).toEqual([false, false, true]);
    expect(json.singleResponses[2].certIdHashAlgorithm).toBe('sha256');
  });

  it('flags a response for another certificate', async () => {
    const { code, json } = await inspectJson('--response', files['good.der']!, '--cert', pki.leafRsa.certPath, '--issuer', pki.intermediate.certPath);
    expect(code).toBe(1);
    expect(json.certIdMatchesLeaf).toBe(false);
    expect(json.problems).toContain('wrong_certificate');
  });

  it('judges time with --at: past nextUpdate is expired, before thisUpdate is not yet valid', async () => {
    const later = await inspectJson('--response', files['good.der']!, '--cert', pki.leafEc.certPath, '--issuer', pki.intermediate.certPath, '--at', new Date(Date.now() + 8 * 86_400_000).toISOString());
    expect(later.code).toBe(1);
    expect(later.json.problems).toContain('expired');
    const earlier = await inspectJson('--response', files['good.der']!, '--cert', pki.leafEc.certPath, '--issuer', pki.intermediate.certPath, '--at', '2020-01-01T00:00:00Z');
    expect(earlier.json.problems).toContain('not_yet_valid');
    expect(earlier.json.verifiedAt).toBe('2020-01-01T00:00:00.000Z');
  });
});

describe('inspect inputs and exit codes', () => {
  it('accepts DER, PEM and base64 alike', async () => {
    const at = new Date().toISOString();
    const reports = await Promise.all(
      ['good.der', 'good.pem', 'good.b64'].map((f) =>
        inspectJson('--response', files[f]!, '--cert', pki.leafEc.certPath, '--issuer', pki.intermediate.certPath, '--at', at),
      ),
    );
    for (const r of reports) expect(r.code).toBe(0);
    expect(reports[1]!.json).toEqual(reports[0]!.json);
    expect(reports[2]!.json).toEqual(reports[0]!.json);
  });

  it('a DER file ending in a newline reads like OpenSSL reads it; other trailing bytes do not', async () => {
    const good = (await import('node:fs')).readFileSync(files['good.der']!);
    const padded = await save('good-newline.der', Buffer.concat([good, Buffer.from('\n')]));
    expect((await inspect('--response', padded, '--cert', files['leaf-with-chain.pem']!)).code).toBe(0);
    const junk = await save('good-junk.der', Buffer.concat([good, Buffer.from('junk')]));
    const r = await inspect('--response', junk);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('trailing data');
  });

  it('finds the issuer in a --cert bundle when --issuer is not given', async () => {
    const { code, json } = await inspectJson('--response', files['good.der']!, '--cert', files['leaf-with-chain.pem']!);
    expect(code).toBe(0);
    expect(json.signatureValid).toBe(true);
  });

  it('without --cert/--issuer: parsed, but signature and CertID unknowable (null), exit 1', async () => {
    const { code, json } = await inspectJson('--response', files['good.der']!);
    expect(code).toBe(1);
    expect(json.signatureValid).toBeNull();
    expect(json.certIdMatchesLeaf).toBeNull();
    expect(json.certStatus).toBe('good');
    expect(json.problems).toContain('issuer_unknown');
  });

  it('a tryLater response is data: exit 1 with not_successful', async () => {
    const { code, json } = await inspectJson('--response', files['trylater.der']!);
    expect(code).toBe(1);
    expect(json.responseStatus).toBe('tryLater');
    expect(json.certStatus).toBeNull();
    expect(json.problems).toContain('not_successful');
  });

  it('truncated and random input: exit 2, a message on stderr, still one JSON object', async () => {
    for (const name of ['truncated.der', 'random.der']) {
      const run = await inspect('--response', files[name]!, '--json');
      expect(run.code, name).toBe(2);
      expect(run.stderr, name).toMatch(/^inspect: /);
      const json = JSON.parse(run.stdout);
      expect(json.valid).toBe(false);
      expect(json.problems).toEqual(['unparseable']);
      expect(json.error.code).toMatch(/^ERR_OCSP_/);
    }
  });

  it('usage errors and unreadable files exit 2', async () => {
    expect((await inspect()).code).toBe(2);
    const missing = await inspect('--response', path.join(dir, 'nope.der'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.der: cannot read file (ENOENT)');
    const badAt = await inspect('--response', files['good.der']!, '--at', 'yesterday');
    expect(badAt.code).toBe(2);
    expect(badAt.stderr).toContain('--at: not an ISO 8601 time');
  });

  it('prints a human report an SRE can read', async () => {
    const run = await inspect('--response', files['revoked.der']!, '--cert', pki.leafRsa.certPath, '--issuer', pki.intermediate.certPath);
    expect(run.stdout).toMatch(/^Verdict:\s+VALID$/m);
    expect(run.stdout).toMatch(/^Status:\s+REVOKED for serial /m);
    expect(run.stdout).toMatch(/^Revoked:\s+2026-06-01T10:20:30Z .*reason keyCompromise$/m);
    expect(run.stdout).toMatch(/^Signed by:\s+issuer .*signature OK$/m);
    const bad = await inspect('--response', files['badsig.der']!, '--cert', pki.leafEc.certPath, '--issuer', pki.intermediate.certPath);
    expect(bad.stdout).toMatch(/^Verdict:\s+INVALID \(bad_signature\)$/m);
    expect(bad.stdout).toContain("  - bad_signature: the signature does not verify with the signer's key");
  });

  it('exits with the right status as a real process', async () => {
    const cli = ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'inspect'];
    const ok = await execFileAsync(process.execPath, [...cli, '--response', files['good.der']!, '--cert', files['leaf-with-chain.pem']!], { cwd: ROOT });
    expect(ok.stdout).toContain('VALID');
    await expect(execFileAsync(process.execPath, [...cli, '--response', files['random.der']!], { cwd: ROOT })).rejects.toMatchObject({ code: 2 });
  });
});
