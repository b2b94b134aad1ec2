/**
 * The status page in a real browser: Playwright (`playwright-core`) driving Debian's `chromium`
 * (never a downloaded browser) against the real exporter on 127.0.0.1 port 0. The demo lab's nine
 * states come out of the real probe with the right badges and counts; the filter, the search and
 * the detail page work by plain links and forms (no script on the page); a certificate whose
 * subject is markup shows as text, over TLS with basic auth (web config); every request the page
 * makes stays on its origin, and the browser reports no Content-Security-Policy violation.
 * Screenshots of a phone and a desktop viewport go to test-artifacts/page-browser/ (not committed).
 */
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { defaultModule, emptyConfig, type Config } from '../../src/config/schema.js';
import { ConfigStore } from '../../src/config/store.js';
import { startDemoLab, type DemoLab } from '../../src/demo/lab.js';
import { createCertificate } from '../../src/pki/index.js';
import { WebAccess } from '../../src/server/auth.js';
import { loadWebConfigFile } from '../../src/server/webconfig.js';
import { makeWebFixtures, type WebFixtures } from '../webconfig/fixtures.js';
import { startExporter, type RunningExporter } from './support/exporter.js';

const CHROMIUM = '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true';
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'page-browser');

function requireChromium(): boolean {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    const message = `status page browser tests: ${CHROMIUM} missing; install with: apt-get install --no-install-recommends chromium`;
    if (IN_CI) throw new Error(`${message} (CI=true: must not be skipped in CI)`);
    console.warn(`\n*** SKIPPING *** ${message}\n`);
    return false;
  }
}

const HAVE_CHROMIUM = requireChromium();
const HOSTILE_CN = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';

/** What each demo case must show: its badge's words. */
const DEMO_BADGES: Record<string, string> = {
  good: 'valid',
  no_staple: 'missing',
  expired: 'expired',
  revoked: 'revoked',
  wrong_certificate: 'invalid',
  must_staple_missing: 'missing',
  stale: 'stale',
  no_ocsp_url: 'no OCSP URL',
  bad_signature: 'invalid',
};

let lab: DemoLab;
let demo: RunningExporter;
let fx: WebFixtures;
let hostileServer: tls.Server;
let secured: App;
let securedBase: string;
let context: BrowserContext;
let profileDir: string;

/** A TLS server whose certificate's subject is markup, and the config probing it. */
async function hostileTarget(): Promise<Config> {
  const ca = await createCertificate({ commonName: 'page test CA', isCA: true });
  const leaf = await createCertificate({ commonName: HOSTILE_CN, issuer: ca, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], extendedKeyUsage: ['serverAuth'], ocspUrls: ['http://ocsp.page.invalid/'] });
  hostileServer = tls.createServer({ cert: leaf.pem + ca.pem, key: leaf.keyPem });
  hostileServer.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => hostileServer.listen(0, '127.0.0.1', resolve));
  const port = (hostileServer.address() as AddressInfo).port;
  const config = emptyConfig();
  config.modules['hostile'] = { ...defaultModule('hostile'), caPem: ca.pem, serverName: 'localhost', timeoutSeconds: 5 };
  config.targets = [{ target: `127.0.0.1:${port}`, host: '127.0.0.1', port, module: 'hostile', serverName: null, labels: { case: 'hostile' } }];
  return config;
}

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  lab = await startDemoLab();
  demo = await startExporter(lab.config);
  await demo.scrape(); // the sweep the page shows; the page itself never probes

  fx = await makeWebFixtures();
  const webConfig = fx.write('web.yml', `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: ${fx.users.alice}\n`);
  const access = new WebAccess(loadWebConfigFile(webConfig));
  const config = await hostileTarget();
  secured = buildApp({ store: new ConfigStore(config, () => config), logLevel: 'silent', processMetrics: false, ...access.deps() });
  securedBase = await secured.listen({ host: '127.0.0.1', port: 0 });
  await secured.sweeper.sweep(config, Infinity);

  profileDir = mkdtempSync(join(tmpdir(), 'ocsp-exporter-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    // The web config's server certificate is from the test PKI, which chromium does not trust.
    ignoreHTTPSErrors: true,
    httpCredentials: { username: 'alice', password: 'alice-secret', origin: new URL(securedBase).origin },
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  await secured?.close();
  await new Promise<void>((resolve) => (hostileServer ? hostileServer.close(() => resolve()) : resolve()));
  fx?.cleanup();
  await demo?.close();
  await lab?.close();
});

/** A fresh page recording what it requests, its dialogs and its console's CSP complaints. */
async function watchedPage(): Promise<{ page: Page; requests: string[]; dialogs: string[]; cspViolations: string[] }> {
  const page = await context.newPage();
  const requests: string[] = [];
  const dialogs: string[] = [];
  const cspViolations: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return { page, requests, dialogs, cspViolations };
}

/** The demo case (its `demo_case` label) and badge of each row, in page order. */
async function rowsOf(page: Page): Promise<{ demoCase: string; badge: string; mustStaple: boolean }[]> {
  return page.$$eval('table.status:not(.history) tbody tr', (rows) =>
    rows.map((row) => ({
      demoCase: /demo_case="([a-z_]+)"/.exec(row.querySelector('td.target')?.textContent ?? '')?.[1] ?? '',
      badge: row.querySelector('td.state .badge')?.textContent ?? '',
      mustStaple: row.querySelector('td.state .tag') !== null,
    })),
  );
}

