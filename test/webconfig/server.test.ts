/**
 * `--web.config.file` on a real listening exporter (`buildApp` on 127.0.0.1:0), driven by Node's
 * own HTTPS client the way Prometheus connects: TLS versions, basic auth on every endpoint, each
 * client_auth_type with good, missing, expired, foreign and self-signed client certificates,
 * client_allowed_sans, extra headers, and the bcrypt cache measured.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { buildApp, type App } from '../../src/app.js';
import { WebAccess, type WebAccessOptions } from '../../src/server/auth.js';
import { BasicAuthChecker } from '../../src/server/basic-auth.js';
import { loadWebConfigFile } from '../../src/server/webconfig.js';
import type { Issued } from '../../src/pki/index.js';
import { FakeStore, makeConfig } from '../server/fakes.js';
import { makeWebFixtures, type WebFixtures } from './fixtures.js';

let fx: WebFixtures;
beforeAll(async () => {
  fx = await makeWebFixtures();
});
afterAll(() => fx?.cleanup());

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** An exporter serving `webConfigText` (written as web.yml) through WebAccess, as `serve` wires it; its base URL and the access. */
async function serveWith(webConfigText: string, options: WebAccessOptions = {}): Promise<{ base: string; access: WebAccess }> {
  const access = new WebAccess(loadWebConfigFile(fx.write('web.yml', webConfigText)), options);
  const app = buildApp({ store: new FakeStore(makeConfig([])), logLevel: 'silent', processMetrics: false, ...access.deps() });
  apps.push(app);
  return { base: await app.listen({ host: '127.0.0.1', port: 0 }), access };
}

/** {@link serveWith}'s base URL. */
async function serve(webConfigText: string): Promise<string> {
  return (await serveWith(webConfigText)).base;
}

interface Answer {
  /** SHA-256 fingerprint of the server certificate (HTTPS only). */
  fingerprint?: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface ClientOptions {
  method?: string;
  auth?: string;
  client?: Issued;
  minVersion?: RequestOptions['minVersion'];
  maxVersion?: RequestOptions['maxVersion'];
}

/** One request on a fresh connection; a refused handshake resolves to `{ error }`. */
function fetch(url: string, options: ClientOptions = {}): Promise<Answer | { error: string }> {
  const https = url.startsWith('https:');
  return new Promise((resolve) => {
    let fingerprint: string | undefined;
    const settle = (value: Answer | { error: string }) => resolve('error' in value ? value : { ...value, fingerprint });
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        ...(options.auth ? { auth: options.auth } : {}),
        ...(https
          ? {
              ca: fx.serverCaPem,
              ...(options.client ? { cert: options.client.pem, key: options.client.keyPem } : {}),
              ...(options.minVersion ? { minVersion: options.minVersion } : {}),
              ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
            }
          : {}),
      },
      (response) => {
        fingerprint = (response.socket as import('node:tls').TLSSocket).getPeerCertificate?.()?.fingerprint256;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => settle({ status: response.statusCode ?? 0, headers: response.headers, body }));
        response.on('error', (error) => settle({ error: error.message }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.message }));
    req.end();
  });
}

const statusOf = (answer: Answer | { error: string }): number | string => ('error' in answer ? `refused (${answer.error})` : answer.status);
const refused = (answer: Answer | { error: string }): boolean => 'error' in answer;

const TLS = () => `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n`;
const USERS = () => `basic_auth_users:\n  alice: ${fx.users.alice}\n  bob: ${fx.users.bob}\n`;
const ENDPOINTS: [string, string][] = [
  ['GET', '/metrics'],
  ['GET', '/probe?target=example.com:443'],
  ['GET', '/'],
  ['GET', '/-/healthy'],
  ['GET', '/-/ready'],
  ['POST', '/-/reload'],
  ['GET', '/no/such/page'],
];

