import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createStapleFileSource, type StapleFileSourceOptions } from '../../src/sources/staple-files.js';
import { renderProbeMetrics } from '../../src/metrics/render.js';
import type { SourcedResult } from '../../src/sources/types.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { opensslRespText } from '../helpers/openssl.js';
import { find, parseExposition, valueOf, type Exposition } from '../metrics/exposition.js';

let pki: TestPki;
let dir: string;
const NOW = Date.now();

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'staple-files-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A fresh directory under the test's temporary one. */
function freshDir(): string {
  const d = join(dir, `case-${++n}`);
  mkdirSync(d);
  return d;
}

/** The HAProxy-style bundle: leaf, intermediate, and the private key last. */
function bundleOf(leaf = pki.leafEcdsa): string {
  return leaf.pem + leaf.issuer!.pem + leaf.keyPem;
}

function configIn(d: string, yaml: string): Config {
  return parseConfig(yaml, join(d, 'config.yaml'));
}

async function scrape(config: Config, options: StapleFileSourceOptions = {}): Promise<{ text: string; metrics: Exposition; subjects: readonly SourcedResult[] }> {
  const source = createStapleFileSource({ now: () => NOW, ...options });
  const subjects = await source.collect(config, Infinity);
  const text = renderProbeMetrics([], NOW, subjects);
  return { text, metrics: parseExposition(text), subjects };
}

describe('staple_files layouts', () => {
  it('HAProxy: every bundle of the glob with its sibling .ocsp, judged against the bundle chain', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'a.pem'), bundleOf(pki.leafEcdsa));
    writeFileSync(join(d, 'a.pem.ocsp'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) }));
    writeFileSync(join(d, 'b.pem'), bundleOf(pki.leafRsa));
    writeFileSync(join(d, 'b.pem.ocsp'), await stapleFor(pki, pki.leafRsa, { now: new Date(NOW), status: 'revoked' }));
    const { metrics } = await scrape(configIn(d, `staple_files:\n  - haproxy: "*.pem"\n    labels: { team: edge }\n`));
    const a = { file: join(d, 'a.pem.ocsp'), certificate: join(d, 'a.pem'), team: 'edge' };
    const b = { file: join(d, 'b.pem.ocsp'), certificate: join(d, 'b.pem'), team: 'edge' };
    expect(valueOf(metrics, 'ocsp_staple_file_readable', a)).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_valid', a)).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_cert_status', { ...a, status: 'good' })).toBe(1);
    expect(valueOf(metrics, 'ocsp_cert_revoked', a)).toBe(0);
    expect(valueOf(metrics, 'ocsp_cert_revoked', b)).toBe(1);
    // GeneralizedTime in whole seconds (stapleFor's default: a day before now).
    expect(Math.abs(valueOf(metrics, 'ocsp_cert_revocation_timestamp_seconds', b) - (NOW - 86_400_000) / 1000)).toBeLessThan(1);
    expect(valueOf(metrics, 'ocsp_cert_not_after_timestamp_seconds', a)).toBe(pki.leafEcdsa.notAfter.getTime() / 1000);
    // No .ocsp file for the .ocsp files themselves, and the key never a certificate.
    expect(find(metrics, 'ocsp_staple_file_readable').length).toBe(2);
  });

  it('explicit pair with an issuer file, relative to the config file', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'leaf.crt'), pki.leafEcdsa.pem);
    writeFileSync(join(d, 'issuer.crt'), pki.intermediate.pem);
    writeFileSync(join(d, 'leaf.der'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) }));
    const { metrics } = await scrape(configIn(d, 'staple_files:\n  - staple: leaf.der\n    certificate: leaf.crt\n    issuer: issuer.crt\n'));
    const ids = { file: join(d, 'leaf.der'), certificate: join(d, 'leaf.crt') };
    expect(valueOf(metrics, 'ocsp_staple_valid', ids)).toBe(1);
    expect(find(metrics, 'ocsp_staple_problem', ids)).toEqual([]);
  });

  it('explicit pair without any issuer: issuer_unknown, not valid', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'leaf.crt'), pki.leafEcdsa.pem);
    writeFileSync(join(d, 'leaf.der'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) }));
    const { metrics } = await scrape(configIn(d, 'staple_files:\n  - staple: leaf.der\n    certificate: leaf.crt\n'));
    const ids = { file: join(d, 'leaf.der'), certificate: join(d, 'leaf.crt') };
    expect(valueOf(metrics, 'ocsp_staple_valid', ids)).toBe(0);
    expect(valueOf(metrics, 'ocsp_staple_problem', { ...ids, problem: 'issuer_unknown' })).toBe(1);
    expect(find(metrics, 'ocsp_cert_revoked', ids)).toEqual([]);
  });

  it("the issuer from the module's ca_file", async () => {
    const d = freshDir();
    writeFileSync(join(d, 'ca.pem'), pki.intermediate.pem);
    writeFileSync(join(d, 'leaf.crt'), pki.leafEcdsa.pem);
    writeFileSync(join(d, 'leaf.der'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) }));
    const yaml = 'modules:\n  internal:\n    ca_file: ca.pem\nstaple_files:\n  - staple: leaf.der\n    certificate: leaf.crt\n    module: internal\n';
    const { metrics } = await scrape(configIn(d, yaml));
    expect(valueOf(metrics, 'ocsp_staple_valid', { file: join(d, 'leaf.der') })).toBe(1);
  });

  it('directory: name.crt paired with name.ocsp in the staple directory', async () => {
    const d = freshDir();
    mkdirSync(join(d, 'certs'));
    mkdirSync(join(d, 'staples'));
    writeFileSync(join(d, 'certs', 'www.crt'), pki.leafEcdsa.pem + pki.intermediate.pem);
    writeFileSync(join(d, 'certs', 'notes.txt'), 'not a certificate');
    writeFileSync(join(d, 'staples', 'www.ocsp'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) }));
    const yaml = 'staple_files:\n  - directory: certs\n    staple_directory: staples\n    certificate_suffix: .crt\n';
    const { metrics } = await scrape(configIn(d, yaml));
    expect(find(metrics, 'ocsp_staple_file_readable').map((s) => s.labels)).toEqual([
      { file: join(d, 'staples', 'www.ocsp'), certificate: join(d, 'certs', 'www.crt') },
    ]);
    expect(valueOf(metrics, 'ocsp_staple_valid', { file: join(d, 'staples', 'www.ocsp') })).toBe(1);
  });
});

