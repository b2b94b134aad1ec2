/**
 * checkResponder / checkChainResponders against loopback HTTP responders answering with responses
 * made by src/pki: answers judged like staples, the cache and single-flight seen from the
 * responder's side (requests counted), failures cached briefly, URL choice and the chain walk.
 * (The end-to-end tests use `openssl ocsp` as the responder: test/e2e/responder.test.ts.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCertificate, type Issued } from '../../src/pki/index.js';
import { AnswerCache, checkChainResponders, checkResponder, type ExchangeOutcome } from '../../src/responder/index.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { LOOPBACK_ALLOWED, requestDer, sendDer, startHttpServer, type TestHttpServer } from './support.js';
import { buildOcspRequest } from '../../src/responder/index.js';

let pki: TestPki;
const servers: TestHttpServer[] = [];
async function responder(answer: () => Promise<Uint8Array> | Uint8Array): Promise<TestHttpServer> {
  const s = await startHttpServer(async (_, res) => sendDer(res, await answer()));
  servers.push(s);
  return s;
}

beforeAll(async () => {
  pki = await makeTestPki();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const deadline = () => Date.now() + 3000;
const freshCache = () => new AnswerCache<ExchangeOutcome>();

describe('checkResponder', () => {
  it("asks about the leaf's CertID and judges a good answer like a staple", async () => {
    const good = await stapleFor(pki, pki.leafEcdsa, { signer: pki.responder });
    const s = await responder(() => good);
    const result = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: s.url, cache: freshCache() });
    expect(result).toMatchObject({ up: true, url: s.url, urlSource: 'config', method: 'GET', source: 'network', httpStatus: 200, problems: [], error: null });
    expect(result.verdict?.single?.certStatus).toBe('good');
    expect(result.verdict?.signer.kind).toBe('delegated');
    expect(result.durationSeconds).toBeGreaterThan(0);
    expect(requestDer(s.requests[0]!).equals(Buffer.from(buildOcspRequest(pki.leafEcdsa.der, pki.intermediate.der).der))).toBe(true);
  });

  it('reports revoked answers, and invalid ones with the verdict problems', async () => {
    const cache = freshCache();
    const revoked = await responder(() => stapleFor(pki, pki.leafEcdsa, { status: 'revoked', revocationReason: 'keyCompromise' }));
    const r = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: revoked.url, cache });
    expect(r.up).toBe(true);
    expect(r.verdict?.single).toMatchObject({ certStatus: 'revoked', revocationReason: 'keyCompromise' });

    const stranger = await responder(() => stapleFor(pki, pki.leafEcdsa, { signer: pki.strangerResponder }));
    const s = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: stranger.url, cache });
    expect(s.up).toBe(false);
    expect(s.problems).toContain('unauthorized_responder');
    expect(s.error).toMatch(/is not valid: .*unauthorized_responder/);

    const wrong = await responder(() => stapleFor(pki, pki.leafRsa));
    const w = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: wrong.url, cache });
    expect(w.problems).toContain('wrong_certificate');

    const garbage = await responder(() => Buffer.from('<html>not ocsp</html>'));
    const g = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: garbage.url, cache });
    expect(g).toMatchObject({ up: false, problems: ['unparseable'] });
    expect(g.error).toMatch(/not valid: unparseable: /);

    const tryLater = await responder(() => stapleFor(pki, pki.leafEcdsa, { responseStatus: 'tryLater' }));
    const t = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: tryLater.url, cache });
    expect(t).toMatchObject({ up: false, problems: ['not_successful'] });
    expect(t.error).toContain('responseStatus tryLater');
  });

  it('asks the AIA URL when no override is set, and says when there is none', async () => {
    const cache = freshCache();
    const aia = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, {
      deadlineMs: deadline(),
      destinations: LOOPBACK_ALLOWED,
      cache,
      // The fixture's AIA names ocsp.example.test: resolve it to a closed loopback port.
      lookup: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect(aia).toMatchObject({ url: pki.ocspUrl, urlSource: 'aia', up: false, problems: ['connect'] });
    const none = await checkResponder(pki.leafNoOcspUrl.der, pki.intermediate.der, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, cache });
    expect(none).toMatchObject({ url: null, urlSource: null, up: false, source: null, problems: ['no_url'] });
    const noIssuer = await checkResponder(pki.leafEcdsa.der, null, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, cache });
    expect(noIssuer).toMatchObject({ url: pki.ocspUrl, up: false, source: null, problems: ['issuer_unknown'] });
  });

  it('reuses a good answer until the max age, so many probes cost one request', async () => {
    const good = await stapleFor(pki, pki.leafEcdsa);
    const s = await responder(() => good);
    const cache = freshCache();
    let now = Date.now();
    const options = { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: s.url, cache, now: () => now, cacheMaxAgeSeconds: 600 };
    const first = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options);
    const results = await Promise.all(Array.from({ length: 100 }, () => checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options)));
    expect(first.source).toBe('network');
    expect(new Set(results.map((r) => r.source))).toEqual(new Set(['cache']));
    expect(results.every((r) => r.up && r.fetchedAtMs === first.fetchedAtMs)).toBe(true);
    expect(s.requests).toHaveLength(1);
    now += 601_000;
    expect((await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options)).source).toBe('network');
    expect(s.requests).toHaveLength(2);
  });

  it('makes concurrent probes of one certificate share one request', async () => {
    const good = await stapleFor(pki, pki.leafEcdsa);
    const s = await startHttpServer(async (_, res) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sendDer(res, good);
    });
    servers.push(s);
    const cache = freshCache();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: s.url, cache })),
    );
    expect(s.requests).toHaveLength(1);
    expect(results.filter((r) => r.source === 'network')).toHaveLength(1);
    expect(results.filter((r) => r.source === 'shared')).toHaveLength(49);
    expect(results.every((r) => r.up)).toBe(true);
  });

  it('stops waiting for a shared request at its own deadline', async () => {
    const good = await stapleFor(pki, pki.leafEcdsa);
    const s = await startHttpServer(async (_, res) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      sendDer(res, good);
    });
    servers.push(s);
    const cache = freshCache();
    const slow = checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: Date.now() + 3000, destinations: LOOPBACK_ALLOWED, urlOverride: s.url, cache });
    const hurried = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, { deadlineMs: Date.now() + 100, destinations: LOOPBACK_ALLOWED, urlOverride: s.url, cache });
    expect(hurried).toMatchObject({ up: false, source: 'shared', problems: ['timeout'] });
    expect((await slow).up).toBe(true);
    expect(s.requests).toHaveLength(1);
  });

  it('remembers failures for 30 s, so a down responder is not hammered', async () => {
    const s = await startHttpServer((_, res) => {
      res.writeHead(500);
      res.end();
    });
    servers.push(s);
    const cache = freshCache();
    let now = Date.now();
    const options = { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: s.url, cache, now: () => now };
    for (let i = 0; i < 10; i++) {
      const r = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options);
      expect(r).toMatchObject({ up: false, problems: ['http_status'], httpStatus: 500 });
    }
    expect(s.requests).toHaveLength(1);
    now += 30_001;
    await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options);
    expect(s.requests).toHaveLength(2);
  });

  it("stops serving an answer at its nextUpdate, and judges a cached answer at each probe's time", async () => {
    const realNow = Date.now();
    const answer = await stapleFor(pki, pki.leafEcdsa, { nextUpdate: new Date(realNow + 10 * 60_000) });
    const s = await responder(() => answer);
    const cache = freshCache();
    let now = realNow;
    const options = { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, urlOverride: s.url, cache, now: () => now };
    expect((await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options)).up).toBe(true);
    now = realNow + 9 * 60_000;
    expect((await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options)).source).toBe('cache');
    now = realNow + 10 * 60_000 + 1;
    const after = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options);
    expect(after.source).toBe('network');
    expect(s.requests).toHaveLength(2);
    // The responder still serves the same (now old) answer; past nextUpdate + skew it is expired.
    now = realNow + 16 * 60_000;
    const expired = await checkResponder(pki.leafEcdsa.der, pki.intermediate.der, options);
    expect(expired.problems).toContain('expired');
    expect(expired.up).toBe(false);
  });
});

describe('checkChainResponders', () => {
  let root: Issued;
  let intermediate: Issued;
  let leaf: Issued;
  let rootResponder: TestHttpServer;
  let rootStatus: 'good' | 'revoked' = 'good';

  beforeAll(async () => {
    // The intermediate's AIA names a responder run by the root, answering about the intermediate.
    rootResponder = await startHttpServer(async (_, res) =>
      sendDer(res, await stapleFor(pki, intermediate, { issuer: root, signer: root, status: rootStatus })),
    );
    root = await createCertificate({ commonName: 'Chain Root', isCA: true, keys: await cachedKeys('ec-p256', 'chain-root') });
    intermediate = await createCertificate({
      commonName: 'Chain Intermediate',
      isCA: true,
      issuer: root,
      keys: await cachedKeys('ec-p256', 'chain-intermediate'),
      ocspUrls: [rootResponder.url],
    });
    leaf = await createCertificate({ commonName: 'localhost', issuer: intermediate, keys: await cachedKeys('ec-p256', 'leaf-ecdsa'), ocspUrls: ['http://127.0.0.1:9/'] });
  });
  afterAll(async () => {
    await rootResponder.close();
  });

  it("asks each intermediate's issuer responder, skipping self-signed roots, issuer from the chain or the CA file", async () => {
    rootStatus = 'good';
    const withRoot = await checkChainResponders([leaf.der, intermediate.der, root.der], { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, cache: freshCache() });
    expect(withRoot).toHaveLength(1);
    expect(withRoot[0]).toMatchObject({ depth: 1, subject: 'CN=Chain Intermediate', issuerSource: 'chain' });
    expect(withRoot[0]!.responder).toMatchObject({ up: true, url: rootResponder.url, urlSource: 'aia' });
    expect(withRoot[0]!.responder.verdict?.single?.certStatus).toBe('good');

    rootStatus = 'revoked';
    const fromCaFile = await checkChainResponders([leaf.der, intermediate.der], { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, cache: freshCache(), caCertificates: [root.der] });
    expect(fromCaFile[0]).toMatchObject({ depth: 1, issuerSource: 'ca_file' });
    expect(fromCaFile[0]!.responder.verdict?.single?.certStatus).toBe('revoked');

    const unknownIssuer = await checkChainResponders([leaf.der, intermediate.der], { deadlineMs: deadline(), destinations: LOOPBACK_ALLOWED, cache: freshCache() });
    expect(unknownIssuer[0]).toMatchObject({ issuerSource: null, responder: { up: false, problems: ['issuer_unknown'] } });

    expect(await checkChainResponders([leaf.der], { deadlineMs: deadline() })).toEqual([]);
  });
});
