/**
 * Asking the CA's responder directly, end to end: real nginx stapling from a real `openssl ocsp`
 * responder, the exporter (buildApp + real probe) read over `/probe`, and the scenarios the staple
 * alone cannot show:
 * - the certificate is revoked in the CA database while nginx keeps stapling its old "good" answer
 *   (nginx never staples a revoked one): the staple says good, the responder says revoked, and
 *   `ocsp_cert_revoked` is 1;
 * - the responder's current answer is newer than the staple (thisUpdate compared);
 * - the responder is down (killed), hangs, answers garbage or redirects: `ocsp_responder_up` 0 with
 *   the problem named, the probe itself still a success within its budget, the staple series intact;
 * - the cache: many probes of servers sharing one certificate, and the requests the responder saw.
 * `openssl ocsp` re-reads index.txt when it changes, one request late (see lab/responder.ts): every
 * revocation goes through `lab.revoke`, which waits until the responder serves it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule, emptyConfig, type Config, type ModuleConfig } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeTarget } from '../../src/probe/types.js';
import { sharedAnswerCache } from '../../src/responder/index.js';
import { LOOPBACK_ALLOWED } from '../responder/support.js';
import { find, type Exposition } from '../metrics/exposition.js';
import { Lab, LOOPBACK, captureStaple, describeOcspResponse, requireLabTools, waitFor, type LabCert, type NginxServer } from './lab/index.js';
import { startExporter, summarize, type RunningExporter } from './support/exporter.js';

const gate = requireLabTools(['openssl', 'faketime', 'nginx']);

/** An HTTP server in front of the lab's `openssl ocsp` responder that counts what reaches it. */
interface CountingProxy {
  url: string;
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

async function countingProxy(upstreamUrl: string): Promise<CountingProxy> {
  const upstream = new URL(upstreamUrl);
  const requests: CountingProxy['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '' });
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A small in-test HTTP server playing a broken responder. */
async function brokenResponder(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}/ocsp`,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The responder series of one address (undefined where absent). */
function responderSeries(e: Exposition, target: string) {
  const key = { target };
  const one = (name: string, extra: Record<string, string> = {}) => find(e, name, { ...key, ...extra })[0]?.value;
  return {
    up: one('ocsp_responder_up'),
    cacheHit: one('ocsp_responder_cache_hit'),
    duration: one('ocsp_responder_duration_seconds'),
    status: find(e, 'ocsp_responder_cert_status', key).find((s) => s.value === 1)?.labels.status,
    thisUpdate: one('ocsp_responder_this_update_timestamp_seconds'),
    nextUpdate: one('ocsp_responder_next_update_timestamp_seconds'),
    problems: find(e, 'ocsp_responder_problem', key).filter((s) => s.value === 1).map((s) => s.labels.problem).sort(),
  };
}

describe.skipIf(gate.skip)('e2e: asking the responder directly (openssl ocsp + nginx)', () => {
  let lab: Lab;
  let nginx: NginxServer;
  let victim: LabCert;
  let shared: LabCert;
  let exporter: RunningExporter;
  let proxy: CountingProxy;
  const SHARED_SITES = 10;
  const target = (site: string) => `${LOOPBACK}:${nginx.port(site)}`;

  function modules(): Record<string, ModuleConfig> {
    // The lab's responders listen on loopback, which responder requests reach only when allowlisted.
    const base = { ...defaultModule(), caPem: lab.pki.root.certPem, timeoutSeconds: 3, queryResponder: true, responderDestinations: LOOPBACK_ALLOWED };
    return {
      default: { ...base, name: 'default' },
      // Every probe asks again (single-flight only): what the responder sees changing at once.
      uncached: { ...base, name: 'uncached', responderCacheMaxAgeSeconds: 0 },
      staple_only: { ...defaultModule('staple_only'), caPem: lab.pki.root.certPem },
    };
  }

  beforeAll(async () => {
    sharedAnswerCache.clear();
    lab = await Lab.start({ name: 'e2e-responder' });
    [victim, shared] = await Promise.all([lab.issueLeaf({ name: 'victim' }), lab.issueLeaf({ name: 'shared' })]);
    nginx = await lab.startNginx([
      { name: 'victim', leaf: victim, stapling: { mode: 'live' } },
      ...Array.from({ length: SHARED_SITES }, (_, i) => ({ name: `shared-${i}`, leaf: shared, stapling: { mode: 'live' as const } })),
    ]);
    // nginx fetches lazily: wait until every site staples the responder's "good" answer.
    for (const site of ['victim', ...Array.from({ length: SHARED_SITES }, (_, i) => `shared-${i}`)]) {
      await waitFor(async () => (await captureStaple(LOOPBACK, nginx.port(site))).staple, 10_000, {
        what: `nginx ${site} to staple`,
        diagnostics: () => nginx.diagnostics(),
      });
    }
    proxy = await countingProxy(lab.responder.url);
    const config: Config = { ...emptyConfig(), modules: modules() };
    config.global.probeAllowlist = ['127.0.0.0/8'];
    exporter = await startExporter(config);
  }, 120_000);

  afterAll(async () => {
    await exporter?.close();
    await proxy?.close();
    await lab?.stop();
  });

  it('reports a revoked certificate whose server still staples the old "good" answer', async () => {
    const before = await exporter.probe(target('victim'));
    expect(summarize(before, { target: target('victim') })).toMatchObject({ success: 1, valid: 1, certStatus: 'good', revoked: 0 });
    expect(responderSeries(before, target('victim'))).toMatchObject({ up: 1, status: 'good', cacheHit: 0, problems: [] });

    await lab.revoke(victim, 'keyCompromise');
    // nginx keeps its cached good staple (and would never staple a revoked one)...
    const stapled = await captureStaple(LOOPBACK, nginx.port('victim'));
    expect((await describeOcspResponse(stapled.staple!)).certStatus).toBe('good');

    // ...so only the responder tells. The cached "good" answer would hide it for up to
    // responder_cache_max_age: the uncached module asks again.
    const after = await exporter.probe(target('victim'), 'uncached');
    const staple = summarize(after, { target: target('victim') });
    const asked = responderSeries(after, target('victim'));
    expect(staple).toMatchObject({ success: 1, valid: 1, certStatus: 'good', revoked: 1 });
    expect(asked).toMatchObject({ up: 1, status: 'revoked', cacheHit: 0, problems: [] });
    expect(staple.revocationTime).toBeGreaterThan(Date.now() / 1000 - 120);
    // The responder's answer is newer than the staple (openssl ocsp signs each answer now).
    expect(asked.thisUpdate!).toBeGreaterThan(staple.thisUpdate!);
    expect(asked.nextUpdate! - asked.thisUpdate!).toBe(24 * 3600);

    // A module that does not opt in sees only the staple, which still says good.
    const stapleOnly = await exporter.probe(target('victim'), 'staple_only');
    expect(summarize(stapleOnly, { target: target('victim') })).toMatchObject({ certStatus: 'good', revoked: 0 });
    expect(find(stapleOnly, 'ocsp_responder_up')).toEqual([]);
  });

  it('reports a responder that hangs, answers garbage or redirects, within the probe budget', async () => {
    const hang = await brokenResponder(() => undefined);
    const garbage = await brokenResponder((_, res) => {
      res.writeHead(200, { 'Content-Type': 'application/ocsp-response' });
      res.end('<html>maintenance</html>');
    });
    const redirect = await brokenResponder((_, res) => {
      res.writeHead(302, { Location: lab.responder.url });
      res.end();
    });
    try {
      const config: Config = {
        ...emptyConfig(),
        modules: {
          default: defaultModule(),
          hang: { ...modules().uncached!, name: 'hang', responderUrl: hang.url, timeoutSeconds: 2 },
          garbage: { ...modules().uncached!, name: 'garbage', responderUrl: garbage.url },
          redirect: { ...modules().uncached!, name: 'redirect', responderUrl: redirect.url },
        },
      };
      config.global.probeAllowlist = ['127.0.0.0/8'];
      const broken = await startExporter(config);
      try {
        const cases = [
          ['hang', 'timeout'],
          ['garbage', 'unparseable'],
          ['redirect', 'redirect'],
        ] as const;
        for (const [module, problem] of cases) {
          const started = Date.now();
          const e = await broken.probe(target('shared-0'), module);
          const took = Date.now() - started;
          expect(summarize(e, { target: target('shared-0') }), module).toMatchObject({ success: 1, valid: 1, certStatus: 'good', revoked: 0 });
          expect(responderSeries(e, target('shared-0')), module).toMatchObject({ up: 0, status: undefined, problems: [problem] });
          // Within the module's budget (2 s for hang, 3 s for the others) plus scheduling slack.
          expect(took, module).toBeLessThan(module === 'hang' ? 3500 : 3000);
        }
      } finally {
        await broken.close();
      }
    } finally {
      await Promise.all([hang.close(), garbage.close(), redirect.close()]);
    }
  });

  it('shares answers: many probes of servers sharing one certificate cost the responder one request', async () => {
    const base = { ...defaultModule('m'), caPem: lab.pki.root.certPem, timeoutSeconds: 5, queryResponder: true, responderUrl: proxy.url, responderDestinations: LOOPBACK_ALLOWED };
    const targets: ProbeTarget[] = Array.from({ length: SHARED_SITES }, (_, i) => ({
      target: target(`shared-${i}`),
      host: LOOPBACK,
      port: nginx.port(`shared-${i}`),
      module: 'm',
      serverName: 'localhost',
      labels: {},
    }));
    const PROBES = 1000;
    const limit = pLimit(32);
    const run = async (module: ModuleConfig): Promise<{ requests: number; methods: string[]; ms: number; revoked: number }> => {
      sharedAnswerCache.clear();
      proxy.requests.length = 0;
      const started = Date.now();
      const results = (
        await Promise.all(Array.from({ length: PROBES }, (_, i) => limit(() => probeTarget(targets[i % SHARED_SITES]!, module, Date.now() + 5000))))
      ).flat();
      expect(results.every((r) => r.success && r.responder?.up === true && r.responder.verdict?.single?.certStatus === 'good')).toBe(true);
      return {
        requests: proxy.requests.length,
        methods: [...new Set(proxy.requests.map((r) => r.method))],
        ms: Date.now() - started,
        revoked: results.filter((r) => r.responder?.verdict?.single?.certStatus === 'revoked').length,
      };
    };
    const cached = await run(base);
    const uncached = await run({ ...base, responderCacheMaxAgeSeconds: 0 });
    console.info(
      `responder cache effect: ${PROBES} probes of ${SHARED_SITES} nginx servers sharing one certificate → ` +
        `${cached.requests} responder request(s) with the cache (${cached.ms} ms), ` +
        `${uncached.requests} with responder_cache_max_age: 0 (single-flight only, ${uncached.ms} ms), ` +
        `${PROBES} without either`,
    );
    expect(cached.requests).toBe(1);
    // openssl ocsp answered our GET form (the request is small: RFC 5019 §5).
    expect(cached.methods).toEqual(['GET']);
    expect(uncached.requests).toBeGreaterThan(1);
    expect(uncached.requests).toBeLessThan(PROBES);
  }, 120_000);

  it('reports the responder down (killed) and caches the failure briefly', async () => {
    await lab.responder.kill();
    try {
      const first = await exporter.probe(target('shared-1'));
      expect(summarize(first, { target: target('shared-1') })).toMatchObject({ success: 1, valid: 1, certStatus: 'good', revoked: 0 });
      expect(responderSeries(first, target('shared-1'))).toMatchObject({ up: 0, cacheHit: 0, problems: ['connect'] });
      // The failure is remembered (30 s): the next probe does not knock on the dead responder again.
      const second = await exporter.probe(target('shared-2'));
      expect(responderSeries(second, target('shared-2'))).toMatchObject({ up: 0, cacheHit: 1, problems: ['connect'] });
    } finally {
      await lab.responder.restart();
    }
  });
});