describe('TLS and basic auth', () => {
  it('refuses every endpoint without credentials, with wrong ones and for unknown users; accepts the right ones', async () => {
    const base = await serve(TLS() + USERS());
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    for (const [method, path] of ENDPOINTS) {
      const none = await fetch(base + path, { method });
      expect(statusOf(none), `${method} ${path}`).toBe(401);
      expect((none as Answer).headers['www-authenticate']).toBe('Basic');
      expect(statusOf(await fetch(base + path, { method, auth: 'alice:wrong' })), `${method} ${path}`).toBe(401);
    }
    expect(statusOf(await fetch(`${base}/metrics`, { auth: 'mallory:alice-secret' }))).toBe(401);
    expect(statusOf(await fetch(`${base}/metrics`, { auth: 'alice:' }))).toBe(401);
    expect(statusOf(await fetch(`${base}/metrics`, { auth: 'Alice:alice-secret' }))).toBe(401);
    expect(statusOf(await fetch(`${base}/metrics`, { auth: 'alice:alice-secret' }))).toBe(200);
    expect(statusOf(await fetch(`${base}/-/healthy`, { auth: 'bob:bob secret:with colon' }))).toBe(200);
  });

  it('refuses plain HTTP on the TLS port', async () => {
    const base = await serve(TLS());
    const answer = await fetch(base.replace('https:', 'http:') + '/-/healthy');
    expect(refused(answer) || (answer as Answer).status >= 400).toBe(true);
  });

  it('min_version TLS13 refuses a TLS 1.2 client; the default TLS12 refuses TLS 1.1', async () => {
    const strict = await serve(`${TLS()}  min_version: TLS13\n`);
    expect(refused(await fetch(`${strict}/-/healthy`, { maxVersion: 'TLSv1.2' }))).toBe(true);
    expect(statusOf(await fetch(`${strict}/-/healthy`))).toBe(200);
    const normal = await serve(TLS());
    expect(refused(await fetch(`${normal}/-/healthy`, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }))).toBe(true);
    expect(statusOf(await fetch(`${normal}/-/healthy`, { maxVersion: 'TLSv1.2' }))).toBe(200);
  });

  it('basic auth works over plain HTTP too, and configured headers are on every answer, refusals included', async () => {
    const base = await serve(`${USERS()}http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n`);
    const refusedAnswer = (await fetch(`${base}/metrics`)) as Answer;
    expect(refusedAnswer.status).toBe(401);
    expect(refusedAnswer.headers['x-frame-options']).toBe('deny');
    const ok = (await fetch(`${base}/metrics`, { auth: 'alice:alice-secret' })) as Answer;
    expect(ok.status).toBe(200);
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('client certificates', () => {
  const mtls = (type: string, extra = '') => `${TLS()}  client_ca_file: client-ca.crt\n  client_auth_type: ${type}\n${extra}`;

  it('RequireAndVerifyClientCert: only a valid certificate from the client CA gets in', async () => {
    const base = await serve(mtls('RequireAndVerifyClientCert'));
    expect(refused(await fetch(`${base}/metrics`)), 'no certificate').toBe(true);
    expect(refused(await fetch(`${base}/metrics`, { client: fx.clientExpired })), 'expired').toBe(true);
    expect(refused(await fetch(`${base}/metrics`, { client: fx.clientForeign })), 'other CA').toBe(true);
    expect(refused(await fetch(`${base}/metrics`, { client: fx.clientSelfSigned })), 'self-signed').toBe(true);
    expect(statusOf(await fetch(`${base}/metrics`, { client: fx.clientGood }))).toBe(200);
    expect(statusOf(await fetch(`${base}/-/healthy`, { client: fx.clientGood, maxVersion: 'TLSv1.2' }))).toBe(200);
    expect(refused(await fetch(`${base}/-/healthy`, { client: fx.clientForeign, maxVersion: 'TLSv1.2' })), 'other CA over TLS 1.2').toBe(true);
  });

  it('RequireAndVerifyClientCert with basic auth needs both', async () => {
    const base = await serve(mtls('RequireAndVerifyClientCert') + USERS());
    expect(statusOf(await fetch(`${base}/metrics`, { client: fx.clientGood }))).toBe(401);
    expect(refused(await fetch(`${base}/metrics`, { auth: 'alice:alice-secret' }))).toBe(true);
    expect(statusOf(await fetch(`${base}/metrics`, { client: fx.clientGood, auth: 'alice:alice-secret' }))).toBe(200);
  });

  it('RequireAnyClientCert: some certificate is required, not verified', async () => {
    const base = await serve(mtls('RequireAnyClientCert'));
    const none = (await fetch(`${base}/metrics`)) as Answer;
    expect(none.status).toBe(403);
    expect(none.body).toBe('Forbidden: a client certificate is required\n');
    expect(statusOf(await fetch(`${base}/metrics`, { client: fx.clientForeign }))).toBe(200);
    expect(statusOf(await fetch(`${base}/metrics`, { client: fx.clientGood }))).toBe(200);
  });

  it('VerifyClientCertIfGiven: no certificate is fine, a bad one is refused', async () => {
    const base = await serve(mtls('VerifyClientCertIfGiven'));
    expect(statusOf(await fetch(`${base}/metrics`))).toBe(200);
    expect(statusOf(await fetch(`${base}/metrics`, { client: fx.clientGood }))).toBe(200);
    const expired = (await fetch(`${base}/metrics`, { client: fx.clientExpired })) as Answer;
    expect(expired.status).toBe(403);
    expect(expired.body).toBe('Forbidden: client certificate not accepted: CERT_HAS_EXPIRED\n');
    expect(statusOf(await fetch(`${base}/metrics`, { client: fx.clientForeign }))).toBe(403);
  });

  it('RequestClientCert: asks, but neither requires nor checks', async () => {
    const base = await serve(mtls('RequestClientCert'));
    expect(statusOf(await fetch(`${base}/metrics`))).toBe(200);
    expect(statusOf(await fetch(`${base}/metrics`, { client: fx.clientForeign }))).toBe(200);
  });

  it('client_allowed_sans: the verified certificate must carry one of the listed SANs', async () => {
    const allowed = await serve(mtls('RequireAndVerifyClientCert', '  client_allowed_sans: [other.example.test, prometheus.example.test]\n'));
    expect(statusOf(await fetch(`${allowed}/metrics`, { client: fx.clientGood }))).toBe(200);
    const other = await serve(mtls('RequireAndVerifyClientCert', '  client_allowed_sans: [grafana.example.test]\n'));
    const answer = (await fetch(`${other}/metrics`, { client: fx.clientGood })) as Answer;
    expect(answer.status).toBe(403);
    expect(answer.body).toBe('Forbidden: client certificate has none of the SANs in client_allowed_sans\n');
  });
});

describe('bcrypt cost and the cache of successful checks', () => {
  it('a scrape series costs one bcrypt comparison, not one per scrape (cost 10, as htpasswd -B makes)', async () => {
    const hash = bcrypt.hashSync('scrape-secret', 10);
    const cached = await serveWith(`basic_auth_users:\n  prometheus: ${hash}\n`);
    const uncached = await serveWith(`basic_auth_users:\n  prometheus: ${hash}\n`, { basicAuth: { cacheSize: 0 } });
    const scrapes = async (base: string, n: number) => {
      const cpu = process.cpuUsage();
      for (let i = 0; i < n; i++) expect(statusOf(await fetch(`${base}/-/healthy`, { auth: 'prometheus:scrape-secret' }))).toBe(200);
      const used = process.cpuUsage(cpu);
      return (used.user + used.system) / 1000 / n;
    };
    const withCacheMs = await scrapes(cached.base, 10);
    const withoutCacheMs = await scrapes(uncached.base, 10);
    console.info(`basic auth CPU per request: ${withCacheMs.toFixed(1)} ms with the cache, ${withoutCacheMs.toFixed(1)} ms without (bcrypt cost 10)`);
    expect(cached.access.basicAuthStats).toMatchObject({ bcryptComparisons: 1, cacheHits: 9 });
    expect(uncached.access.basicAuthStats).toMatchObject({ bcryptComparisons: 10, cacheHits: 0 });
    expect(withCacheMs * 3).toBeLessThan(withoutCacheMs);
  }, 30_000);

  it('a wrong password is never let in; each new guess costs a comparison, a repeated one is refused without', async () => {
    const checker = new BasicAuthChecker(new Map([['alice', fx.users.alice]]));
    for (let i = 0; i < 3; i++) expect(await checker.check(`Basic ${Buffer.from('alice:nope').toString('base64')}`)).toMatchObject({ ok: false, status: 401 });
    for (let i = 0; i < 3; i++) expect(await checker.check(`Basic ${Buffer.from(`alice:nope${i}`).toString('base64')}`)).toMatchObject({ ok: false, status: 401 });
    expect(checker.stats).toMatchObject({ bcryptComparisons: 4, failedPairHits: 2, cacheHits: 0 });
  });

  it('unknown users cost a comparison too (no user enumeration by timing)', async () => {
    const checker = new BasicAuthChecker(new Map([['alice', fx.users.alice]]));
    expect(await checker.check(`Basic ${Buffer.from('mallory:x').toString('base64')}`)).toMatchObject({ ok: false, status: 401 });
    expect(checker.stats.bcryptComparisons).toBe(1);
  });

  it('passwords longer than bcrypt reads (72 bytes) are refused, not matched on their prefix', async () => {
    const long = 'p'.repeat(72);
    const checker = new BasicAuthChecker(new Map([['alice', bcrypt.hashSync(long, 4)]]));
    expect(await checker.check(`Basic ${Buffer.from(`alice:${long}`).toString('base64')}`)).toMatchObject({ ok: true });
    expect(await checker.check(`Basic ${Buffer.from(`alice:${long}extra`).toString('base64')}`)).toMatchObject({ ok: false, status: 401 });
  });

  it('a password-guessing flood gets 429 beyond the queue while a verified scraper still gets in from the cache', async () => {
    const checker = new BasicAuthChecker(new Map([['alice', fx.users.alice]]), { maxQueued: 4 });
    const good = `Basic ${Buffer.from('alice:alice-secret').toString('base64')}`;
    expect(await checker.check(good)).toMatchObject({ ok: true, cached: false });
    const flood = Array.from({ length: 30 }, (_, i) => checker.check(`Basic ${Buffer.from(`alice:guess${i}`).toString('base64')}`));
    expect(await checker.check(good)).toMatchObject({ ok: true, cached: true });
    const outcomes = await Promise.all(flood);
    expect(outcomes.every((o) => !o.ok)).toBe(true);
    expect(outcomes.filter((o) => !o.ok && o.status === 429).length).toBeGreaterThan(20);
    expect(checker.stats.queueRejections).toBeGreaterThan(20);
  });

  it('malformed Authorization headers are 401, never a crash', async () => {
    const checker = new BasicAuthChecker(new Map([['alice', fx.users.alice]]));
    for (const header of ['Bearer abc', 'Basic', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Basic ' + 'A'.repeat(10_000)]) {
      expect(await checker.check(header), header.slice(0, 20)).toMatchObject({ ok: false, status: 401 });
    }
  });
});

describe('reloading the web config (SIGHUP in serve)', () => {
  it('swaps certificate and users for new connections; refuses changes that need a restart', async () => {
    fx.write('server-rsa.crt', fx.pki.leafRsa.pem + fx.pki.intermediate.pem);
    fx.write('server-rsa.key', fx.pki.leafRsa.keyPem);
    const first = loadWebConfigFile(fx.write('web.yml', `${TLS()}basic_auth_users:\n  alice: ${fx.users.alice}\n`));
    const access = new WebAccess(first);
    const app = buildApp({ store: new FakeStore(makeConfig([])), logLevel: 'silent', processMetrics: false, ...access.deps() });
    apps.push(app);
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const before = (await fetch(`${base}/metrics`, { auth: 'alice:alice-secret' })) as Answer;
    expect(before.status).toBe(200);

    const rotated = loadWebConfigFile(
      fx.write('web.yml', `tls_server_config:\n  cert_file: server-rsa.crt\n  key_file: server-rsa.key\nbasic_auth_users:\n  bob: ${fx.users.bob}\n`),
    );
    expect(access.reload(rotated, app.server.server)).toBeNull();
    const after = (await fetch(`${base}/metrics`, { auth: 'bob:bob secret:with colon' })) as Answer;
    expect(after.status).toBe(200);
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(statusOf(await fetch(`${base}/metrics`, { auth: 'alice:alice-secret' }))).toBe(401);

    const mtls = loadWebConfigFile(fx.write('web.yml', `${TLS()}  client_ca_file: client-ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n`));
    expect(access.reload(mtls, app.server.server)).toBe(
      'changing client_auth_type (NoClientCert → RequireAndVerifyClientCert) needs a restart; keeping the running web config',
    );
    expect(access.reload(loadWebConfigFile(fx.write('web.yml', '')), app.server.server)).toBe('disabling TLS needs a restart; keeping the running web config');
    expect(statusOf(await fetch(`${base}/metrics`, { auth: 'bob:bob secret:with colon' }))).toBe(200);
  });

  it('a web config without per-request checks can gain basic auth on reload', async () => {
    const access = new WebAccess(loadWebConfigFile(fx.write('web.yml', '')));
    const app = buildApp({ store: new FakeStore(makeConfig([])), logLevel: 'silent', processMetrics: false, ...access.deps() });
    apps.push(app);
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    expect(statusOf(await fetch(`${base}/metrics`))).toBe(200);
    expect(access.reload(loadWebConfigFile(fx.write('web.yml', USERS())), app.server.server)).toBeNull();
    expect(statusOf(await fetch(`${base}/metrics`))).toBe(401);
    expect(statusOf(await fetch(`${base}/metrics`, { auth: 'alice:alice-secret' }))).toBe(200);
  });
});
