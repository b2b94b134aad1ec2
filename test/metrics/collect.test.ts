import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { addExporterMetrics, addProbeMetrics, isUsableExtraLabel } from '../../src/metrics/collect.js';
import { EXPORTER_METRICS, PROBE_METRICS } from '../../src/metrics/names.js';
import { renderProbeMetrics } from '../../src/metrics/render.js';
import { FAILURE_REASONS, type ProbeResult } from '../../src/probe/types.js';
import type { ResponderResult } from '../../src/responder/types.js';
import { find, familyNames, parseExposition, valueOf, type Exposition } from './exposition.js';
import { delegatedSigner, failedResult, HOUR_MS, leafFacts, NOW_MS, okResult, single, verdict } from './fixtures.js';

/** What /metrics and /probe serve: the direct writer (render.test.ts holds it to the prom-client path). */
async function render(results: ProbeResult[], nowMs = NOW_MS): Promise<Exposition> {
  return parseExposition(renderProbeMetrics(results, nowMs));
}

const A = { target: 'www.example.test:443', address: '192.0.2.10:443', module: 'default' };
const STAPLE_FAMILIES = Object.values(PROBE_METRICS)
  .map((f) => f.name)
  .filter((n) => n.startsWith('ocsp_staple_') && n !== 'ocsp_staple_present');