async function countsOf(page: Page): Promise<Record<string, number>> {
  return page.$$eval('ul.counts a', (chips) =>
    Object.fromEntries(chips.map((chip) => [chip.querySelector('.badge')?.textContent ?? '', Number(chip.querySelector('.n')?.textContent)])),
  );
}

describe.skipIf(!HAVE_CHROMIUM)('status page in chromium', () => {
  it('shows the demo lab’s nine states with the right badges and counts, worst first, in one origin', async () => {
    const { page, requests, dialogs, cspViolations } = await watchedPage();
    const response = await page.goto(`${demo.baseUrl}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; img-src 'none'/);

    const rows = await rowsOf(page);
    expect(rows).toHaveLength(9);
    expect(Object.fromEntries(rows.map((r) => [r.demoCase, r.badge]))).toEqual(DEMO_BADGES);
    expect(rows.filter((r) => r.mustStaple).map((r) => r.demoCase)).toEqual(['must_staple_missing']);
    expect(rows.map((r) => r.badge)).toEqual(['revoked', 'expired', 'invalid', 'invalid', 'missing', 'missing', 'stale', 'no OCSP URL', 'valid']);
    expect(await countsOf(page)).toEqual({ all: 9, revoked: 1, expired: 1, invalid: 2, missing: 2, stale: 1, 'no OCSP URL': 1, valid: 1 });
    // The style sheet applied (its hash matches the CSP): a badge has its colour, not the default.
    expect(await page.evaluate("getComputedStyle(document.querySelector('.b-valid')).backgroundColor")).toBe('rgb(26, 127, 55)');

    await page.setViewportSize({ width: 1440, height: 900 });
    await page.screenshot({ path: join(ARTIFACTS, 'demo-wide.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'demo-narrow.png'), fullPage: true });
    // On a phone the table becomes cards: no header row, each cell labelled.
    expect(await page.evaluate("getComputedStyle(document.querySelector('table.status thead')).display")).toBe('none');
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

    const origin = new URL(demo.baseUrl).origin;
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(dialogs).toEqual([]);
    expect(cspViolations).toEqual([]);
    await page.close();
  });

  it('filters by state and searches by link and form, then opens a target’s detail', async () => {
    const { page, requests, cspViolations } = await watchedPage();
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${demo.baseUrl}/`);
    await page.click('ul.counts a:has(.b-invalid)');
    expect(new URL(page.url()).searchParams.get('state')).toBe('invalid');
    expect((await rowsOf(page)).map((r) => r.demoCase).sort()).toEqual(['bad_signature', 'wrong_certificate']);

    await page.fill('input[name="q"]', 'signature');
    await page.selectOption('select[name="state"]', '');
    await page.click('form.filter button[type="submit"]');
    expect((await rowsOf(page)).map((r) => r.demoCase)).toEqual(['bad_signature']);
    expect(new URL(page.url()).searchParams.get('q')).toBe('signature');

    await page.click('td.target a');
    expect(new URL(page.url()).pathname).toBe('/target');
    const verdict = await page.textContent('pre.verdict');
    expect(verdict).toMatch(/Staple: +INVALID/);
    expect(verdict).toContain("bad_signature: the signature does not verify with the signer's key");
    expect(await page.textContent('pre.log')).toContain('Probe of 127.0.0.1:');
    const chain = await page.$$eval('table.chain tbody tr td[data-label="Subject"]', (cells) => cells.map((c) => c.textContent));
    expect(chain).toEqual(['CN=bad-signature.demo.invalid', 'CN=ocsp-stapling-exporter demo CA']);
    await page.screenshot({ path: join(ARTIFACTS, 'detail-wide.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'detail-narrow.png'), fullPage: true });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

    await page.click('text=← all targets');
    expect((await rowsOf(page)).length).toBe(9);
    const origin = new URL(demo.baseUrl).origin;
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(cspViolations).toEqual([]);
    await page.close();
  });

  it('shows a certificate subject that is markup as text, over TLS with basic auth', async () => {
    expect(securedBase).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { page, requests, dialogs, cspViolations } = await watchedPage();
    await page.setViewportSize({ width: 1440, height: 900 });
    const response = await page.goto(`${securedBase}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    // The subject as the exporter reports it (RFC 4514, which escapes < > " with a backslash), as text.
    const subject = secured.sweeper.latestResults()[0]!.leaf!.subject;
    expect(subject).toContain('alert(1)');
    expect(subject).toMatch(/<img src.+x onerror.+alert\(2\)/);
    expect(await page.textContent('td[data-label="Certificate"] .subject')).toBe(subject);
    expect(await page.$$('img')).toHaveLength(0);
    expect(await page.$$('script')).toHaveLength(0);

    await page.click('td.target a');
    const subjects = await page.$$eval('table.chain tbody tr td[data-label="Subject"]', (cells) => cells.map((c) => c.textContent));
    expect(subjects[0]).toBe(subject);
    expect(await page.textContent('pre.verdict')).toContain(subject);
    expect(await page.$$('img')).toHaveLength(0);
    await page.screenshot({ path: join(ARTIFACTS, 'hostile-wide.png'), fullPage: true });

    expect(dialogs).toEqual([]);
    expect(cspViolations).toEqual([]);
    const origin = new URL(securedBase).origin;
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    await page.close();

    // Without the credentials the page is refused (the web config's basic auth covers it too).
    const status = await new Promise<number | string>((resolve) => {
      httpsGet(`${securedBase}/`, { ca: fx.serverCaPem, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', (error) => resolve(error.message));
    });
    expect(status).toBe(401);
  });
});
