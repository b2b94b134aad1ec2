/**
 * A source of realistic ocsp-stapling-exporter metrics for the dashboard and alert checks: a tiny
 * HTTP server that renders fixed probe results (one per staple state), staple files and responder
 * checks (one per state each) through the exporter's own mapping and writer (src/metrics/series.ts,
 * render.ts) at each scrape, so ages and countdowns move with the clock as they do in the real
 * exporter. It answers `/metrics` (every result, file and check plus the exporter's own families) and
 * `/probe?target=` (that target's results only), like the exporter.
 *
 * The real exporter will replace it: anything that returns a `MetricsSource` (base URL, the targets
 * it knows and what state each is in) can be passed to the tests instead.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { addExporterMetrics } from '../../src/metrics/collect.js';
import { renderProbeMetrics } from '../../src/metrics/render.js';
import type { SourcedResult } from '../../src/sources/types.js';
import type { StapleFileResult } from '../../src/sources/staple-file-result.js';
import type { OcspProblem } from '../../src/ocsp/types.js';
import type { ProbeResult } from '../../src/probe/types.js';
import type { ChainResponderResult, ResponderResult } from '../../src/responder/types.js';
import type { ResponderCheckResult } from '../../src/sources/responder-check-result.js';
import { failedResult, leafFacts, okResult, single, verdict } from '../metrics/fixtures.js';

/** The staple states the dashboards tell apart, and the value of their "Status" column. */
export const STATUS_VALUE = {
  probe_failed: 0,
  revoked: 1,
  expired: 2,
  invalid: 3,
  missing: 4,
  stale: 5,
  valid: 6,
  no_ocsp_url: 7,
} as const;
export type StapleState = keyof typeof STATUS_VALUE;

export interface SourceAddress {
  target: string;
  address: string;
  state: StapleState;
}

/** The staple file states the overview's Staple files table tells apart, and its "Status" value. */
export const FILE_STATUS_VALUE = {
  unreadable: 0,
  revoked: 1,
  expired: 2,
  invalid: 3,
  no_staple: 4,
  refresh_stalled: 5,
  old_answer: 6,
  valid: 7,
} as const;
export type StapleFileState = keyof typeof FILE_STATUS_VALUE;

export interface SourceFile {
  file: string;
  certificate: string;
  state: StapleFileState;
}

/** The responder check states: a verified answer (good or revoked), no verified answer, no certificate. */
export type ResponderCheckState = 'good' | 'revoked' | 'down' | 'unreadable';

export interface SourceCheck {
  certificate: string;
  state: ResponderCheckState;
}

export interface MetricsSource {
  /** e.g. `http://127.0.0.1:41234`; `/metrics` and `/probe?target=` live below it. */
  baseUrl: string;
  /** Every address the source reports on `/metrics`, with its expected state. */
  addresses: readonly SourceAddress[];
  /** Every staple file it reports on `/metrics`, with its expected state. */
  files: readonly SourceFile[];
  /** Every responder check it reports on `/metrics`, with its expected state. */
  checks: readonly SourceCheck[];
  close(): Promise<void>;
}

const HOUR_MS = 3_600_000;

function stapled(
  target: string,
  address: string,
  nowMs: number,
  options: {
    thisUpdateAgoH: number;
    validityH: number;
    valid?: boolean;
    problems?: OcspProblem[];
    status?: 'good' | 'revoked' | 'unknown';
    /** Signed by a delegated responder whose certificate ends this many hours from now (else by the issuer). */
    signerEndsInH?: number;
  },
): ProbeResult {
  const thisUpdate = new Date(nowMs - options.thisUpdateAgoH * HOUR_MS);
  const s = single({
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + options.validityH * HOUR_MS),
    certStatus: options.status ?? 'good',
    // Whole seconds, as in real responses (GeneralizedTime without fractions, RFC 5280 §4.1.2.5.2).
    revocationTime: options.status === 'revoked' ? new Date(Math.floor(nowMs / HOUR_MS) * HOUR_MS - 3 * HOUR_MS) : null,
    revocationReason: options.status === 'revoked' ? 'keyCompromise' : null,
  });
  const signer =
    options.signerEndsInH === undefined
      ? undefined
      : {
          kind: 'delegated' as const,
          subject: 'CN=Example OCSP Responder',
          notBefore: new Date(nowMs - 30 * 24 * HOUR_MS),
          notAfter: new Date(nowMs + options.signerEndsInH * HOUR_MS),
        };
  const v = verdict({ valid: options.valid ?? true, problems: options.problems ?? [], single: s, ...(signer ? { signer } : {}) });
  if (v.response?.basic) v.response.basic.producedAt = thisUpdate;
  return okResult({ target, address, serverName: target.split(':')[0]!, startedAtMs: nowMs - 1000 }, v);
}