describe('staple file metrics', () => {
  async function single(stapleBytes: Uint8Array | string, leaf = pki.leafEcdsa): Promise<{ metrics: Exposition; ids: Record<string, string>; d: string }> {
    const d = freshDir();
    writeFileSync(join(d, 'site.pem'), bundleOf(leaf));
    writeFileSync(join(d, 'site.pem.ocsp'), stapleBytes);
    const { metrics } = await scrape(configIn(d, 'staple_files:\n  - haproxy: site.pem\n    rewrite_within: 0.25\n'));
    return { metrics, ids: { file: join(d, 'site.pem.ocsp'), certificate: join(d, 'site.pem') }, d };
  }

  it("a good staple: its dates as openssl reads them, and the rewrite deadline at mtime + share × window", async () => {
    const der = await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) });
    const { metrics, ids, d } = await single(der);
    const text = await opensslRespText(der);
    const only = text.singles[0]!;
    expect(valueOf(metrics, 'ocsp_staple_this_update_timestamp_seconds', ids)).toBe(only.thisUpdate!.getTime() / 1000);
    expect(valueOf(metrics, 'ocsp_staple_next_update_timestamp_seconds', ids)).toBe(only.nextUpdate!.getTime() / 1000);
    expect(valueOf(metrics, 'ocsp_staple_produced_at_timestamp_seconds', ids)).toBe(text.producedAt!.getTime() / 1000);
    expect(valueOf(metrics, 'ocsp_staple_size_bytes', ids)).toBe(der.length);
    const mtime = valueOf(metrics, 'ocsp_staple_file_modified_timestamp_seconds', ids);
    expect(Math.abs(mtime - Date.now() / 1000)).toBeLessThan(60);
    const window = (only.nextUpdate!.getTime() - only.thisUpdate!.getTime()) / 1000;
    expect(valueOf(metrics, 'ocsp_staple_file_rewrite_deadline_timestamp_seconds', ids)).toBeCloseTo(mtime + 0.25 * window, 3);
    for (const reason of ['missing', 'not_regular', 'too_large', 'unreadable', 'changing', 'bad_certificate', 'too_many_certificates', 'too_many_files']) {
      expect(valueOf(metrics, 'ocsp_staple_file_error', { ...ids, reason })).toBe(0);
    }
    expect(d).toBeTruthy();
  });

  it('an expired staple: invalid, expired, no revocation verdict, negative time to end', async () => {
    const der = await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW - 10 * 86_400_000) });
    const { metrics, ids } = await single(der);
    expect(valueOf(metrics, 'ocsp_staple_file_readable', ids)).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_valid', ids)).toBe(0);
    expect(valueOf(metrics, 'ocsp_staple_problem', { ...ids, problem: 'expired' })).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_seconds_until_end', ids)).toBeLessThan(0);
    expect(find(metrics, 'ocsp_cert_revoked', ids)).toEqual([]);
  });

  it("a staple about another certificate: cert_id_mismatch", async () => {
    const der = await stapleFor(pki, pki.leafRsa, { now: new Date(NOW) });
    const { metrics, ids } = await single(der, pki.leafEcdsa);
    expect(valueOf(metrics, 'ocsp_staple_valid', ids)).toBe(0);
    const problems = find(metrics, 'ocsp_staple_problem', ids).map((s) => s.labels['problem']);
    expect(problems).toContain('wrong_certificate');
  });

  it('a revoked staple: revoked, with its time', async () => {
    const revokedAt = new Date(Math.floor(NOW / 1000) * 1000 - 3_600_000);
    const der = await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW), status: 'revoked', revocationTime: revokedAt });
    const { metrics, ids } = await single(der);
    expect(valueOf(metrics, 'ocsp_cert_revoked', ids)).toBe(1);
    expect(valueOf(metrics, 'ocsp_cert_revocation_timestamp_seconds', ids)).toBe(revokedAt.getTime() / 1000);
    expect((await opensslRespText(der)).singles[0]!.revocationTime!.getTime()).toBe(revokedAt.getTime());
  });

  it('an empty .ocsp file is no staple, and readable', async () => {
    const { metrics, ids } = await single('');
    expect(valueOf(metrics, 'ocsp_staple_file_readable', ids)).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_present', ids)).toBe(0);
    expect(find(metrics, 'ocsp_staple_valid', ids)).toEqual([]);
    expect(find(metrics, 'ocsp_staple_file_rewrite_deadline_timestamp_seconds', ids)).toEqual([]);
  });

  it('a missing .ocsp file: unreadable (missing), no staple, the certificate still described', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'site.pem'), bundleOf());
    const { metrics } = await scrape(configIn(d, 'staple_files:\n  - haproxy: site.pem\n'));
    const ids = { file: join(d, 'site.pem.ocsp'), certificate: join(d, 'site.pem') };
    expect(valueOf(metrics, 'ocsp_staple_file_readable', ids)).toBe(0);
    expect(valueOf(metrics, 'ocsp_staple_file_error', { ...ids, reason: 'missing' })).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_present', ids)).toBe(0);
    expect(valueOf(metrics, 'ocsp_cert_must_staple', ids)).toBe(0);
    expect(find(metrics, 'ocsp_staple_file_modified_timestamp_seconds', ids)).toEqual([]);
  });

  it('a glob matching nothing is one missing series for the pattern', async () => {
    const d = freshDir();
    const { metrics } = await scrape(configIn(d, 'staple_files:\n  - haproxy: "*.pem"\n'));
    expect(valueOf(metrics, 'ocsp_staple_file_error', { file: join(d, '*.pem.ocsp'), certificate: join(d, '*.pem'), reason: 'missing' })).toBe(1);
  });
});

