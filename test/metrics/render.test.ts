import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { addProbeMetrics } from '../../src/metrics/collect.js';
import { escapeHelp, escapeLabelValue, familyHeader, formatValue } from '../../src/metrics/exposition.js';
import { PROBE_METRICS } from '../../src/metrics/names.js';
import { probeMetricsChunks, renderProbeMetrics } from '../../src/metrics/render.js';
import { FAILURE_REASONS, type ProbeResult } from '../../src/probe/types.js';
import type { ResponderResult } from '../../src/responder/types.js';
import { promtoolCheckMetrics } from '../grafana/tools.js';
import { find, parseExposition, valueOf, type Exposition, type Sample } from './exposition.js';
import { delegatedSigner, failedResult, HOUR_MS, leafFacts, NOW_MS, okResult, single, verdict } from './fixtures.js';

const asked = (overrides: Partial<ResponderResult> = {}): ResponderResult => ({
  url: 'http://ocsp.example.test/',
  urlSource: 'aia',
  method: 'GET',
  up: true,
  source: 'network',
  durationSeconds: 0.05,
  fetchedAtMs: NOW_MS - 1000,
  httpStatus: 200,
  problems: [],
  error: null,
  verdict: verdict({ single: single({ certStatus: 'revoked', revocationTime: new Date(NOW_MS - HOUR_MS) }) }),
  ...overrides,
});