/**
 * The certificate's responder asked directly (query_responder): a verified answer with `status`
 * issued `thisUpdateAgoH` ago, or, with `problem`, no answer at all.
 */
function asked(nowMs: number, answer: { status: 'good' | 'revoked'; thisUpdateAgoH: number; cacheHit?: boolean } | { problem: 'timeout' }): ResponderResult {
  const base = { url: 'http://ocsp.example.test/', urlSource: 'aia' as const, method: 'GET' as const, durationSeconds: 0.042, httpStatus: 200 };
  if ('problem' in answer) {
    return { ...base, up: false, source: 'network', fetchedAtMs: nowMs - 1000, httpStatus: null, problems: [answer.problem], error: 'timed out', verdict: null };
  }
  const thisUpdate = new Date(Math.floor(nowMs / 1000) * 1000 - answer.thisUpdateAgoH * HOUR_MS);
  const s = single({
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + 24 * HOUR_MS),
    certStatus: answer.status,
    revocationTime: answer.status === 'revoked' ? new Date(Math.floor(nowMs / HOUR_MS) * HOUR_MS - 3 * HOUR_MS) : null,
    revocationReason: answer.status === 'revoked' ? 'keyCompromise' : null,
  });
  return {
    ...base,
    up: true,
    source: answer.cacheHit ? 'cache' : 'network',
    fetchedAtMs: thisUpdate.getTime(),
    problems: [],
    error: null,
    verdict: verdict({ single: s }),
  };
}

/** The responder and chain answers some fixture addresses carry (modules with query_responder). */
function withResponder(result: ProbeResult, responder: ResponderResult, chainResponders?: ChainResponderResult[]): ProbeResult {
  return { ...result, responder, ...(chainResponders ? { chainResponders } : {}) };
}

/**
 * One result per state (two addresses for the valid target), judged at `nowMs`, and two staples whose
 * delegated signer ends before nextUpdate: one stale only by its usable window, one expired only by
 * its signer.
 */
export function fixtureResults(nowMs: number): { results: ProbeResult[]; addresses: SourceAddress[] } {
  const results: [StapleState, ProbeResult][] = [
    [
      'valid',
      withResponder(stapled('valid.example.test:443', '192.0.2.10:443', nowMs, { thisUpdateAgoH: 2, validityH: 24 }), asked(nowMs, { status: 'good', thisUpdateAgoH: 0.5, cacheHit: true }), [
        { depth: 1, subject: 'CN=Example Intermediate', issuerSource: 'chain', responder: asked(nowMs, { status: 'good', thisUpdateAgoH: 1 }) },
      ]),
    ],
    // Signed by a delegated responder whose certificate outlives nextUpdate: the staple ends at nextUpdate.
    ['valid', stapled('valid.example.test:443', '192.0.2.11:443', nowMs, { thisUpdateAgoH: 3, validityH: 24, signerEndsInH: 30 * 24 })],
    ['stale', withResponder(stapled('stale.example.test:443', '192.0.2.12:443', nowMs, { thisUpdateAgoH: 20, validityH: 24 }), asked(nowMs, { status: 'good', thisUpdateAgoH: 1 }))],
    [
      'missing',
      okResult(
        { target: 'missing.example.test:443', address: '192.0.2.13:443', leaf: leafFacts({ mustStaple: true }), startedAtMs: nowMs - 1000 },
        null,
      ),
    ],
    [
      'no_ocsp_url',
      okResult({ target: 'nourl.example.test:443', address: '192.0.2.14:443', leaf: leafFacts({ ocspUrls: [] }), startedAtMs: nowMs - 1000 }, null),
    ],
    [
      'revoked',
      withResponder(
        stapled('revoked.example.test:443', '192.0.2.15:443', nowMs, { thisUpdateAgoH: 1, validityH: 24, status: 'revoked' }),
        asked(nowMs, { status: 'revoked', thisUpdateAgoH: 0.25 }),
      ),
    ],
    [
      'invalid',
      withResponder(
        stapled('invalid.example.test:443', '192.0.2.16:443', nowMs, { thisUpdateAgoH: 1, validityH: 24, valid: false, problems: ['bad_signature'] }),
        asked(nowMs, { problem: 'timeout' }),
      ),
    ],
    ['expired', stapled('expired.example.test:443', '192.0.2.17:443', nowMs, { thisUpdateAgoH: 30, validityH: 24, valid: false, problems: ['expired'] })],
    // The delegated responder's certificate ends 6 h from now, before nextUpdate (14 h): the usable window
    // is 16 h, and 10 h old the staple is past half of it (stale), though only 42 % into its validity window.
    [
      'stale',
      stapled('signer-first.example.test:443', '192.0.2.19:443', nowMs, {
        thisUpdateAgoH: 10,
        validityH: 24,
        signerEndsInH: 6,
        problems: ['signer_expires_before_next_update'],
      }),
    ],
    // The delegated responder's certificate expired an hour ago, nextUpdate is 5 days ahead: expired.
    [
      'expired',
      stapled('signer-expired.example.test:443', '192.0.2.20:443', nowMs, {
        thisUpdateAgoH: 48,
        validityH: 7 * 24,
        signerEndsInH: -1,
        valid: false,
        problems: ['signer_expired', 'signer_expires_before_next_update'],
      }),
    ],
    ['probe_failed', failedResult('timeout', { target: 'down.example.test:443', address: '192.0.2.18:443', startedAtMs: nowMs - 3000 })],
  ];
  return {
    results: results.map(([, r]) => r),
    addresses: results.map(([state, r]) => ({ target: r.target, address: r.address, state })),
  };
}

