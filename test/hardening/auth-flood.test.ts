/**
 * A password-guessing flood against basic auth (the app as `serve` wires it: buildApp with
 * WebAccess), from 100 client addresses at two concurrent requests each, every request a new wrong
 * password. Across a reload (which empties the credential caches) a scraper that was let in before
 * the flood, whose credentials are no longer cached, must still get in, every time and quickly, and
 * cached credentials must not wait for bcrypt at all. Client addresses are set per request through Fastify's inject (`remoteAddress`),
 * which is what `request.ip` reports for a real socket. bcrypt at cost 10, as `htpasswd -B` makes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { WebAccess } from '../../src/server/auth.js';
import { parseWebConfig } from '../../src/server/webconfig.js';
import { FakeStore, makeConfig } from '../server/fakes.js';

const SOURCES = 100;
const PER_SOURCE = 2;
const ATTEMPTS = 5;
/** Hard bound on the whole flood, whatever happens. */
const FLOOD_LIMIT_MS = 20_000;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let app: App;
let access: WebAccess;
let webConfigText: string;
beforeAll(() => {
  webConfigText = `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('scrape-secret', 10)}\n  grafana: ${bcrypt.hashSync('grafana-secret', 10)}\n`;
  access = new WebAccess(parseWebConfig(webConfigText, '/etc/ocsp-stapling-exporter/web.yml'));
  app = buildApp({ store: new FakeStore(makeConfig([])), logLevel: 'silent', processMetrics: false, ...access.deps() });
});
afterAll(() => app?.close());

async function get(authorization: string, remoteAddress: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await app.server.inject({ method: 'GET', url: '/-/healthy', headers: { authorization }, remoteAddress });
  return { status: response.statusCode, ms: performance.now() - started };
}

describe('basic auth under a password-guessing flood', () => {
  it('a scraper whose credentials are not cached gets in every time, across reloads, and cached ones do not wait', async () => {
    // Prometheus has been scraping before the flood starts.
    expect((await get(basic('prometheus', 'scrape-secret'), '192.0.2.10')).status).toBe(200);
    let stop = false;
    const floodStatuses = new Map<number, number>();
    const deadline = Date.now() + FLOOD_LIMIT_MS;
    let guess = 0;
    const flooder = async (source: number) => {
      const address = `10.1.${source >> 8}.${source & 0xff}`;
      while (!stop && Date.now() < deadline) {
        const user = guess % 4 === 0 ? `nobody${guess}` : 'prometheus';
        const { status } = await get(basic(user, `guess-${guess++}`), address);
        floodStatuses.set(status, (floodStatuses.get(status) ?? 0) + 1);
        await sleep(2);
      }
    };
    const flood = Array.from({ length: SOURCES * PER_SOURCE }, (_, i) => flooder(i % SOURCES));

    // Let every flooding source fail at least once, then reload: the credential caches start empty.
    await sleep(1500);
    const sameFile = parseWebConfig(webConfigText, '/etc/ocsp-stapling-exporter/web.yml');
    const uncached: number[] = [];
    const cached: number[] = [];
    const statuses: number[] = [];
    try {
      for (let i = 0; i < ATTEMPTS; i++) {
        expect(access.reload(sameFile, null)).toBeNull();
        // The scrape comes some time after the reload, with the flood at full strength again.
        await sleep(300);
        const first = await get(basic('prometheus', 'scrape-secret'), '192.0.2.10');
        statuses.push(first.status);
        uncached.push(first.ms);
        const again = await get(basic('prometheus', 'scrape-secret'), '192.0.2.10');
        statuses.push(again.status);
        cached.push(again.ms);
      }
    } finally {
      stop = true;
      await Promise.all(flood);
    }
    const stats = access.basicAuthStats;
    const figures = (ms: number[]) => `${ms.map((m) => m.toFixed(0)).join(', ')} ms (max ${Math.max(...ms).toFixed(0)})`;
    console.info(
      `flood from ${SOURCES} sources x ${PER_SOURCE}: flood answers ${JSON.stringify(Object.fromEntries(floodStatuses))}; ` +
        `valid user not cached: ${figures(uncached)}; cached: ${figures(cached)}; last checker ${JSON.stringify(stats)}`,
    );
    expect(statuses).toEqual(new Array(ATTEMPTS * 2).fill(200));
    // One comparison running (~80 ms at cost 10) plus its own, with room for a loaded machine.
    for (const ms of uncached) expect(ms).toBeLessThan(1500);
    for (const ms of cached) expect(ms).toBeLessThan(500);
    expect(floodStatuses.get(200)).toBeUndefined();
    // The flood was real: guesses were compared and refused, and some were turned away with 429.
    expect(floodStatuses.get(401)).toBeGreaterThan(20);
    expect(floodStatuses.get(429)).toBeGreaterThan(0);
  }, 40_000);
});