describe('reading', () => {
  it('reads a file again only when its size or mtime changes, and expands the glob at each scrape', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'a.pem'), bundleOf());
    const der = await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) });
    writeFileSync(join(d, 'a.pem.ocsp'), der);
    const reads: string[] = [];
    const source = createStapleFileSource({ now: () => NOW, onRead: (path) => reads.push(path) });
    const config = configIn(d, 'staple_files:\n  - haproxy: "*.pem"\n');
    const first = await source.collect(config, Infinity);
    expect(reads.sort()).toEqual([join(d, 'a.pem'), join(d, 'a.pem.ocsp')]);
    const second = await source.collect(config, Infinity);
    expect(reads.length).toBe(2);
    expect(second[0]).toBe(first[0]); // the same subject: its text is reused

    // A new mtime (same bytes) is a new read of that file only.
    const later = new Date(NOW + 5000);
    utimesSync(join(d, 'a.pem.ocsp'), later, later);
    const third = await source.collect(config, Infinity);
    expect(reads.slice(2)).toEqual([join(d, 'a.pem.ocsp')]);
    expect(third[0]).not.toBe(first[0]);
    const metrics = parseExposition(renderProbeMetrics([], NOW, third));
    expect(valueOf(metrics, 'ocsp_staple_file_modified_timestamp_seconds', { file: join(d, 'a.pem.ocsp') })).toBeCloseTo(later.getTime() / 1000, 3);

    // A second bundle appears: found at the next scrape.
    writeFileSync(join(d, 'b.pem'), bundleOf(pki.leafRsa));
    const fourth = await source.collect(config, Infinity);
    expect(fourth.length).toBe(2);
    // Its .ocsp does not exist: stamped (missing), not read.
    expect(reads.slice(3)).toEqual([join(d, 'b.pem')]);
  });

  it('two scrapes at once: collected one after the other, each file read once', async () => {
    const d = freshDir();
    for (let i = 0; i < 250; i++) writeFileSync(join(d, `s${i}.pem`), bundleOf());
    const reads: string[] = [];
    const source = createStapleFileSource({ now: () => NOW, onRead: (path) => reads.push(path) });
    const config = configIn(d, 'staple_files:\n  - haproxy: "*.pem"\n');
    const [a, b] = await Promise.all([source.collect(config, Infinity), source.collect(config, Infinity)]);
    expect(a.length).toBe(250);
    expect(b).toEqual(a);
    expect(b[0]).toBe(a[0]);
    expect(reads.length).toBe(250); // the bundles; their .ocsp files do not exist
  });

  it('the same file judged again when time makes its verdict change', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'a.pem'), bundleOf());
    writeFileSync(join(d, 'a.pem.ocsp'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) }));
    let now = NOW;
    const source = createStapleFileSource({ now: () => now });
    const config = configIn(d, 'staple_files:\n  - haproxy: a.pem\n');
    const before = await source.collect(config, Infinity);
    now = NOW + 4 * 86_400_000;
    const after = await source.collect(config, Infinity);
    expect(after[0]).not.toBe(before[0]);
    const metrics = parseExposition(renderProbeMetrics([], now, after));
    expect(valueOf(metrics, 'ocsp_staple_problem', { problem: 'expired' })).toBe(1);
  });

  it('past the bound on files per entry: one too_many_files series, and a warning', async () => {
    const d = freshDir();
    for (let i = 0; i < 6; i++) writeFileSync(join(d, `s${i}.pem`), bundleOf());
    const warnings: string[] = [];
    const { metrics } = await scrape(configIn(d, 'staple_files:\n  - haproxy: "s*.pem"\n'), { maxFilesPerEntry: 5, warn: (_fields, message) => warnings.push(message) });
    expect(find(metrics, 'ocsp_staple_file_readable').length).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_file_error', { certificate: join(d, 's*.pem'), reason: 'too_many_files' })).toBe(1);
    expect(warnings).toEqual([`${join(d, 's*.pem')}: more than 5 files match (the bound per entry); split the entry`]);
  });
});

