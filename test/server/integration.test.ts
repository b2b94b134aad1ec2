/**
 * The whole serving path against real in-process TLS servers on 127.0.0.1: each server staples a
 * crafted response (or none) from its 'OCSPRequest' handler, the app probes them with the real
 * probe, and the test reads /metrics as Prometheus would. One listener accepts TCP and never
 * answers, to show that a dead target costs a failed probe, not a failed scrape.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { defaultModule, type Config, type ModuleConfig } from '../../src/config/schema.js';
import { chainPem, type Issued } from '../../src/pki/index.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { startSilentServer } from '../helpers/servers.js';
import { find, parseExposition, valueOf, type Exposition } from '../metrics/exposition.js';
import { promtoolCheckMetrics } from '../grafana/tools.js';
import { FakeStore, makeConfig, target } from './fakes.js';

const DAY_MS = 86_400_000;
/** Whole seconds: OCSP times are GeneralizedTime without fractions. */
const BASE_MS = Math.floor(Date.now() / 1000) * 1000;

interface LabServer {
  port: number;
  /** Handshakes that asked for a staple. */
  ocspRequests: number;
  close(): Promise<void>;
}

const closers: (() => Promise<void>)[] = [];

async function stapleServer(leaf: Issued, staple: Uint8Array | null): Promise<LabServer> {
  const server = tls.createServer({ key: leaf.keyPem, cert: chainPem(leaf) });
  const lab: LabServer = {
    port: 0,
    ocspRequests: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  server.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => {
    lab.ocspRequests++;
    callback(null, staple ? Buffer.from(staple) : undefined);
  });
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  lab.port = (server.address() as net.AddressInfo).port;
  closers.push(lab.close);
  return lab;
}

/** Accepts TCP connections and never says a word (closed with the others). */
async function blackhole(): Promise<number> {
  const server = await startSilentServer();
  closers.push(server.close);
  return server.port;
}

let pki: TestPki;
const ports: Record<string, number> = {};
const labs: Record<string, LabServer> = {};
let labModule: ModuleConfig;
let config: Config;
let app: App;
/** The app's clock, recording its last reading: /metrics judges ages at its last `now()`. */
let lastNowMs = 0;
const clock = (): number => (lastNowMs = Date.now());

const thisUpdateMs = BASE_MS - 3_600_000;
const nextUpdateMs = BASE_MS + 3 * DAY_MS;
const revokedAtMs = BASE_MS - 2 * DAY_MS;

beforeAll(async () => {
  pki = await makeTestPki();
  const now = new Date(BASE_MS);
  const leaf = pki.leafEcdsa;
  const cases: [string, Issued, Uint8Array | null][] = [
    ['good', leaf, await stapleFor(pki, leaf, { now })],
    ['revoked', leaf, await stapleFor(pki, leaf, { now, status: 'revoked', revocationTime: new Date(revokedAtMs), revocationReason: 'keyCompromise' })],
    ['expired', leaf, await stapleFor(pki, leaf, { now, thisUpdate: new Date(BASE_MS - 3 * DAY_MS), nextUpdate: new Date(BASE_MS - DAY_MS) })],
    ['wrong_cert', leaf, await stapleFor(pki, pki.strangerLeaf, { now })],
    ['no_staple', leaf, null],
    ['must_staple_missing', pki.leafMustStaple, null],
    ['no_next_update', leaf, await stapleFor(pki, leaf, { now, nextUpdate: null })],
    ['shared', leaf, await stapleFor(pki, leaf, { now })],
  ];
  for (const [name, cert, staple] of cases) {
    labs[name] = await stapleServer(cert, staple);
    ports[name] = labs[name]!.port;
  }
  ports.dead = await blackhole();

  labModule = { ...defaultModule('lab'), caPem: pki.root.pem, timeoutSeconds: 5 };
  const system: ModuleConfig = { ...defaultModule('system'), timeoutSeconds: 5 };
  const targets = Object.entries(ports)
    .filter(([name]) => name !== 'shared')
    .map(([name, port]) => target(`127.0.0.1:${port}`, { module: 'lab', labels: { case: name } }));
  // Same server, judged with the system trust store: the chain fails, the staple must not.
  targets.push(target(`127.0.0.1:${ports.good}`, { module: 'system', labels: { case: 'good_untrusted_chain' } }));
  config = makeConfig(targets, { concurrency: 4, minProbeIntervalSeconds: 60 }, []);
  config.modules.lab = labModule;
  config.modules.system = system;
  app = buildApp({ store: new FakeStore(config), now: clock, logLevel: 'silent', processMetrics: true });
});