/** A staple file judged as the file source judges one: `staple` null when it could not be read. */
function stapleFile(
  file: string,
  certificate: string,
  nowMs: number,
  options: { modifiedAgoH: number; staple?: ProbeResult | null; problem?: 'missing' | 'bad_certificate'; labels?: Record<string, string> },
): StapleFileResult {
  const fromProbe = options.staple?.staple ?? null;
  const unreadable = options.problem !== undefined;
  return {
    file,
    certificate,
    labels: options.labels ?? {},
    readable: !unreadable,
    problem: unreadable ? { reason: options.problem!, message: `${options.problem === 'missing' ? file : certificate}: ${options.problem}` } : null,
    modifiedAtMs: options.problem === 'missing' ? null : nowMs - options.modifiedAgoH * HOUR_MS,
    leaf: options.problem === 'bad_certificate' ? null : leafFacts(),
    staple: unreadable || !fromProbe ? null : { present: fromProbe.present, sizeBytes: fromProbe.sizeBytes, verdict: fromProbe.verdict },
    stapleMissing: options.problem === 'missing',
    issuerSource: unreadable ? null : 'bundle',
    rewriteWithin: 0.5,
  };
}

/**
 * One staple file per state, in HAProxy's layout (`<crt>.ocsp` beside the bundle) and nginx's explicit
 * pairs. Staples have 24 h windows: the rewrite deadline is the mtime plus 12 h.
 */
export function fixtureFiles(nowMs: number): { results: StapleFileResult[]; files: SourceFile[] } {
  const staple = (options: Parameters<typeof stapled>[3]): ProbeResult => stapled('file', 'file', nowMs, options);
  const entries: [StapleFileState, StapleFileResult][] = [
    ['valid', stapleFile('/etc/haproxy/certs/www.pem.ocsp', '/etc/haproxy/certs/www.pem', nowMs, { modifiedAgoH: 1, staple: staple({ thisUpdateAgoH: 1, validityH: 24 }), labels: { site: 'www' } })],
    // The cron job last ran 13 h ago: past its deadline (12 h after), the staple usable for 11 h more.
    ['refresh_stalled', stapleFile('/etc/haproxy/certs/shop.pem.ocsp', '/etc/haproxy/certs/shop.pem', nowMs, { modifiedAgoH: 13, staple: staple({ thisUpdateAgoH: 13, validityH: 24 }) })],
    // Rewritten 10 minutes ago, with an answer 14 h old: on time, but the answer is stale.
    ['old_answer', stapleFile('/etc/nginx/ocsp/api.der', '/etc/nginx/certs/api.pem', nowMs, { modifiedAgoH: 1 / 6, staple: staple({ thisUpdateAgoH: 14, validityH: 24 }) })],
    ['revoked', stapleFile('/etc/nginx/ocsp/revoked.der', '/etc/nginx/certs/revoked.pem', nowMs, { modifiedAgoH: 1, staple: staple({ thisUpdateAgoH: 1, validityH: 24, status: 'revoked' }) })],
    ['invalid', stapleFile('/etc/nginx/ocsp/badsig.der', '/etc/nginx/certs/badsig.pem', nowMs, { modifiedAgoH: 1, staple: staple({ thisUpdateAgoH: 1, validityH: 24, valid: false, problems: ['bad_signature'] }) })],
    ['expired', stapleFile('/etc/haproxy/certs/old.pem.ocsp', '/etc/haproxy/certs/old.pem', nowMs, { modifiedAgoH: 30, staple: staple({ thisUpdateAgoH: 30, validityH: 24, valid: false, problems: ['expired'] }) })],
    ['unreadable', stapleFile('/etc/haproxy/certs/new.pem.ocsp', '/etc/haproxy/certs/new.pem', nowMs, { modifiedAgoH: 0, problem: 'missing' })],
    ['unreadable', stapleFile('/etc/nginx/ocsp/broken.der', '/etc/nginx/certs/broken.pem', nowMs, { modifiedAgoH: 2, problem: 'bad_certificate' })],
  ];
  return { results: entries.map(([, r]) => r), files: entries.map(([state, r]) => ({ file: r.file, certificate: r.certificate, state })) };
}