describe('hostile files', () => {
  async function errorOf(prepare: (d: string) => void, options: StapleFileSourceOptions = {}): Promise<{ reason: string; warnings: string[] }> {
    const d = freshDir();
    writeFileSync(join(d, 'site.pem'), bundleOf());
    prepare(d);
    const warnings: string[] = [];
    const started = Date.now();
    const { metrics } = await scrape(configIn(d, 'staple_files:\n  - haproxy: site.pem\n'), { warn: (_f, m) => warnings.push(m), ...options });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(valueOf(metrics, 'ocsp_staple_file_readable')).toBe(0);
    const reasons = find(metrics, 'ocsp_staple_file_error').filter((s) => s.value === 1).map((s) => s.labels['reason']!);
    expect(reasons.length).toBe(1);
    return { reason: reasons[0]!, warnings };
  }

  it('a directory', async () => {
    expect((await errorOf((d) => mkdirSync(join(d, 'site.pem.ocsp')))).reason).toBe('not_regular');
  });

  it('a FIFO (no writer: never blocks)', async () => {
    expect((await errorOf((d) => execFileSync('mkfifo', [join(d, 'site.pem.ocsp')]))).reason).toBe('not_regular');
  });

  it('a link to /dev/zero', async () => {
    expect((await errorOf((d) => symlinkSync('/dev/zero', join(d, 'site.pem.ocsp')))).reason).toBe('not_regular');
  });

  it('a 100 MB file (sparse), refused before reading', async () => {
    const { reason, warnings } = await errorOf((d) => {
      writeFileSync(join(d, 'site.pem.ocsp'), '');
      truncateSync(join(d, 'site.pem.ocsp'), 100 * 1024 * 1024);
    });
    expect(reason).toBe('too_large');
    expect(warnings[0]).toMatch(/site\.pem\.ocsp: larger than 64 KiB$/);
  });

  it('a symbolic link loop', async () => {
    const { reason, warnings } = await errorOf((d) => {
      symlinkSync(join(d, 'loop-b'), join(d, 'site.pem.ocsp'));
      symlinkSync(join(d, 'site.pem.ocsp'), join(d, 'loop-b'));
    });
    expect(reason).toBe('unreadable');
    expect(warnings[0]).toMatch(/too many levels of symbolic links/);
  });

  it('a bundle with 100 certificates', async () => {
    const { reason } = await errorOf((d) => {
      writeFileSync(join(d, 'site.pem'), pki.leafEcdsa.pem.repeat(100) + pki.leafEcdsa.keyPem);
      writeFileSync(join(d, 'site.pem.ocsp'), '');
    });
    expect(reason).toBe('too_many_certificates');
  });

  it('a certificate file that is not a certificate', async () => {
    const { reason } = await errorOf((d) => {
      writeFileSync(join(d, 'site.pem'), pki.leafEcdsa.keyPem);
      writeFileSync(join(d, 'site.pem.ocsp'), '');
    });
    expect(reason).toBe('bad_certificate');
  });

  // root reads a file of mode 000 anyway: nothing to see there.
  it.skipIf(process.getuid?.() === 0)('an unreadable file (permission denied)', async () => {
    expect((await errorOf((d) => { writeFileSync(join(d, 'site.pem.ocsp'), 'x'); chmodSync(join(d, 'site.pem.ocsp'), 0); })).reason).toBe('unreadable');
  });

  it('a file that keeps changing while it is read', async () => {
    let path = '';
    const { reason } = await errorOf(
      (d) => {
        path = join(d, 'site.pem.ocsp');
        writeFileSync(path, 'x');
      },
      { readHooks: { afterRead: () => appendFileSync(path, 'y') } },
    );
    expect(reason).toBe('changing');
  });

  it('a file that changed once while read is read again and judged', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'site.pem'), bundleOf());
    const der = await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) });
    const path = join(d, 'site.pem.ocsp');
    writeFileSync(path, der.subarray(0, 10));
    const { metrics } = await scrape(configIn(d, 'staple_files:\n  - haproxy: site.pem\n'), {
      readHooks: { afterRead: (attempt) => { if (attempt === 1 && path.endsWith('.ocsp')) writeFileSync(path, der); } },
    });
    expect(valueOf(metrics, 'ocsp_staple_valid', { file: path })).toBe(1);
  });

  it('never shows the private key: not in metrics, warnings or problems', async () => {
    const d = freshDir();
    const key = pki.leafEcdsa.keyPem;
    // A bundle whose certificate part is broken, so an error about it is reported.
    writeFileSync(join(d, 'bad.pem'), key + '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n');
    writeFileSync(join(d, 'good.pem'), bundleOf());
    writeFileSync(join(d, 'good.pem.ocsp'), await stapleFor(pki, pki.leafEcdsa, { now: new Date(NOW) }));
    const warnings: string[] = [];
    const { text } = await scrape(configIn(d, 'staple_files:\n  - haproxy: "*.pem"\n'), { warn: (fields, m) => warnings.push(JSON.stringify(fields) + m) });
    const keyBody = key.split('\n').filter((line) => line && !line.startsWith('-----'));
    for (const output of [text, ...warnings]) {
      expect(output).not.toContain('PRIVATE KEY');
      for (const line of keyBody) expect(output).not.toContain(line);
    }
    expect(warnings.join('\n')).toContain('bad.pem');
  });
});
