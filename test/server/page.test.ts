/**
 * `/` and `/target` through the real app (inject): what the sweeps found, never a probe; counts,
 * filter and search from query parameters; the detail with check's wording, the chain and the
 * log; hostile text escaped; the CSP and the other page headers.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import type { Config } from '../../src/config/schema.js';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.js';
import { MAX_ROWS } from '../../src/server/page/status.js';
import { PAGE_CSS } from '../../src/server/page/styles.js';
import { VERSION } from '../../src/version.js';
import { failedResult, leafFacts, NOW_MS, okResult, verdict } from '../metrics/fixtures.js';
import { FakeStore, fakeProbe, makeConfig, target } from './fakes.js';

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

const HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';

/** Each target's canned result by its host: ok, missing, failed, hostile. */
function answer(t: ProbeTarget): ProbeResult[] {
  const common = { target: t.target, address: `${t.host === 'down.test' ? '192.0.2.20' : '192.0.2.10'}:${t.port}`, module: t.module, labels: t.labels, serverName: t.serverName };
  if (t.host === 'down.test') return [failedResult('connect', { ...common, error: 'connection refused' })];
  if (t.host === 'nostaple.test') return [okResult({ ...common, leaf: leafFacts({ mustStaple: true }) }, null)];
  if (t.host === 'evil.test') {
    return [okResult({ ...common, leaf: leafFacts({ subject: `CN=${HOSTILE}`, serialNumber: 'ABCD' }), presented: [{ subject: `CN=${HOSTILE}`, issuer: 'CN=Evil CA', serial: 'ABCD', notBefore: '2026-01-01T00:00:00Z', notAfter: '2027-01-01T00:00:00Z' }] }, verdict({ valid: false, problems: ['bad_signature'] }))];
  }
  return [okResult(common)];
}

function make(config: Config) {
  const fake = fakeProbe({ answer });
  const app = buildApp({ store: new FakeStore(config), probe: fake.probe, now: () => NOW_MS, logLevel: 'silent', processMetrics: false });
  apps.push(app);
  return { app, fake };
}

const CONFIG = () =>
  makeConfig([
    target('ok.test:443', { labels: { team: 'shop' } }),
    target('nostaple.test:443'),
    target('down.test:443', { labels: { env: '<prod>' } }),
    target('evil.test:443'),
  ]);

function rowStates(body: string): string[] {
  return [...body.matchAll(/<tr class="row-([a-z_]+)">/g)].map((m) => m[1]!);
}