describe('addProbeMetrics', () => {
  it('maps a valid "good" staple to exact values', async () => {
    const e = await render([okResult()]);
    expect(valueOf(e, 'ocsp_probe_success', A)).toBe(1);
    expect(valueOf(e, 'ocsp_probe_duration_seconds', A)).toBe(0.125);
    expect(valueOf(e, 'ocsp_probe_timestamp_seconds', A)).toBe((NOW_MS - 5000) / 1000);
    for (const reason of FAILURE_REASONS) expect(valueOf(e, 'ocsp_probe_failure', { ...A, reason })).toBe(0);
    expect(valueOf(e, 'ocsp_tls_info', { ...A, version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' })).toBe(1);
    expect(valueOf(e, 'ocsp_chain_verified', A)).toBe(1);
    expect(valueOf(e, 'ocsp_staple_present', A)).toBe(1);
    expect(valueOf(e, 'ocsp_staple_size_bytes', A)).toBe(471);
    expect(valueOf(e, 'ocsp_staple_valid', A)).toBe(1);
    expect(find(e, 'ocsp_staple_problem')).toEqual([]);
    expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'good' })).toBe(1);
    expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'revoked' })).toBe(0);
    expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'unknown' })).toBe(0);
    expect(valueOf(e, 'ocsp_staple_this_update_timestamp_seconds', A)).toBe((NOW_MS - 2 * HOUR_MS) / 1000);
    expect(valueOf(e, 'ocsp_staple_next_update_timestamp_seconds', A)).toBe((NOW_MS + 22 * HOUR_MS) / 1000);
    expect(valueOf(e, 'ocsp_staple_produced_at_timestamp_seconds', A)).toBe((NOW_MS - 2 * HOUR_MS + 1000) / 1000);
    expect(valueOf(e, 'ocsp_staple_seconds_until_next_update', A)).toBe(22 * 3600);
    expect(valueOf(e, 'ocsp_staple_age_seconds', A)).toBe(2 * 3600);
    expect(valueOf(e, 'ocsp_staple_validity_seconds', A)).toBe(24 * 3600);
    expect(valueOf(e, 'ocsp_staple_stale', A)).toBe(0);
    expect(valueOf(e, 'ocsp_cert_revoked', A)).toBe(0);
    expect(find(e, 'ocsp_cert_revocation_timestamp_seconds')).toEqual([]);
    expect(valueOf(e, 'ocsp_cert_must_staple', A)).toBe(0);
    expect(valueOf(e, 'ocsp_cert_has_ocsp_url', A)).toBe(1);
    expect(valueOf(e, 'ocsp_cert_not_after_timestamp_seconds', A)).toBe(Date.UTC(2027, 0, 1) / 1000);
    expect(
      valueOf(e, 'ocsp_cert_info', {
        ...A,
        subject: 'CN=www.example.test',
        issuer: 'CN=Test Issuing CA,O=Example',
        serial: '0A1B2C',
        fingerprint_sha256: 'ab'.repeat(32),
        ocsp_url: 'http://ocsp.example.test/',
      }),
    ).toBe(1);
    // Every sample carries exactly the address labels plus the family's own.
    for (const s of e.samples) {
      expect(s.labels).toMatchObject(A);
    }
    expect(e.types.get('ocsp_probe_success')).toBe('gauge');
  });

  it('uses the scrape clock: a reused result shows a growing age and a shrinking time to nextUpdate', async () => {
    const later = NOW_MS + 30 * 60_000;
    const e = await render([okResult()], later);
    expect(valueOf(e, 'ocsp_staple_age_seconds', A)).toBe(2.5 * 3600);
    expect(valueOf(e, 'ocsp_staple_seconds_until_next_update', A)).toBe(21.5 * 3600);
    expect(valueOf(e, 'ocsp_probe_timestamp_seconds', A)).toBe((NOW_MS - 5000) / 1000);
  });

  it('reports a missing staple as ocsp_staple_present 0 with no staple series and no revocation answer', async () => {
    const e = await render([okResult({}, null)]);
    expect(valueOf(e, 'ocsp_probe_success', A)).toBe(1);
    expect(valueOf(e, 'ocsp_staple_present', A)).toBe(0);
    for (const name of STAPLE_FAMILIES) expect(find(e, name), name).toEqual([]);
    // "no staple" is not "good"
    expect(find(e, 'ocsp_cert_revoked')).toEqual([]);
    expect(valueOf(e, 'ocsp_cert_has_ocsp_url', A)).toBe(1);
    expect(valueOf(e, 'ocsp_chain_verified', A)).toBe(1);
  });

  it('reports must-staple without a staple and a certificate without OCSP URL', async () => {
    const e = await render([okResult({ leaf: leafFacts({ mustStaple: true, ocspUrls: [] }) }, null)]);
    expect(valueOf(e, 'ocsp_cert_must_staple', A)).toBe(1);
    expect(valueOf(e, 'ocsp_cert_has_ocsp_url', A)).toBe(0);
    expect(valueOf(e, 'ocsp_staple_present', A)).toBe(0);
    expect(find(e, 'ocsp_cert_info')[0]?.labels.ocsp_url).toBe('');
  });

  it('reports an invalid staple with each named problem and no revocation answer', async () => {
    const expired = single({
      thisUpdate: new Date(NOW_MS - 48 * HOUR_MS),
      nextUpdate: new Date(NOW_MS - 24 * HOUR_MS),
    });
    const e = await render([okResult({}, verdict({ valid: false, problems: ['bad_signature', 'expired'], single: expired }))]);
    expect(valueOf(e, 'ocsp_staple_present', A)).toBe(1);
    expect(valueOf(e, 'ocsp_staple_valid', A)).toBe(0);
    expect(find(e, 'ocsp_staple_problem').map((s) => [s.labels.problem, s.value])).toEqual([
      ['bad_signature', 1],
      ['expired', 1],
    ]);
    // The status the staple states is still shown, but no trustworthy revocation answer exists.
    expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'good' })).toBe(1);
    expect(find(e, 'ocsp_cert_revoked')).toEqual([]);
    expect(valueOf(e, 'ocsp_staple_seconds_until_next_update', A)).toBe(-24 * 3600);
    expect(valueOf(e, 'ocsp_staple_age_seconds', A)).toBe(48 * 3600);
    expect(valueOf(e, 'ocsp_staple_stale', A)).toBe(1);
  });

  it('reports an unparseable staple as present, invalid, with its problem and no dates', async () => {
    const e = await render([okResult({}, verdict({ valid: false, problems: ['unparseable'], single: null, parsed: false }))]);
    expect(valueOf(e, 'ocsp_staple_present', A)).toBe(1);
    expect(valueOf(e, 'ocsp_staple_valid', A)).toBe(0);
    expect(valueOf(e, 'ocsp_staple_problem', { ...A, problem: 'unparseable' })).toBe(1);
    expect(find(e, 'ocsp_staple_cert_status')).toEqual([]);
    expect(find(e, 'ocsp_staple_this_update_timestamp_seconds')).toEqual([]);
    expect(find(e, 'ocsp_staple_produced_at_timestamp_seconds')).toEqual([]);
    expect(find(e, 'ocsp_cert_revoked')).toEqual([]);
  });

  it('reports a valid "revoked" staple with the revocation time', async () => {
    const revokedAt = new Date(NOW_MS - 10 * HOUR_MS);
    const e = await render([
      okResult({}, verdict({ single: single({ certStatus: 'revoked', revocationTime: revokedAt, revocationReason: 'keyCompromise' }) })),
    ]);
    expect(valueOf(e, 'ocsp_staple_valid', A)).toBe(1);
    expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'good' })).toBe(0);
    expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'revoked' })).toBe(1);
    expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'unknown' })).toBe(0);
    expect(valueOf(e, 'ocsp_cert_revoked', A)).toBe(1);
    expect(valueOf(e, 'ocsp_cert_revocation_timestamp_seconds', A)).toBe(revokedAt.getTime() / 1000);
  });

  it('reports a valid "unknown" staple as not revoked', async () => {
    const e = await render([okResult({}, verdict({ single: single({ certStatus: 'unknown' }) }))]);
    expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'unknown' })).toBe(1);
    expect(valueOf(e, 'ocsp_cert_revoked', A)).toBe(0);
  });

  it('leaves nextUpdate-derived series absent when the staple has no nextUpdate (no sentinel date)', async () => {
    const e = await render([okResult({}, verdict({ problems: ['no_next_update'], single: single({ nextUpdate: null }) }))]);
    expect(valueOf(e, 'ocsp_staple_valid', A)).toBe(1);
    expect(valueOf(e, 'ocsp_staple_problem', { ...A, problem: 'no_next_update' })).toBe(1);
    expect(valueOf(e, 'ocsp_staple_age_seconds', A)).toBe(2 * 3600);
    for (const name of [
      'ocsp_staple_next_update_timestamp_seconds',
      'ocsp_staple_seconds_until_next_update',
      'ocsp_staple_validity_seconds',
      'ocsp_staple_stale',
    ]) {
      expect(find(e, name), name).toEqual([]);
    }
    expect(valueOf(e, 'ocsp_cert_revoked', A)).toBe(0);
  });

  describe('with the responder asked directly', () => {
    const responder = (v: ReturnType<typeof verdict> | null, up = v?.valid ?? false): ResponderResult => ({
      url: 'http://ocsp.example.test/',
      urlSource: 'aia',
      method: 'GET',
      up,
      source: 'network',
      durationSeconds: 0.05,
      fetchedAtMs: NOW_MS - 1000,
      httpStatus: v ? 200 : null,
      problems: up ? [] : ['timeout'],
      error: up ? null : 'timed out',
      verdict: v,
    });
    const revokedAt = new Date(NOW_MS - 5 * HOUR_MS);
    const revokedSingle = single({ certStatus: 'revoked', revocationTime: revokedAt });

    it('answers ocsp_cert_revoked from a verified responder answer when there is no staple', async () => {
      const e = await render([okResult({ responder: responder(verdict()) }, null)]);
      expect(valueOf(e, 'ocsp_staple_present', A)).toBe(0);
      expect(valueOf(e, 'ocsp_cert_revoked', A)).toBe(0);
    });

    it('reports revoked when the responder says so, whatever the staple claims', async () => {
      const e = await render([okResult({ responder: responder(verdict({ single: revokedSingle })) })]);
      expect(valueOf(e, 'ocsp_staple_cert_status', { ...A, status: 'good' })).toBe(1);
      expect(valueOf(e, 'ocsp_cert_revoked', A)).toBe(1);
      expect(valueOf(e, 'ocsp_cert_revocation_timestamp_seconds', A)).toBe(revokedAt.getTime() / 1000);
    });

    it('ignores a responder that is down or answered invalidly', async () => {
      const down = await render([okResult({ responder: responder(null) }, null)]);
      expect(find(down, 'ocsp_cert_revoked')).toEqual([]);
      const bad = await render([
        okResult({ responder: responder(verdict({ valid: false, problems: ['bad_signature'], single: revokedSingle }), false) }, null),
      ]);
      expect(find(bad, 'ocsp_cert_revoked')).toEqual([]);
    });
  });

  it('keeps the staple when the chain did not verify', async () => {
    const e = await render([okResult({ chain: { verified: false, error: 'UNABLE_TO_GET_ISSUER_CERT', length: 1 } })]);
    expect(valueOf(e, 'ocsp_chain_verified', A)).toBe(0);
    expect(valueOf(e, 'ocsp_staple_valid', A)).toBe(1);
    expect(valueOf(e, 'ocsp_cert_revoked', A)).toBe(0);
  });

  it('marks the staple stale past half its validity window', async () => {
    const e = await render([
      okResult({}, verdict({ single: single({ thisUpdate: new Date(NOW_MS - 13 * HOUR_MS), nextUpdate: new Date(NOW_MS + 11 * HOUR_MS) }) })),
    ]);
    expect(valueOf(e, 'ocsp_staple_stale', A)).toBe(1);
  });

  it.each(FAILURE_REASONS)('reports a probe that failed with reason %s', async (reason) => {
    const F = { target: 'down.example.test:443', address: '192.0.2.20:443', module: 'default' };
    const e = await render([failedResult(reason)]);
    expect(valueOf(e, 'ocsp_probe_success', F)).toBe(0);
    expect(valueOf(e, 'ocsp_probe_duration_seconds', F)).toBe(2.5);
    for (const r of FAILURE_REASONS) expect(valueOf(e, 'ocsp_probe_failure', { ...F, reason: r })).toBe(r === reason ? 1 : 0);
    expect([...familyNames(e)].sort()).toEqual(['ocsp_probe_duration_seconds', 'ocsp_probe_failure', 'ocsp_probe_success', 'ocsp_probe_timestamp_seconds']);
  });

  it('gives each probed address its own series and adds configured extra labels', async () => {
    const labels = { env: 'prod', team: 'edge' };
    const e = await render([
      okResult({ address: '192.0.2.10:443', labels }),
      okResult({ address: '[2001:db8::10]:443', labels }, null),
      failedResult('connect', { target: 'other.test:443', address: 'other.test:443', labels: { site: 'b' } }),
    ]);
    expect(find(e, 'ocsp_probe_success').map((s) => s.labels)).toEqual([
      { ...A, env: 'prod', team: 'edge' },
      { ...A, address: '[2001:db8::10]:443', env: 'prod', team: 'edge' },
      { target: 'other.test:443', address: 'other.test:443', module: 'default', site: 'b' },
    ]);
    expect(valueOf(e, 'ocsp_staple_present', { address: '192.0.2.10:443' })).toBe(1);
    expect(valueOf(e, 'ocsp_staple_present', { address: '[2001:db8::10]:443' })).toBe(0);
  });

  it('drops extra labels that would clash with its own or are not valid label names', async () => {
    expect(isUsableExtraLabel('env')).toBe(true);
    for (const bad of ['target', 'address', 'module', 'reason', 'problem', 'status', 'serial', '__meta', '1x', 'a-b', '']) {
      expect(isUsableExtraLabel(bad), bad).toBe(false);
    }
    const e = await render([okResult({ labels: { target: 'spoofed', reason: 'x', 'a-b': 'y', env: 'prod' } })]);
    expect(find(e, 'ocsp_probe_success')[0]?.labels).toEqual({ ...A, env: 'prod' });
    expect(find(e, 'ocsp_probe_failure')).toHaveLength(FAILURE_REASONS.length);
  });

  it('escapes label values with quotes, backslashes and newlines', async () => {
    const subject = 'CN=evil "quoted" \\ back\nslash';
    const e = await render([okResult({ leaf: leafFacts({ subject }) })]);
    expect(find(e, 'ocsp_cert_info')[0]?.labels.subject).toBe(subject);
  });

  it('emits nothing for no results', async () => {
    expect(renderProbeMetrics([], NOW_MS)).toBe('');
    const registry = new Registry();
    addProbeMetrics(registry, [], NOW_MS);
    expect(await registry.metrics()).toBe('\n');
  });

  it('accepts dates that went through JSON (ISO strings)', async () => {
    const r = JSON.parse(JSON.stringify(okResult())) as ProbeResult;
    const e = await render([r]);
    expect(valueOf(e, 'ocsp_staple_age_seconds', A)).toBe(2 * 3600);
    expect(valueOf(e, 'ocsp_cert_not_after_timestamp_seconds', A)).toBe(Date.UTC(2027, 0, 1) / 1000);
  });

  it('uses the help texts from names.ts', async () => {
    const revoked = single({ certStatus: 'revoked', revocationTime: new Date(NOW_MS - HOUR_MS) });
    // The responder families (src/responder/) need a result that asked the responder and the chain's.
    const asked: ResponderResult = {
      url: 'http://ocsp.example.test/',
      urlSource: 'aia',
      method: 'GET',
      up: false,
      source: 'cache',
      durationSeconds: 0.05,
      fetchedAtMs: NOW_MS - 1000,
      httpStatus: 200,
      problems: ['bad_signature'],
      error: 'bad signature',
      verdict: verdict({ single: revoked }),
    };
    const e = await render([
      okResult(),
      okResult({ address: '192.0.2.11:443' }, verdict({ single: revoked, problems: ['no_next_update'] })),
      okResult({ address: '192.0.2.13:443' }, verdict({ signer: delegatedSigner(6), problems: ['signer_expires_before_next_update'] })),
      okResult({ address: '192.0.2.14:443', issuerFetch: { url: 'http://ca.example.test/i.der', source: 'network', problem: null, error: null, used: true } }),
      okResult({
        address: '192.0.2.12:443',
        responder: { ...asked, up: true, problems: ['no_next_update'] },
        chainResponders: [
          { depth: 1, subject: 'CN=Intermediate', issuerSource: 'chain', responder: { ...asked, up: true, problems: [] } },
          { depth: 2, subject: 'CN=Other', issuerSource: 'chain', responder: asked },
        ],
      }),
    ]);
    for (const family of Object.values(PROBE_METRICS)) {
      expect(e.helps.get(family.name), family.name).toBe(family.help);
    }
  });
});