/** One responder check per state, for certificates of an internal CA mounted from Kubernetes secrets. */
export function fixtureChecks(nowMs: number): { results: ResponderCheckResult[]; checks: SourceCheck[] } {
  const check = (certificate: string, responder: ResponderResult | null, unreadable = false): ResponderCheckResult => ({
    certificate,
    labels: { ca: 'internal' },
    module: 'default',
    problem: unreadable ? { reason: 'missing', message: `${certificate}: missing` } : null,
    leaf: unreadable ? null : leafFacts(),
    issuerSource: unreadable ? null : 'bundle',
    responder,
    checkedAtMs: nowMs - 1000,
  });
  const entries: [ResponderCheckState, ResponderCheckResult][] = [
    ['good', check('/etc/ocsp-stapling-exporter/tls/api/tls.crt', asked(nowMs, { status: 'good', thisUpdateAgoH: 2 }))],
    ['revoked', check('/etc/ocsp-stapling-exporter/tls/legacy/tls.crt', asked(nowMs, { status: 'revoked', thisUpdateAgoH: 1 }))],
    ['down', check('/etc/ocsp-stapling-exporter/tls/vpn/tls.crt', asked(nowMs, { problem: 'timeout' }))],
    ['unreadable', check('/etc/ocsp-stapling-exporter/tls/gone/tls.crt', null, true)],
  ];
  return { results: entries.map(([, r]) => r), checks: entries.map(([state, r]) => ({ certificate: r.certificate, state })) };
}

function subjectsAt(nowMs: number): SourcedResult[] {
  return [
    ...fixtureFiles(nowMs).results.map((result): SourcedResult => ({ kind: 'staple_file', result })),
    ...fixtureChecks(nowMs).results.map((result): SourcedResult => ({ kind: 'responder_check', result })),
  ];
}

async function render(results: readonly ProbeResult[], nowMs: number, withExporter: boolean): Promise<{ body: string; contentType: string }> {
  // The exporter's own writer for the per-address families (and, on /metrics, files and checks in the same blocks).
  const perAddress = renderProbeMetrics(results, nowMs, withExporter ? subjectsAt(nowMs) : []);
  const registry = new Registry();
  if (withExporter) {
    addExporterMetrics(registry, {
      version: '0.0.0-test',
      nodejsVersion: process.versions.node,
      configLastReloadSuccessful: true,
      configLastReloadSuccessTimestampSeconds: Math.floor(nowMs / 1000) - 600,
      targets: new Set(results.map((r) => r.target)).size,
      lastSweep: { durationSeconds: 0.42, probed: results.length, reused: 0 },
    });
  }
  return { body: perAddress + (await registry.metrics()), contentType: registry.contentType };
}

/** Starts the static source on a free loopback port. */
export async function startStaticMetricsSource(): Promise<MetricsSource> {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const nowMs = Date.now();
    const { results } = fixtureResults(nowMs);
    let selected: ProbeResult[];
    if (url.pathname === '/metrics') {
      selected = results;
    } else if (url.pathname === '/probe') {
      const target = url.searchParams.get('target') ?? '';
      selected = results.filter((r) => r.target === target);
      if (selected.length === 0) selected = [failedResult('dns', { target, address: target, startedAtMs: nowMs })];
    } else {
      response.writeHead(404).end('not found\n');
      return;
    }
    render(selected, nowMs, url.pathname === '/metrics').then(
      ({ body, contentType }) => response.writeHead(200, { 'content-type': contentType }).end(body),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    addresses: fixtureResults(Date.now()).addresses,
    files: fixtureFiles(Date.now()).files,
    checks: fixtureChecks(Date.now()).checks,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