afterAll(async () => {
  await app?.close();
  await Promise.all(closers.map((c) => c()));
});

function labels(name: string, module = 'lab'): Record<string, string> {
  const port = name === 'good_untrusted_chain' ? ports.good : ports[name];
  return { target: `127.0.0.1:${port}`, address: `127.0.0.1:${port}`, module, case: name };
}

describe('/metrics against real TLS servers', () => {
  let m: Exposition;
  let text: string;
  let elapsedMs: number;
  let scrapeNowMs: number;
  let scrapeStartedMs: number;

  beforeAll(async () => {
    const started = Date.now();
    scrapeStartedMs = started;
    const res = await app.server.inject({ url: '/metrics', headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '2' } });
    elapsedMs = Date.now() - started;
    scrapeNowMs = lastNowMs;
    expect(res.statusCode).toBe(200);
    text = res.body;
    m = parseExposition(text);
  });

  it('answers within the scrape timeout although one target never answers', () => {
    expect(elapsedMs).toBeLessThan(2_000);
    const dead = labels('dead');
    expect(valueOf(m, 'ocsp_probe_success', dead)).toBe(0);
    expect(valueOf(m, 'ocsp_probe_failure', { ...dead, reason: 'timeout' })).toBe(1);
    expect(valueOf(m, 'ocsp_probe_failure', { ...dead, reason: 'connect' })).toBe(0);
    // Given up at the scrape's deadline: 2 s header minus the 0.5 s offset, counted from the
    // scrape's start (the probe itself may have waited for a slot first).
    const gaveUpAtMs = valueOf(m, 'ocsp_probe_timestamp_seconds', dead) * 1000 + valueOf(m, 'ocsp_probe_duration_seconds', dead) * 1000;
    expect(gaveUpAtMs - scrapeStartedMs).toBeGreaterThanOrEqual(1_450);
    expect(gaveUpAtMs - scrapeStartedMs).toBeLessThan(1_900);
    for (const name of ['good', 'revoked', 'expired', 'wrong_cert', 'no_staple', 'must_staple_missing', 'no_next_update', 'good_untrusted_chain']) {
      expect(valueOf(m, 'ocsp_probe_success', labels(name, name === 'good_untrusted_chain' ? 'system' : 'lab')), name).toBe(1);
    }
  });

  it('reports a good staple with exact values', () => {
    const l = labels('good');
    const leaf = pki.leafEcdsa;
    expect(valueOf(m, 'ocsp_chain_verified', l)).toBe(1);
    expect(valueOf(m, 'ocsp_staple_present', l)).toBe(1);
    expect(valueOf(m, 'ocsp_staple_valid', l)).toBe(1);
    expect(find(m, 'ocsp_staple_problem', l)).toEqual([]);
    expect(valueOf(m, 'ocsp_staple_cert_status', { ...l, status: 'good' })).toBe(1);
    expect(valueOf(m, 'ocsp_staple_cert_status', { ...l, status: 'revoked' })).toBe(0);
    expect(valueOf(m, 'ocsp_staple_cert_status', { ...l, status: 'unknown' })).toBe(0);
    expect(valueOf(m, 'ocsp_cert_revoked', l)).toBe(0);
    expect(valueOf(m, 'ocsp_staple_this_update_timestamp_seconds', l)).toBe(thisUpdateMs / 1000);
    expect(valueOf(m, 'ocsp_staple_produced_at_timestamp_seconds', l)).toBe(thisUpdateMs / 1000);
    expect(valueOf(m, 'ocsp_staple_next_update_timestamp_seconds', l)).toBe(nextUpdateMs / 1000);
    expect(valueOf(m, 'ocsp_staple_validity_seconds', l)).toBe((nextUpdateMs - thisUpdateMs) / 1000);
    expect(valueOf(m, 'ocsp_staple_age_seconds', l)).toBe((scrapeNowMs - thisUpdateMs) / 1000);
    expect(valueOf(m, 'ocsp_staple_seconds_until_next_update', l)).toBe((nextUpdateMs - scrapeNowMs) / 1000);
    expect(valueOf(m, 'ocsp_staple_stale', l)).toBe(0);
    expect(valueOf(m, 'ocsp_cert_must_staple', l)).toBe(0);
    expect(valueOf(m, 'ocsp_cert_has_ocsp_url', l)).toBe(1);
    expect(valueOf(m, 'ocsp_cert_not_after_timestamp_seconds', l)).toBe(Math.floor(leaf.notAfter.getTime() / 1000));
    const info = find(m, 'ocsp_cert_info', l);
    expect(info).toHaveLength(1);
    expect(info[0]!.value).toBe(1);
    expect(info[0]!.labels).toMatchObject({
      subject: 'CN=localhost',
      issuer: 'CN=Test Intermediate CA',
      serial: new X509Certificate(leaf.der).serialNumber, // Node as the independent judge: upper-case hex, whole bytes
      fingerprint_sha256: createHash('sha256').update(leaf.der).digest('hex'),
      ocsp_url: pki.ocspUrl,
    });
    expect(valueOf(m, 'ocsp_staple_size_bytes', l)).toBeGreaterThan(100);
  });

  it('reports a revoked certificate', () => {
    const l = labels('revoked');
    expect(valueOf(m, 'ocsp_staple_valid', l)).toBe(1);
    expect(valueOf(m, 'ocsp_staple_cert_status', { ...l, status: 'revoked' })).toBe(1);
    expect(valueOf(m, 'ocsp_staple_cert_status', { ...l, status: 'good' })).toBe(0);
    expect(valueOf(m, 'ocsp_cert_revoked', l)).toBe(1);
    expect(valueOf(m, 'ocsp_cert_revocation_timestamp_seconds', l)).toBe(revokedAtMs / 1000);
  });

  it('reports an expired staple as invalid, with no revocation answer', () => {
    const l = labels('expired');
    expect(valueOf(m, 'ocsp_staple_present', l)).toBe(1);
    expect(valueOf(m, 'ocsp_staple_valid', l)).toBe(0);
    expect(find(m, 'ocsp_staple_problem', l).map((s) => [s.labels.problem, s.value])).toEqual([['expired', 1]]);
    expect(valueOf(m, 'ocsp_staple_seconds_until_next_update', l)).toBe((BASE_MS - DAY_MS - scrapeNowMs) / 1000);
    expect(valueOf(m, 'ocsp_staple_stale', l)).toBe(1);
    expect(find(m, 'ocsp_cert_revoked', l)).toEqual([]);
  });

  it('reports a staple for another certificate as wrong_certificate', () => {
    const l = labels('wrong_cert');
    expect(valueOf(m, 'ocsp_staple_valid', l)).toBe(0);
    expect(valueOf(m, 'ocsp_staple_problem', { ...l, problem: 'wrong_certificate' })).toBe(1);
    expect(find(m, 'ocsp_cert_revoked', l)).toEqual([]);
  });

  it('reports a missing staple, and Must-Staple without one', () => {
    for (const name of ['no_staple', 'must_staple_missing']) {
      const l = labels(name);
      expect(valueOf(m, 'ocsp_staple_present', l)).toBe(0);
      expect(find(m, 'ocsp_staple_valid', l)).toEqual([]);
      expect(find(m, 'ocsp_staple_cert_status', l)).toEqual([]);
      expect(find(m, 'ocsp_cert_revoked', l)).toEqual([]);
      expect(valueOf(m, 'ocsp_chain_verified', l)).toBe(1);
    }
    expect(valueOf(m, 'ocsp_cert_must_staple', labels('no_staple'))).toBe(0);
    expect(valueOf(m, 'ocsp_cert_must_staple', labels('must_staple_missing'))).toBe(1);
  });

  it('reports a staple without nextUpdate as valid, with no nextUpdate series', () => {
    const l = labels('no_next_update');
    expect(valueOf(m, 'ocsp_staple_valid', l)).toBe(1);
    expect(valueOf(m, 'ocsp_staple_problem', { ...l, problem: 'no_next_update' })).toBe(1);
    expect(valueOf(m, 'ocsp_cert_revoked', l)).toBe(0);
    for (const name of ['ocsp_staple_next_update_timestamp_seconds', 'ocsp_staple_seconds_until_next_update', 'ocsp_staple_validity_seconds', 'ocsp_staple_stale']) {
      expect(find(m, name, l), name).toEqual([]);
    }
  });

  it('keeps the staple verdict when the chain is not trusted', () => {
    const l = labels('good_untrusted_chain', 'system');
    expect(valueOf(m, 'ocsp_chain_verified', l)).toBe(0);
    expect(valueOf(m, 'ocsp_staple_valid', l)).toBe(1);
    expect(valueOf(m, 'ocsp_cert_revoked', l)).toBe(0);
  });

  it('includes exporter and process metrics', () => {
    expect(valueOf(m, 'ocsp_exporter_targets')).toBe(config.targets.length);
    expect(valueOf(m, 'ocsp_exporter_sweep_probes', { result: 'probed' })).toBe(config.targets.length);
    expect(valueOf(m, 'ocsp_exporter_sweep_duration_seconds')).toBeLessThan(2);
    expect(find(m, 'process_resident_memory_bytes')).toHaveLength(1);
  });

  it('reuses results within min_probe_interval, with the age judged at the new scrape', async () => {
    const before = labs.good!.ocspRequests;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const res = await app.server.inject('/metrics');
    const again = parseExposition(res.body);
    expect(labs.good!.ocspRequests).toBe(before);
    expect(valueOf(again, 'ocsp_exporter_sweep_probes', { result: 'reused' })).toBe(config.targets.length);
    expect(valueOf(again, 'ocsp_staple_age_seconds', labels('good'))).toBe((lastNowMs - thisUpdateMs) / 1000);
    expect(lastNowMs).toBeGreaterThan(scrapeNowMs);
  });

  it('passes promtool check metrics for every ocsp_ family', async () => {
    const lint = await promtoolCheckMetrics(text);
    if (lint === null) return; // promtool missing outside CI: skipped loudly
    const complaints = lint.output.split('\n').filter((line) => line.includes('ocsp_'));
    expect(complaints).toEqual([]);
    // And the lint really ran: a deliberately bad family is reported.
    const bad = (await promtoolCheckMetrics('# HELP ocsp_bad_total x\n# TYPE ocsp_bad_total gauge\nocsp_bad_total 1\n'))!.output;
    expect(bad).toContain('ocsp_bad_total');
  });
});