describe('addExporterMetrics', () => {
  it('maps the exporter state', async () => {
    const registry = new Registry();
    addExporterMetrics(registry, {
      version: '1.2.3',
      nodejsVersion: 'v20.20.2',
      configLastReloadSuccessful: false,
      configLastReloadSuccessTimestampSeconds: 1_700_000_000,
      targets: 7,
      lastSweep: { durationSeconds: 0.75, probed: 3, reused: 4 },
    });
    const e = parseExposition(await registry.metrics());
    expect(valueOf(e, 'ocsp_exporter_build_info', { version: '1.2.3', nodejs_version: 'v20.20.2' })).toBe(1);
    expect(valueOf(e, 'ocsp_exporter_config_last_reload_successful')).toBe(0);
    expect(valueOf(e, 'ocsp_exporter_config_last_reload_success_timestamp_seconds')).toBe(1_700_000_000);
    expect(valueOf(e, 'ocsp_exporter_targets')).toBe(7);
    expect(valueOf(e, 'ocsp_exporter_sweep_duration_seconds')).toBe(0.75);
    expect(valueOf(e, 'ocsp_exporter_sweep_probes', { result: 'probed' })).toBe(3);
    expect(valueOf(e, 'ocsp_exporter_sweep_probes', { result: 'reused' })).toBe(4);
    for (const family of Object.values(EXPORTER_METRICS)) expect(e.helps.get(family.name)).toBe(family.help);
  });

  /** An exporter that never loaded a config successfully and never swept. */
  const neverSwept = {
    version: '1.2.3',
    nodejsVersion: 'v20.20.2',
    configLastReloadSuccessful: true,
    configLastReloadSuccessTimestampSeconds: null,
    targets: 0,
    lastSweep: null,
  };

  it('leaves the sweep and success-time series out when there was none', async () => {
    const registry = new Registry();
    addExporterMetrics(registry, neverSwept);
    const e = parseExposition(await registry.metrics());
    expect([...familyNames(e)].sort()).toEqual([
      'ocsp_exporter_build_info',
      'ocsp_exporter_config_last_reload_successful',
      // A counter is there from the start, at 0, so rate() and increase() have a first sample.
      'ocsp_exporter_handshake_fallbacks_total',
      'ocsp_exporter_targets',
    ]);
  });

  it("counts the native engine's fallbacks as a counter", async () => {
    const registry = new Registry();
    addExporterMetrics(registry, { ...neverSwept, handshakeFallbacks: { refused: 3, failed: 1 } });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE ocsp_exporter_handshake_fallbacks_total counter\nocsp_exporter_handshake_fallbacks_total{reason="refused"} 3\nocsp_exporter_handshake_fallbacks_total{reason="failed"} 1\n');
  });
});