/** One result in every state series.ts tells apart, each its own address; new objects per call. */
function everyState(): ProbeResult[] {
  let n = 0;
  const at = (): Partial<ProbeResult> => ({ address: `192.0.2.${++n}:443` });
  return [
    okResult(at()),
    okResult({ ...at(), labels: { env: 'prod', team: 'edge', target: 'spoofed', 'a-b': 'x' } }),
    okResult(at(), null),
    okResult({ ...at(), leaf: leafFacts({ mustStaple: true, ocspUrls: [], subject: 'CN=evil "quoted" \\ back\nslash' }) }, null),
    okResult(at(), verdict({ valid: false, problems: ['bad_signature', 'expired', 'bad_signature'] })),
    okResult(at(), verdict({ valid: false, problems: ['unparseable'], single: null, parsed: false })),
    okResult(at(), verdict({ single: single({ certStatus: 'revoked', revocationTime: new Date(NOW_MS - 10 * HOUR_MS) }) })),
    okResult(at(), verdict({ problems: ['no_next_update'], single: single({ nextUpdate: null }) })),
    okResult(at(), verdict({ single: single({ thisUpdate: new Date(NOW_MS - 13 * HOUR_MS), nextUpdate: new Date(NOW_MS + 11 * HOUR_MS) }) })),
    okResult(at(), verdict({ problems: ['signer_expires_before_next_update'], signer: delegatedSigner(6) })),
    okResult({ ...at(), issuerFetch: { url: 'http://ca.example.test/i.der', source: 'network', problem: null, error: null, used: true } }),
    okResult({ ...at(), issuerFetch: { url: 'http://ca.example.test/i.der', source: 'cache', problem: 'timeout', error: 'slow', used: false } }, null),
    okResult({ ...at(), chain: { verified: false, error: 'UNABLE_TO_GET_ISSUER_CERT', length: 1 } }),
    okResult({ ...at(), responder: asked() }, null),
    okResult({ ...at(), responder: asked({ up: false, problems: ['timeout'], source: null, durationSeconds: null, verdict: null }) }),
    okResult({ ...at(), responder: asked({ url: null, urlSource: null, up: false, problems: ['no_url'], source: null, verdict: null }) }),
    okResult({
      ...at(),
      responder: asked({ source: 'cache', problems: ['no_next_update'] }),
      chainResponders: [
        { depth: 1, subject: 'CN=Intermediate', issuerSource: 'chain', responder: asked({ problems: [] }) },
        { depth: 2, subject: 'CN=Other', issuerSource: 'chain', responder: asked({ up: false, problems: ['bad_signature', 'expired'] }) },
        { depth: 3, subject: 'CN=None', issuerSource: 'chain', responder: asked({ url: null, up: false, problems: ['no_url'], verdict: null }) },
      ],
    }),
    okResult({ ...at(), durationSeconds: NaN, tls: { version: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' } }),
    ...FAILURE_REASONS.map((reason) => failedResult(reason, { ...at(), labels: { site: 'b' } })),
  ];
}

function key(sample: Sample): string {
  return `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
}

/** Samples as "name+labels" → value, so two expositions compare regardless of order. */
function byKey(e: Exposition): Map<string, number> {
  const map = new Map<string, number>();
  for (const s of e.samples) {
    expect(map.has(key(s)), `duplicate series ${key(s)}`).toBe(false);
    map.set(key(s), s.value);
  }
  return map;
}

async function viaPromClient(results: ProbeResult[], nowMs: number): Promise<Exposition> {
  const registry = new Registry();
  addProbeMetrics(registry, results, nowMs);
  return parseExposition(await registry.metrics());
}

describe('renderProbeMetrics', () => {
  it('writes the same series, values, help texts and types as the prom-client path, for every state', async () => {
    for (const nowMs of [NOW_MS, NOW_MS + 12 * HOUR_MS, NOW_MS + 30 * 24 * HOUR_MS]) {
      const ours = parseExposition(renderProbeMetrics(everyState(), nowMs));
      const theirs = await viaPromClient(everyState(), nowMs);
      expect(byKey(ours)).toEqual(byKey(theirs));
      expect(ours.helps).toEqual(theirs.helps);
      expect(ours.types).toEqual(theirs.types);
    }
    // Every per-address family occurs in that fleet, so the comparison covered all of them.
    const families = new Set(parseExposition(renderProbeMetrics(everyState(), NOW_MS)).samples.map((s) => s.name));
    expect([...families].sort()).toEqual(Object.values(PROBE_METRICS).map((f) => f.name).sort());
  });

  it('opens each family once, keeps its samples together, in the order of names.ts, without empty families', () => {
    const text = renderProbeMetrics(everyState(), NOW_MS);
    expect(text.endsWith('\n')).toBe(true);
    const seen: string[] = [];
    let current: string | null = null;
    for (const line of text.slice(0, -1).split('\n')) {
      if (line.startsWith('# HELP ')) {
        const name = line.split(' ')[2]!;
        expect(seen, `second HELP for ${name}`).not.toContain(name);
        seen.push(name);
        current = name;
      } else if (line.startsWith('# TYPE ')) {
        expect(line).toBe(`# TYPE ${current} gauge`);
      } else {
        expect(line.startsWith(`${current}{`), line).toBe(true);
      }
    }
    expect(seen).toEqual(Object.values(PROBE_METRICS).map((f) => f.name));
    const noStaple = renderProbeMetrics([okResult({}, null)], NOW_MS);
    expect(noStaple).not.toContain('ocsp_staple_age_seconds');
    expect(noStaple).toContain(familyHeader(PROBE_METRICS.staplePresent));
  });

  it('writes labels in a stable order: target, address, module, extra labels by name, then the family\'s own', () => {
    const text = renderProbeMetrics([okResult({ labels: { zone: 'z1', env: 'prod' } })], NOW_MS);
    const A = 'target="www.example.test:443",address="192.0.2.10:443",module="default",env="prod",zone="z1"';
    expect(text).toContain(`\nocsp_probe_success{${A}} 1\n`);
    expect(text).toContain(`\nocsp_probe_failure{${A},reason="dns"} 0\n`);
    expect(text).toContain(`\nocsp_tls_info{${A},version="TLSv1.3",cipher="TLS_AES_128_GCM_SHA256"} 1\n`);
    expect(text).toContain(`\nocsp_staple_age_seconds{${A}} 7200\n`);
  });

  it('escapes label values exactly as the format asks', () => {
    const text = renderProbeMetrics([okResult({ target: 'a"b\\c\nd:443', leaf: leafFacts({ subject: 'CN=evil "quoted" \\ back\nslash' }) })], NOW_MS);
    expect(text).toContain('target="a\\"b\\\\c\\nd:443"');
    expect(text).toContain('subject="CN=evil \\"quoted\\" \\\\ back\\nslash"');
    expect(find(parseExposition(text), 'ocsp_cert_info')[0]?.labels.subject).toBe('CN=evil "quoted" \\ back\nslash');
  });

  it('writes a reused result\'s lines once and recomputes only what moves with the clock', () => {
    const stapled = okResult({}, verdict({ single: single({ thisUpdate: new Date(NOW_MS - 11 * HOUR_MS), nextUpdate: new Date(NOW_MS + 13 * HOUR_MS) }) }));
    const results = [stapled, failedResult('timeout')];
    const first = renderProbeMetrics(results, NOW_MS);
    expect(renderProbeMetrics(results, NOW_MS)).toBe(first);
    const later = parseExposition(renderProbeMetrics(results, NOW_MS + 2 * HOUR_MS));
    const before = parseExposition(first);
    const A = { address: '192.0.2.10:443' };
    expect(valueOf(before, 'ocsp_staple_age_seconds', A)).toBe(11 * 3600);
    expect(valueOf(later, 'ocsp_staple_age_seconds', A)).toBe(13 * 3600);
    expect(valueOf(before, 'ocsp_staple_seconds_until_next_update', A)).toBe(13 * 3600);
    expect(valueOf(later, 'ocsp_staple_seconds_until_next_update', A)).toBe(11 * 3600);
    // Past half its 24 h window: stale flips on the reused result.
    expect(valueOf(before, 'ocsp_staple_stale', A)).toBe(0);
    expect(valueOf(later, 'ocsp_staple_stale', A)).toBe(1);
    expect(valueOf(later, 'ocsp_staple_seconds_until_end', A)).toBe(11 * 3600);
    const moving = new Set(['ocsp_staple_age_seconds', 'ocsp_staple_seconds_until_next_update', 'ocsp_staple_seconds_until_end', 'ocsp_staple_stale']);
    const still = (e: Exposition) => e.samples.filter((s) => !moving.has(s.name));
    expect(still(later)).toEqual(still(before));
  });

  it('renders each result on its own: others and their order do not change its series, and removed ones are gone', () => {
    const a = okResult({ labels: { env: 'prod' } });
    const b = failedResult('dns', { labels: { site: 'b' } });
    const both = parseExposition(renderProbeMetrics([a, b], NOW_MS));
    const onlyB = parseExposition(renderProbeMetrics([b], NOW_MS));
    expect(find(onlyB, 'ocsp_probe_success').map((s) => s.labels)).toEqual([
      { target: 'down.example.test:443', address: '192.0.2.20:443', module: 'default', site: 'b' },
    ]);
    expect(find(onlyB, 'ocsp_staple_present')).toEqual([]);
    expect(byKey(parseExposition(renderProbeMetrics([b, a], NOW_MS)))).toEqual(byKey(both));
    expect(find(both, 'ocsp_probe_success', { address: '192.0.2.20:443' })[0]?.labels).toEqual(find(onlyB, 'ocsp_probe_success')[0]?.labels);
  });

  it('streams chunks of about 64 K characters that together are the same text, and fails before the first chunk', () => {
    const results = everyState();
    expect([...probeMetricsChunks(results, NOW_MS)].join('')).toBe(renderProbeMetrics(results, NOW_MS));
    expect([...probeMetricsChunks([], NOW_MS)]).toEqual([]);
    const fleet = Array.from({ length: 2000 }, (_, i) => okResult({ address: `10.0.${i >> 8}.${i & 255}:443` }));
    const chunks = [...probeMetricsChunks(fleet, NOW_MS)];
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) expect(chunk.length).toBeLessThan(64 * 1024 + 2048);
    expect(chunks.join('')).toBe(renderProbeMetrics(fleet, NOW_MS));
    // A result the mapping cannot read throws when the chunks are asked for, not while they are sent.
    const broken = { ...okResult(), leaf: null, staple: { present: true, sizeBytes: 1, verdict: { valid: true, problems: 5 } } } as unknown as ProbeResult;
    expect(() => probeMetricsChunks([okResult({ address: '192.0.2.77:443' }), broken], NOW_MS)).toThrow(TypeError);
  });

  it('passes promtool check metrics', async () => {
    if ((await promtoolCheckMetrics('')) === null) return; // missing outside CI: skipped loudly
    const check = async (text: string) => (await promtoolCheckMetrics(text))!;
    expect(await check(renderProbeMetrics(everyState(), NOW_MS))).toEqual({ code: 0, output: '' });
    // The check would see a family split in two (the format wants each family's lines together).
    const split = await check(`${renderProbeMetrics([okResult()], NOW_MS)}${renderProbeMetrics([okResult({ address: '192.0.2.99:443' })], NOW_MS)}`);
    expect(split.code).not.toBe(0);
  });
});

describe('exposition primitives', () => {
  it('formats values as Prometheus spells them', () => {
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(-0)).toBe('0');
    expect(formatValue(0.1)).toBe('0.1');
    expect(formatValue(1_763_208_000.5)).toBe('1763208000.5');
    expect(formatValue(1e21)).toBe('1e+21');
    expect(formatValue(-2.5e-7)).toBe('-2.5e-7');
    for (const v of [0.1, 1e21, -2.5e-7, 1_763_208_000.5, Number.MAX_VALUE, Number.MIN_VALUE]) expect(Number(formatValue(v))).toBe(v);
  });

  it('escapes label values and help texts', () => {
    expect(escapeLabelValue('plain')).toBe('plain');
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('say "hi" \\ there\nnext')).toBe('say "hi" \\\\ there\\nnext');
    expect(familyHeader({ name: 'x_y', help: 'a\nb', labels: [] })).toBe('# HELP x_y a\\nb\n# TYPE x_y gauge\n');
  });
});