describe('GET /', () => {
  it('before the first sweep: every target not probed yet, nothing probed by the page, the landing links kept', async () => {
    const { app, fake } = make(CONFIG());
    const res = await app.server.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(fake.calls).toHaveLength(0);
    expect(rowStates(res.body)).toEqual(['not_probed', 'not_probed', 'not_probed', 'not_probed']);
    expect(res.body).toContain('No sweep yet');
    expect(res.body).toContain('<a href="metrics">/metrics</a>');
    expect(res.body).toContain('<a href="config">/config</a>');
    expect(res.body).toContain('<a href="-/healthy">');
    expect(res.body).toContain(`ocsp-stapling-exporter ${VERSION}`);
    expect(res.body).toContain('env=&quot;&lt;prod&gt;&quot;');
    expect(res.body).not.toContain('<prod>');
  });

  it('after a sweep: worst first, counts per state, filter and search by query parameters', async () => {
    const { app, fake } = make(CONFIG());
    await app.server.inject('/metrics');
    expect(fake.calls).toHaveLength(4);
    const res = await app.server.inject('/');
    expect(fake.calls).toHaveLength(4);
    expect(rowStates(res.body)).toEqual(['probe_failed', 'invalid', 'missing', 'valid']);
    const counts = [...res.body.matchAll(/<span class="badge b-([a-z_]+)">[^<]*<\/span><span class="n">(\d+)<\/span>/g)].map((m) => `${m[1]}=${m[2]}`);
    expect(counts).toEqual(['probe_failed=1', 'invalid=1', 'missing=1', 'valid=1']);
    expect(res.body).toContain('<span class="tag crit">Must-Staple</span>');
    expect(res.body).toContain('connect: connection refused');
    expect(res.body).toContain('TLSv1.3');

    const missing = await app.server.inject('/?state=missing');
    expect(rowStates(missing.body)).toEqual(['missing']);
    expect(missing.body).toContain('showing 1 of 4');
    const shop = await app.server.inject('/?q=SHOP');
    expect(rowStates(shop.body)).toEqual(['valid']);
    const none = await app.server.inject('/?q=shop&state=missing');
    expect(none.body).toContain('Nothing matches this filter.');
    // An unknown state is ignored rather than refused; the search text is echoed escaped.
    const odd = await app.server.inject(`/?state=bogus&q=${encodeURIComponent('"><b>')}`);
    expect(odd.statusCode).toBe(200);
    expect(odd.body).toContain('value="&quot;&gt;&lt;b&gt;"');
    expect(odd.body).not.toContain('"><b>');
  });

  it('escapes a hostile certificate subject and sends a strict CSP allowing only its own style sheet', async () => {
    const { app } = make(CONFIG());
    await app.server.inject('/metrics');
    const res = await app.server.inject('/');
    expect(res.body).not.toContain('<script>');
    expect(res.body).not.toContain('<img');
    expect(res.body).toContain('CN=&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    const hash = createHash('sha256').update(PAGE_CSS).digest('base64');
    expect(res.headers['content-security-policy']).toBe(
      `default-src 'none'; style-src 'sha256-${hash}'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    expect(res.body).toContain(`<style>${PAGE_CSS}</style>`);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('renders at most MAX_ROWS rows, worst first, while the counts cover every address', async () => {
    const many = makeConfig(Array.from({ length: MAX_ROWS + 20 }, (_, i) => target(`${i < 3 ? 'down' : 'ok'}.test:${1000 + i}`)));
    const { app } = make(many);
    await app.server.inject('/metrics');
    const res = await app.server.inject('/');
    const states = rowStates(res.body);
    expect(states).toHaveLength(MAX_ROWS);
    expect(states.slice(0, 3)).toEqual(['probe_failed', 'probe_failed', 'probe_failed']);
    expect(res.body).toContain(`Showing the worst ${MAX_ROWS} of ${MAX_ROWS + 20}`);
    expect(res.body).toContain(`<span class="badge b-valid">valid</span><span class="n">${MAX_ROWS + 17}</span>`);
  });

  it('shows the responder’s answer when the module asked it', async () => {
    const config = makeConfig([target('ok.test:443')]);
    const fake = fakeProbe({
      answer: (t) => [
        okResult({
          target: t.target,
          module: t.module,
          responder: { url: 'http://ocsp.example.test/', urlSource: 'aia', method: 'GET', up: true, source: 'network', durationSeconds: 0.05, fetchedAtMs: NOW_MS - 60_000, httpStatus: 200, problems: [], error: null, verdict: verdict() },
        }),
      ],
    });
    const app = buildApp({ store: new FakeStore(config), probe: fake.probe, now: () => NOW_MS, logLevel: 'silent', processMetrics: false });
    apps.push(app);
    await app.server.inject('/metrics');
    const res = await app.server.inject('/');
    expect(res.body).toMatch(/<td data-label="Responder"><div>good <span class="muted">via network<\/span> <span class="muted"><time datetime="[^"]+" title="[^"]+">1m ago<\/time><\/span><\/div><\/td>/);
  });
});

describe('GET /target', () => {
  it('shows the verdict in check’s words, the presented chain and the probe log, escaped', async () => {
    const { app } = make(CONFIG());
    await app.server.inject('/metrics');
    const page = await app.server.inject('/');
    const link = /<a href="(target\?[^"]+)">evil\.test:443<\/a>/.exec(page.body)![1]!.replace(/&amp;/g, '&');
    expect(link).toBe('target?target=evil.test%3A443&module=default&address=192.0.2.10%3A443');
    const res = await app.server.inject(`/${link}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.body).toContain('<span class="badge b-invalid">invalid</span>');
    expect(res.body).toMatch(/Staple: +INVALID, 471 bytes/);
    expect(res.body).toContain('  - bad_signature: the signature does not verify with the signer&#39;s key');
    expect(res.body).toContain('<td data-label="Issuer" class="subject"><div>CN=Evil CA</div></td>');
    expect(res.body).toContain('Probe of evil.test:443 (address 192.0.2.10:443, module default)');
    expect(res.body).not.toContain('<script>');
    expect(res.body).not.toContain('<img');
  });

  it('answers 404 for a target that is not configured, 400 without one, and "not probed yet" before the sweep', async () => {
    const { app } = make(CONFIG());
    expect((await app.server.inject('/target?target=ok.test:443')).body).toContain('not probed yet');
    const unknown = await app.server.inject('/target?target=other.test:443&module=default');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toContain('is not a configured static target');
    expect((await app.server.inject('/target')).statusCode).toBe(400);
    expect((await app.server.inject('/target?entry=abc')).statusCode).toBe(400);
    expect((await app.server.inject('/target?entry=99')).statusCode).toBe(404);
  });

  it('lists the recent probes on / and shows each one’s log', async () => {
    const { app } = make(CONFIG());
    await app.server.inject('/metrics');
    const page = await app.server.inject('/');
    const entries = [...page.body.matchAll(/<a href="target\?entry=(\d+)">([^<]+)<\/a>/g)].map((m) => m[2]);
    expect(entries.sort()).toEqual(['down.test:443', 'evil.test:443', 'nostaple.test:443', 'ok.test:443']);
    const id = /<a href="target\?entry=(\d+)">down\.test:443<\/a>/.exec(page.body)![1];
    const res = await app.server.inject(`/target?entry=${id}`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`Probe ${id}, by a sweep`);
    expect(res.body).toMatch(/probe failed \(connect\) after [0-9.]+ s: connection refused/);
  });
});