describe('the staple end: the earlier of nextUpdate and the delegated signer notAfter', () => {
  it('ends a staple at its signer notAfter when that comes first, and judges staleness on that window', async () => {
    // thisUpdate 2 h ago, nextUpdate in 22 h; the signer ends in 1 h: the usable window is 3 h, 2 h are past.
    const e = await render([okResult({}, verdict({ signer: delegatedSigner(1), problems: ['signer_expires_before_next_update'] }))]);
    const at = (name: string) => e.samples.find((s) => s.name === name)?.value;
    expect(at('ocsp_staple_signer_not_after_timestamp_seconds')).toBe(NOW_MS / 1000 + 3600);
    expect(at('ocsp_staple_end_timestamp_seconds')).toBe(NOW_MS / 1000 + 3600);
    expect(at('ocsp_staple_next_update_timestamp_seconds')).toBe(NOW_MS / 1000 + 22 * 3600);
    expect(at('ocsp_staple_valid')).toBe(1);
    expect(at('ocsp_staple_stale')).toBe(1);
  });

  it('ends at nextUpdate for an issuer-signed staple, with no signer series', async () => {
    const e = await render([okResult()]);
    const at = (name: string) => e.samples.find((s) => s.name === name)?.value;
    expect(at('ocsp_staple_signer_not_after_timestamp_seconds')).toBeUndefined();
    expect(at('ocsp_staple_end_timestamp_seconds')).toBe(NOW_MS / 1000 + 22 * 3600);
    expect(at('ocsp_staple_stale')).toBe(0);
  });
});
