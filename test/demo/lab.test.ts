/**
 * The built-in demo: what a new user sees on `/metrics` after the README's first command. Every
 * state the lab claims to show must come out of the real probe and the real OCSP core.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { ConfigStore } from '../../src/config/store.js';
import { DEMO_CASES, startDemoLab, type DemoLab } from '../../src/demo/lab.js';
import { parseExposition, valueOf, find, type Exposition } from '../metrics/exposition.js';

let lab: DemoLab;
let app: App;
let metrics: Exposition;

const of = (name: string, demoCase: string) => valueOf(metrics, name, { demo_case: demoCase });
const has = (name: string, demoCase: string) => find(metrics, name, { demo_case: demoCase }).length > 0;

beforeAll(async () => {
  lab = await startDemoLab();
  app = buildApp({ store: new ConfigStore(lab.config, () => lab.config), logLevel: 'silent', processMetrics: false });
  const response = await app.server.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  metrics = parseExposition(response.body);
});

afterAll(async () => {
  await app?.close();
  await lab?.close();
});

describe('demo lab', () => {
  it('serves one loopback endpoint per case, all probed successfully', () => {
    expect(lab.endpoints.map((e) => e.name)).toEqual(DEMO_CASES.map((c) => c.name));
    for (const e of lab.endpoints) {
      expect(e.host).toBe('127.0.0.1');
      expect(of('ocsp_probe_success', e.name)).toBe(1);
      expect(of('ocsp_chain_verified', e.name)).toBe(1);
    }
  });

  it('a fresh good staple: present, valid, good, not revoked, young', () => {
    expect(of('ocsp_staple_present', 'good')).toBe(1);
    expect(of('ocsp_staple_valid', 'good')).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_cert_status', { demo_case: 'good', status: 'good' })).toBe(1);
    expect(of('ocsp_cert_revoked', 'good')).toBe(0);
    expect(of('ocsp_staple_age_seconds', 'good')).toBeGreaterThanOrEqual(3600);
    expect(of('ocsp_staple_age_seconds', 'good')).toBeLessThan(3700);
    expect(of('ocsp_staple_validity_seconds', 'good')).toBe(7 * 86400);
    expect(find(metrics, 'ocsp_staple_problem', { demo_case: 'good' })).toEqual([]);
  });

  it('no staple: absent, no revocation answer (no staple is not "good")', () => {
    expect(of('ocsp_staple_present', 'no_staple')).toBe(0);
    expect(of('ocsp_cert_has_ocsp_url', 'no_staple')).toBe(1);
    expect(has('ocsp_cert_revoked', 'no_staple')).toBe(false);
    expect(has('ocsp_staple_cert_status', 'no_staple')).toBe(false);
  });

  it('expired: invalid with exactly the expired problem, negative time to nextUpdate', () => {
    expect(of('ocsp_staple_valid', 'expired')).toBe(0);
    expect(find(metrics, 'ocsp_staple_problem', { demo_case: 'expired' }).map((s) => s.labels['problem'])).toEqual(['expired']);
    expect(of('ocsp_staple_seconds_until_next_update', 'expired')).toBeLessThan(-86_000);
    expect(has('ocsp_cert_revoked', 'expired')).toBe(false);
  });

  it('revoked: a valid staple saying revoked', () => {
    expect(of('ocsp_staple_valid', 'revoked')).toBe(1);
    expect(of('ocsp_cert_revoked', 'revoked')).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_cert_status', { demo_case: 'revoked', status: 'revoked' })).toBe(1);
    const revokedAt = of('ocsp_cert_revocation_timestamp_seconds', 'revoked');
    expect(Date.now() / 1000 - revokedAt).toBeGreaterThan(2 * 86400 - 60);
  });

  it('wrong certificate and bad signature: invalid with their problem', () => {
    expect(of('ocsp_staple_valid', 'wrong_certificate')).toBe(0);
    expect(find(metrics, 'ocsp_staple_problem', { demo_case: 'wrong_certificate' }).map((s) => s.labels['problem'])).toEqual(['wrong_certificate']);
    expect(of('ocsp_staple_valid', 'bad_signature')).toBe(0);
    expect(find(metrics, 'ocsp_staple_problem', { demo_case: 'bad_signature' }).map((s) => s.labels['problem'])).toEqual(['bad_signature']);
  });

  it('Must-Staple without a staple', () => {
    expect(of('ocsp_cert_must_staple', 'must_staple_missing')).toBe(1);
    expect(of('ocsp_staple_present', 'must_staple_missing')).toBe(0);
    expect(of('ocsp_cert_must_staple', 'good')).toBe(0);
  });

  it('stale: still valid, but older than half its validity window', () => {
    expect(of('ocsp_staple_valid', 'stale')).toBe(1);
    expect(of('ocsp_staple_age_seconds', 'stale')).toBeGreaterThan(of('ocsp_staple_validity_seconds', 'stale') / 2);
    expect(of('ocsp_staple_seconds_until_next_update', 'stale')).toBeGreaterThan(0);
  });

  it('a certificate without an OCSP URL', () => {
    expect(of('ocsp_cert_has_ocsp_url', 'no_ocsp_url')).toBe(0);
    expect(of('ocsp_staple_present', 'no_ocsp_url')).toBe(0);
  });

  it('/probe works against the lab (allowlisted loopback)', async () => {
    const good = lab.endpoints.find((e) => e.name === 'good')!;
    const response = await app.server.inject({ method: 'GET', url: `/probe?target=${good.host}:${good.port}&module=demo` });
    expect(response.statusCode).toBe(200);
    const probed = parseExposition(response.body);
    expect(valueOf(probed, 'ocsp_staple_valid', { target: `${good.host}:${good.port}` })).toBe(1);
  });
});