describe('/probe and shared sweeps against real TLS servers', () => {
  it('probes a configured target through /probe', async () => {
    const res = await app.server.inject(`/probe?target=127.0.0.1:${ports.revoked}&module=lab`);
    expect(res.statusCode).toBe(200);
    const m = parseExposition(res.body);
    const l = { target: `127.0.0.1:${ports.revoked}`, address: `127.0.0.1:${ports.revoked}`, module: 'lab' };
    expect(valueOf(m, 'ocsp_probe_success', l)).toBe(1);
    expect(valueOf(m, 'ocsp_cert_revoked', l)).toBe(1);
    expect(find(m, 'ocsp_exporter_targets')).toEqual([]);
  });

  it('sends server_name as SNI, and the chain is checked against that name', async () => {
    const good = `/probe?target=127.0.0.1:${ports.good}&module=lab`;
    const asLocalhost = parseExposition((await app.server.inject(`${good}&server_name=localhost`)).body);
    expect(valueOf(asLocalhost, 'ocsp_chain_verified')).toBe(1);
    expect(valueOf(asLocalhost, 'ocsp_staple_valid')).toBe(1);
    // The leaf names localhost and 127.0.0.1 only.
    const asOther = parseExposition((await app.server.inject(`${good}&server_name=www.example.org`)).body);
    expect(valueOf(asOther, 'ocsp_probe_success')).toBe(1);
    expect(valueOf(asOther, 'ocsp_chain_verified')).toBe(0);
    expect(valueOf(asOther, 'ocsp_staple_valid')).toBe(1);
  });

  it('refuses an unlisted port on /probe', async () => {
    const res = await app.server.inject(`/probe?target=127.0.0.1:${ports.shared}&module=lab`);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('global.probe_allowlist');
  });

  it('runs one sweep (one handshake per target) for concurrent scrapes', async () => {
    const shared = labs.shared!;
    const c = makeConfig([target(`127.0.0.1:${shared.port}`, { module: 'lab' })], { minProbeIntervalSeconds: 0 });
    c.modules.lab = labModule;
    const sharedApp = buildApp({ store: new FakeStore(c), logLevel: 'silent', processMetrics: false });
    try {
      const responses = await Promise.all(Array.from({ length: 8 }, () => sharedApp.server.inject('/metrics')));
      for (const r of responses) expect(valueOf(parseExposition(r.body), 'ocsp_staple_valid', { module: 'lab' })).toBe(1);
      expect(shared.ocspRequests).toBe(1);
      // min_probe_interval 0: the next scrape probes again.
      await sharedApp.server.inject('/metrics');
      expect(shared.ocspRequests).toBe(2);
    } finally {
      await sharedApp.close();
    }
  });
});
