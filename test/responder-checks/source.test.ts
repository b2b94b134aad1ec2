/**
 * The responder checks source against real loopback HTTP responders (test/responder/support.ts)
 * answering with responses made by src/pki: the series a scrape renders, the answer cache and
 * single-flight seen from the responder's side (requests counted), the concurrency bound (requests
 * in flight measured at the responder), the deadline over hanging responders and slot waits, and
 * certificate files rotated, removed and globbed on disk. Configs go through the real loader.
 */
import { mkdtempSync, rmSync, writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { renderProbeMetrics } from '../../src/metrics/render.js';
import { createCertificate, type Issued } from '../../src/pki/index.js';
import { AnswerCache, localAnswers, type ExchangeOutcome } from '../../src/responder/index.js';
import { createResponderCheckSource, type ResponderCheckDeps } from '../../src/sources/responder-checks.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { sendDer, startHttpServer, type Handler, type TestHttpServer } from '../responder/support.js';

let pki: TestPki;
let dir: string;
const servers: TestHttpServer[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'responder-checks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(handler: Handler): Promise<TestHttpServer> {
  const s = await startHttpServer(handler);
  servers.push(s);
  return s;
}

let fileCount = 0;
function writeFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
function uniqueName(stem: string): string {
  fileCount += 1;
  return `${stem}-${fileCount}`;
}

/** A config through the real loader; loopback responders are allowed by address. */
function config(entries: string, module = ''): Config {
  const timeout = module.includes('timeout:') ? '' : '    timeout: 2s\n';
  const text = `global:\n  responder_allowlist: ['127.0.0.0/8']\nmodules:\n  default:\n${timeout}${module}responder_checks:\n${entries}`;
  return parseConfig(text, join(dir, 'config.yml'));
}

/** A fresh source with its own answer cache, so tests do not share answers. */
function source(deps: ResponderCheckDeps = {}) {
  return createResponderCheckSource({ answers: localAnswers(new AnswerCache<ExchangeOutcome>()), ...deps });
}

async function scrape(src: ReturnType<typeof source>, cfg: Config, deadlineMs = Infinity): Promise<string> {
  return renderProbeMetrics([], Date.now(), await src.collect(cfg, deadlineMs));
}

async function leafFor(url: string, extra: Partial<Parameters<typeof createCertificate>[0]> = {}): Promise<Issued> {
  return createCertificate({ commonName: 'checked.example', issuer: pki.intermediate, keys: await cachedKeys('ec-p256', 'leaf-ecdsa'), ocspUrls: [url], ...extra });
}

describe('responder checks source', () => {
  it("asks the certificate's AIA responder and renders the responder families labelled by certificate", async () => {
    let leaf!: Issued;
    const s = await server(async (_, res) => sendDer(res, await stapleFor(pki, leaf, { signer: pki.responder })));
    leaf = await leafFor(s.url);
    const path = writeFile(uniqueName('good.pem'), leaf.pem + pki.intermediate.pem);
    const cfg = config(`  - certificate: ${path}\n    labels: { team: pki }\n`);
    const text = await scrape(source(), cfg);
    const id = `certificate="${path}",team="pki"`;
    expect(text).toContain(`ocsp_responder_up{${id}} 1\n`);
    expect(text).toContain(`ocsp_responder_cert_status{${id},status="good"} 1\n`);
    expect(text).toContain(`ocsp_responder_response_status{${id},status="successful"} 1\n`);
    expect(text).toContain(`ocsp_responder_response_status{${id},status="tryLater"} 0\n`);
    expect(text).toContain(`ocsp_responder_cache_hit{${id}} 0\n`);
    expect(text).toContain(`ocsp_cert_revoked{${id}} 0\n`);
    expect(text).toContain(`ocsp_responder_check_certificate_readable{${id}} 1\n`);
    expect(text).toContain(`ocsp_responder_check_certificate_error{${id},reason="missing"} 0\n`);
    expect(text).toMatch(new RegExp(`ocsp_cert_not_after_timestamp_seconds\\{${id.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\} ${Math.floor(leaf.notAfter.getTime() / 1000)}\n`));
    const signerNotAfter = Number(/ocsp_responder_signer_not_after_timestamp_seconds\{[^}]*\} (\S+)/.exec(text)?.[1]);
    expect(signerNotAfter).toBe(pki.responder.notAfter.getTime() / 1000);
    const untilNext = Number(/ocsp_responder_seconds_until_next_update\{[^}]*\} (\S+)/.exec(text)?.[1]);
    expect(untilNext).toBeGreaterThan(3 * 86400 - 60);
    expect(untilNext).toBeLessThanOrEqual(3 * 86400);
    expect(text).toMatch(/ocsp_responder_produced_at_timestamp_seconds\{[^}]*\} \d+/);
    expect(text).not.toContain('target=');
    expect(s.requests).toHaveLength(1);
  });

  it('reuses the answer until it expires and shares one request between concurrent scrapes', async () => {
    let leaf!: Issued;
    const s = await server(async (_, res) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sendDer(res, await stapleFor(pki, leaf));
    });
    leaf = await leafFor(s.url);
    const path = writeFile(uniqueName('cached.pem'), leaf.pem + pki.intermediate.pem);
    const cfg = config(`  - certificate: ${path}\n`);
    const src = source();
    const [first, second] = await Promise.all([scrape(src, cfg), scrape(src, cfg)]);
    expect(s.requests).toHaveLength(1);
    expect([first, second].filter((t) => t.includes('ocsp_responder_cache_hit{') && /cache_hit\{[^}]*\} 1/.test(t))).toHaveLength(1);
    const third = await scrape(src, cfg);
    expect(third).toMatch(/ocsp_responder_cache_hit\{[^}]*\} 1/);
    expect(third).toMatch(/ocsp_responder_up\{[^}]*\} 1/);
    expect(s.requests).toHaveLength(1);
  });

  it('asks at most `concurrency` responders at once, and all of a glob of certificates get answered', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const leaves = new Map<string, Issued>();
    const s = await server(async (_, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight -= 1;
      // The request's serial is not needed: one good answer per leaf is made up front.
      res.writeHead(500).end();
    });
    const sub = join(dir, uniqueName('many'));
    mkdirSync(sub);
    for (let i = 0; i < 12; i++) {
      const leaf = await leafFor(s.url);
      leaves.set(String(i), leaf);
      writeFileSync(join(sub, `cert-${String(i).padStart(2, '0')}.pem`), leaf.pem);
    }
    writeFileSync(join(sub, '.hidden.pem'), leaves.get('0')!.pem);
    const cfg = config(`  - certificate: ${sub}/*.pem\n`, '    ca_file: ' + writeFile(uniqueName('ca.pem'), pki.intermediate.pem) + '\n');
    const src = source({ concurrency: 3 });
    const results = await src.check(cfg, Infinity);
    expect(results).toHaveLength(12);
    expect(results.map((r) => r.certificate)).toEqual([...Array(12).keys()].map((i) => join(sub, `cert-${String(i).padStart(2, '0')}.pem`)));
    expect(results.every((r) => r.issuerSource === 'ca_file' && r.responder?.problems.includes('http_status'))).toBe(true);
    expect(s.requests).toHaveLength(12);
    expect(maxInFlight).toBe(3);
  });

  it('ends a hanging responder at the module timeout and answers waiting checks at the deadline without asking', async () => {
    const s = await server(() => new Promise(() => {})); // never answers
    const paths: string[] = [];
    for (let i = 0; i < 3; i++) {
      const leaf = await leafFor(s.url);
      paths.push(writeFile(uniqueName('hang.pem'), leaf.pem + pki.intermediate.pem));
    }
    const cfg = config(paths.map((p) => `  - certificate: ${p}\n`).join(''), '    timeout: 800ms\n');
    const started = Date.now();
    const results = await source({ concurrency: 1 }).check(cfg, Infinity);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(700);
    expect(elapsed).toBeLessThan(2000);
    expect(results[0]!.responder).toMatchObject({ up: false, problems: ['timeout'] });
    expect(results[0]!.responder!.url).toBe(s.url);
    // Queued behind the first until the deadline: answered then, never asked, still with the URL (ocsp_responder_up 0).
    for (const r of results.slice(1)) {
      expect(r.responder).toMatchObject({ up: false, problems: ['timeout'], url: s.url });
      expect(r.responder!.error).toMatch(/no responder check slot free before the deadline/);
    }
    expect(s.requests).toHaveLength(1);
  });

  it("a scrape deadline earlier than the module's timeout wins", async () => {
    const s = await server(() => new Promise(() => {}));
    const leaf = await leafFor(s.url);
    const cfg = config(`  - certificate: ${writeFile(uniqueName('hang.pem'), leaf.pem + pki.intermediate.pem)}\n`, '    timeout: 30s\n');
    const started = Date.now();
    const [result] = await source().check(cfg, Date.now() + 300);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result!.responder?.problems).toEqual(['timeout']);
  });

  it('reads a rotated certificate again, and reports a removed one as unreadable without asking', async () => {
    const answers = new Map<bigint, Uint8Array>();
    let serve!: Issued;
    const s = await server(async (_, res) => sendDer(res, answers.get(serve.serialNumber) ?? (await stapleFor(pki, serve))));
    const oldLeaf = await leafFor(s.url);
    const newLeaf = await leafFor(s.url);
    answers.set(newLeaf.serialNumber, await stapleFor(pki, newLeaf, { status: 'revoked', revocationReason: 'superseded', revocationTime: new Date('2026-01-02T03:04:05Z') }));
    const path = writeFile(uniqueName('rotate.pem'), oldLeaf.pem + pki.intermediate.pem);
    const cfg = config(`  - certificate: ${path}\n`);
    const src = source();
    serve = oldLeaf;
    const [before] = await src.check(cfg, Infinity);
    expect(before!.responder?.verdict?.single?.certStatus).toBe('good');
    const serialBefore = before!.leaf!.serialNumber;
    serve = newLeaf;
    writeFileSync(path, newLeaf.pem + '\n' + pki.intermediate.pem);
    const [after] = await src.check(cfg, Infinity);
    expect(after!.leaf!.serialNumber).not.toBe(serialBefore);
    const text = await scrape(src, cfg);
    expect(text).toMatch(/ocsp_cert_revoked\{[^}]*\} 1\n/);
    expect(text).toMatch(new RegExp(`ocsp_cert_revocation_timestamp_seconds\\{[^}]*\\} ${Date.parse('2026-01-02T03:04:05Z') / 1000}\n`));
    unlinkSync(path);
    const requests = s.requests.length;
    const gone = await scrape(src, cfg);
    expect(gone).toContain(`ocsp_responder_check_certificate_readable{certificate="${path}"} 0\n`);
    expect(gone).toContain(`ocsp_responder_check_certificate_error{certificate="${path}",reason="missing"} 1\n`);
    expect(gone).not.toContain('ocsp_responder_up');
    expect(s.requests.length).toBe(requests);
  });

  it('maps tryLater and an answer signed by an expired delegated responder certificate', async () => {
    let leaf!: Issued;
    let mode: 'tryLater' | 'expiredSigner' = 'tryLater';
    const s = await server(async (_, res) =>
      sendDer(res, mode === 'tryLater' ? await stapleFor(pki, leaf, { responseStatus: 'tryLater' }) : await stapleFor(pki, leaf, { signer: pki.responderExpired })),
    );
    leaf = await leafFor(s.url);
    const path = writeFile(uniqueName('states.pem'), leaf.pem + pki.intermediate.pem);
    const cfg = config(`  - certificate: ${path}\n`, '    responder_cache_max_age: 0s\n');
    const src = source();
    const tryLater = await scrape(src, cfg);
    expect(tryLater).toMatch(/ocsp_responder_up\{[^}]*\} 0\n/);
    expect(tryLater).toMatch(/ocsp_responder_response_status\{[^}]*status="tryLater"\} 1\n/);
    expect(tryLater).toMatch(/ocsp_responder_problem\{[^}]*problem="not_successful"\} 1\n/);
    expect(tryLater).not.toContain('ocsp_cert_revoked');
    mode = 'expiredSigner';
    // Failures are cached briefly (src/responder/cache.ts): a fresh source and cache ask again.
    const expired = await scrape(source(), cfg);
    expect(expired).toMatch(/ocsp_responder_up\{[^}]*\} 0\n/);
    expect(expired).toMatch(/ocsp_responder_problem\{[^}]*problem="signer_expired"\} 1\n/);
    expect(expired).toMatch(/ocsp_responder_response_status\{[^}]*status="successful"\} 1\n/);
    expect(expired).toContain(`ocsp_responder_signer_not_after_timestamp_seconds{certificate="${path}"} ${pki.responderExpired.notAfter.getTime() / 1000}\n`);
    expect(expired).not.toContain('ocsp_responder_cert_status');
    expect(expired).not.toContain('ocsp_responder_produced_at');
  });

  it('a connection refused is ocsp_responder_up 0 with problem connect; no URL at all is only problem no_url', async () => {
    const s = await server(() => {});
    const port = s.port;
    await s.close();
    servers.pop();
    const leaf = await leafFor(`http://127.0.0.1:${port}/`);
    const noUrl = await createCertificate({ commonName: 'no-url.example', issuer: pki.intermediate, keys: await cachedKeys('ec-p256', 'leaf-ecdsa') });
    const down = writeFile(uniqueName('down.pem'), leaf.pem + pki.intermediate.pem);
    const none = writeFile(uniqueName('none.pem'), noUrl.pem + pki.intermediate.pem);
    const text = await scrape(source(), config(`  - certificate: ${down}\n  - certificate: ${none}\n`));
    expect(text).toContain(`ocsp_responder_up{certificate="${down}"} 0\n`);
    expect(text).toContain(`ocsp_responder_problem{certificate="${down}",problem="connect"} 1\n`);
    expect(text).toContain(`ocsp_responder_problem{certificate="${none}",problem="no_url"} 1\n`);
    expect(text).not.toContain(`ocsp_responder_up{certificate="${none}"}`);
    expect(text).toContain(`ocsp_cert_has_ocsp_url{certificate="${none}"} 0\n`);
  });

  it('a glob that stops matching, or matches more than 1000 files, is an unreadable series under the pattern', async () => {
    const sub = join(dir, uniqueName('glob'));
    mkdirSync(sub);
    const noUrl = await createCertificate({ commonName: 'no-url.example', issuer: pki.intermediate, keys: await cachedKeys('ec-p256', 'leaf-ecdsa') });
    writeFileSync(join(sub, 'only.pem'), noUrl.pem);
    const pattern = `${sub}/*.pem`;
    const cfg = config(`  - certificate: ${pattern}\n`);
    const src = source();
    for (let i = 0; i < 1000; i++) writeFileSync(join(sub, `more-${String(i).padStart(4, '0')}.pem`), noUrl.pem);
    const results = await src.check(cfg, Infinity);
    expect(results).toHaveLength(1001);
    expect(results.filter((r) => r.problem === null)).toHaveLength(1000);
    expect(results.at(-1)).toMatchObject({ certificate: pattern, problem: { reason: 'too_many_files' } });
    expect(results.at(-1)!.problem!.message).toContain('matches more than 1000 files');
    rmSync(sub, { recursive: true });
    const text = await scrape(src, cfg);
    expect(text).toContain(`ocsp_responder_check_certificate_error{certificate="${pattern}",reason="missing"} 1\n`);
    expect(text.match(/ocsp_responder_check_certificate_readable\{/g)).toHaveLength(1);
  });
});
