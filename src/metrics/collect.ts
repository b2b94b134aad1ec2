/**
 * Probe results → Prometheus series. A pure mapping done at scrape time into a registry the caller
 * creates for that one response, so series of removed targets or vanished addresses simply are not
 * there next time, and "now" is the scrape's clock: a reused result still shows a growing staple age.
 * The rules that matter for alerting: a failed probe is data (`ocsp_probe_success 0` plus the reason),
 * staple series exist only when a staple does, and `ocsp_cert_revoked` exists only when a trustworthy
 * source (a valid staple, or a verified answer of the responder asked directly) answered, because
 * "no staple" is not "good".
 */
import { Gauge, type Registry } from 'prom-client';
import type { SingleResponseInfo } from '../ocsp/types.js';
import { FAILURE_REASONS, type ProbeResult, type StapleResult } from '../probe/types.js';
import type { ChainResponderResult, ResponderResult } from '../responder/types.js';
import { ADDRESS_LABELS, CERT_STATUSES, EXPORTER_METRICS, PROBE_METRICS, type MetricFamily } from './names.js';

type Labels = Record<string, string>;

/** Prometheus label name syntax; names starting with `__` are reserved for internal use. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Labels our own families use: a configured extra label of the same name would clash, so it is dropped. */
const RESERVED_LABELS: ReadonlySet<string> = new Set([
  ...ADDRESS_LABELS,
  ...Object.values(PROBE_METRICS).flatMap((f: MetricFamily) => f.labels),
]);

/** Whether a configured extra label can be added to the per-address series. */
export function isUsableExtraLabel(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__') && !RESERVED_LABELS.has(name);
}

/**
 * Creates each family on first use only, so a scrape without staples has no empty
 * `ocsp_staple_*` HELP/TYPE blocks.
 */
class GaugeSet {
  private readonly gauges = new Map<string, Gauge<string>>();

  constructor(
    private readonly registry: Registry,
    private readonly commonLabels: readonly string[],
  ) {}

  set(family: MetricFamily, labels: Labels, value: number): void {
    let gauge = this.gauges.get(family.name);
    if (!gauge) {
      gauge = new Gauge({
        name: family.name,
        help: family.help,
        labelNames: [...this.commonLabels, ...family.labels],
        registers: [this.registry],
      });
      this.gauges.set(family.name, gauge);
    }
    gauge.set(labels, value);
  }
}

function seconds(date: Date | string | number): number {
  return new Date(date).getTime() / 1000;
}

function flag(value: boolean): number {
  return value ? 1 : 0;
}

/**
 * Adds the per-address families for `results` to `registry`, judged at `nowMs` (Unix ms, the scrape
 * time). One series set per result, i.e. per probed address.
 */
export function addProbeMetrics(registry: Registry, results: readonly ProbeResult[], nowMs: number): void {
  const extraLabelNames = [
    ...new Set(results.flatMap((r) => Object.keys(r.labels).filter(isUsableExtraLabel))),
  ].sort();
  const gauges = new GaugeSet(registry, [...ADDRESS_LABELS, ...extraLabelNames]);
  for (const result of results) addResult(gauges, result, nowMs);
}

function addResult(gauges: GaugeSet, result: ProbeResult, nowMs: number): void {
  const base: Labels = {};
  for (const [name, value] of Object.entries(result.labels)) {
    if (isUsableExtraLabel(name)) base[name] = value;
  }
  base.target = result.target;
  base.address = result.address;
  base.module = result.module;
  const with_ = (extra: Labels): Labels => ({ ...base, ...extra });
  const M = PROBE_METRICS;

  gauges.set(M.probeSuccess, base, flag(result.success));
  gauges.set(M.probeDuration, base, result.durationSeconds);
  gauges.set(M.probeTimestamp, base, result.startedAtMs / 1000);
  // Every reason, every time: alerts on `== 1` never meet a missing series, and values flip in place.
  for (const reason of FAILURE_REASONS) {
    gauges.set(M.probeFailure, with_({ reason }), flag(!result.success && result.failureReason === reason));
  }
  if (!result.success) return;

  if (result.tls) gauges.set(M.tlsInfo, with_({ version: result.tls.version, cipher: result.tls.cipher }), 1);
  if (result.chain) gauges.set(M.chainVerified, base, flag(result.chain.verified));

  const leaf = result.leaf;
  if (leaf) {
    gauges.set(M.certMustStaple, base, flag(leaf.mustStaple));
    gauges.set(M.certHasOcspUrl, base, flag(leaf.ocspUrls.length > 0));
    gauges.set(M.certNotAfter, base, seconds(leaf.notAfter));
    gauges.set(
      M.certInfo,
      with_({
        subject: leaf.subject,
        issuer: leaf.issuer,
        serial: leaf.serialNumber,
        fingerprint_sha256: leaf.fingerprintSha256,
        ocsp_url: leaf.ocspUrls[0] ?? '',
      }),
      1,
    );
  }

  gauges.set(M.staplePresent, base, flag(result.staple?.present === true));
  if (result.staple?.present) addStaple(gauges, base, result.staple, nowMs);
  addRevocation(gauges, base, result);
  if (result.responder) addResponder(gauges, base, result.responder);
  for (const chain of result.chainResponders ?? []) addChainResponder(gauges, base, chain);
}

/**
 * The leaf's responder asked directly. Its status and dates only from a verified answer: an answer
 * that failed verification says nothing about the certificate. Without any responder URL only the
 * `no_url` problem is there, so "responder down" alerts do not fire for certificates without one.
 */
function addResponder(gauges: GaugeSet, base: Labels, responder: ResponderResult): void {
  const M = PROBE_METRICS;
  const with_ = (extra: Labels): Labels => ({ ...base, ...extra });
  for (const problem of new Set(responder.problems)) gauges.set(M.responderProblem, with_({ problem }), 1);
  if (responder.url === null) return;
  gauges.set(M.responderUp, base, flag(responder.up));
  if (responder.durationSeconds !== null) gauges.set(M.responderDuration, base, responder.durationSeconds);
  if (responder.source !== null) gauges.set(M.responderCacheHit, base, flag(responder.source !== 'network'));
  if (responder.fetchedAtMs !== null) gauges.set(M.responderFetchTimestamp, base, responder.fetchedAtMs / 1000);
  const single = responder.up && responder.verdict?.valid ? responder.verdict.single : null;
  if (!single) return;
  for (const status of CERT_STATUSES) gauges.set(M.responderCertStatus, with_({ status }), flag(single.certStatus === status));
  gauges.set(M.responderThisUpdate, base, seconds(single.thisUpdate));
  if (single.nextUpdate) gauges.set(M.responderNextUpdate, base, seconds(single.nextUpdate));
}

function addChainResponder(gauges: GaugeSet, base: Labels, chain: ChainResponderResult): void {
  const M = PROBE_METRICS;
  const at = { ...base, depth: String(chain.depth) };
  for (const problem of new Set(chain.responder.problems)) gauges.set(M.chainResponderProblem, { ...at, problem }, 1);
  if (chain.responder.url === null) return;
  gauges.set(M.chainResponderUp, at, flag(chain.responder.up));
  const verdict = chain.responder.verdict;
  if (chain.responder.up && verdict?.valid && verdict.single) gauges.set(M.chainCertRevoked, at, flag(verdict.single.certStatus === 'revoked'));
}

function addStaple(gauges: GaugeSet, base: Labels, staple: StapleResult, nowMs: number): void {
  const M = PROBE_METRICS;
  const with_ = (extra: Labels): Labels => ({ ...base, ...extra });
  gauges.set(M.stapleSize, base, staple.sizeBytes);
  const verdict = staple.verdict;
  if (!verdict) return;

  gauges.set(M.stapleValid, base, flag(verdict.valid));
  for (const problem of new Set(verdict.problems)) gauges.set(M.stapleProblem, with_({ problem }), 1);

  const producedAt = verdict.response?.basic?.producedAt;
  if (producedAt) gauges.set(M.stapleProducedAt, base, seconds(producedAt));

  const single = verdict.single;
  if (!single) return;
  for (const status of CERT_STATUSES) {
    gauges.set(M.stapleCertStatus, with_({ status }), flag(single.certStatus === status));
  }
  const thisUpdateMs = new Date(single.thisUpdate).getTime();
  gauges.set(M.stapleThisUpdate, base, thisUpdateMs / 1000);
  const ageMs = nowMs - thisUpdateMs;
  gauges.set(M.stapleAge, base, ageMs / 1000);
  if (single.nextUpdate) {
    const nextUpdateMs = new Date(single.nextUpdate).getTime();
    const validityMs = nextUpdateMs - thisUpdateMs;
    gauges.set(M.stapleNextUpdate, base, nextUpdateMs / 1000);
    gauges.set(M.stapleSecondsUntilNextUpdate, base, (nextUpdateMs - nowMs) / 1000);
    gauges.set(M.stapleValidity, base, validityMs / 1000);
    // Caddy refreshes at half the window; a staple past it means the server's refresh has stalled.
    gauges.set(M.stapleStale, base, flag(ageMs > validityMs / 2));
  }
}

/**
 * `ocsp_cert_revoked` from the trustworthy answers only: a valid staple and a verified answer of the
 * responder asked directly (when the module asks it). Revoked when any of them says so; without
 * any, absent: "no staple" is not "good".
 */
function addRevocation(gauges: GaugeSet, base: Labels, result: ProbeResult): void {
  const trusted: SingleResponseInfo[] = [];
  const stapled = result.staple?.verdict;
  if (stapled?.valid && stapled.single) trusted.push(stapled.single);
  const asked = result.responder?.verdict;
  if (result.responder?.up && asked?.valid && asked.single) trusted.push(asked.single);
  if (trusted.length === 0) return;
  const revoked = trusted.find((single) => single.certStatus === 'revoked');
  gauges.set(PROBE_METRICS.certRevoked, base, flag(revoked !== undefined));
  if (revoked?.revocationTime) gauges.set(PROBE_METRICS.certRevocationTime, base, seconds(revoked.revocationTime));
}

/** What the exporter knows about itself at scrape time. */
export interface ExporterState {
  version: string;
  nodejsVersion: string;
  configLastReloadSuccessful: boolean;
  /** Null when no load ever succeeded (the series is then absent). */
  configLastReloadSuccessTimestampSeconds: number | null;
  targets: number;
  /** Null before the first sweep. */
  lastSweep: { durationSeconds: number; probed: number; reused: number } | null;
}

/** Adds the `ocsp_exporter_*` families (for /metrics only) to `registry`. */
export function addExporterMetrics(registry: Registry, state: ExporterState): void {
  const M = EXPORTER_METRICS;
  const gauge = (family: MetricFamily): Gauge<string> =>
    new Gauge({ name: family.name, help: family.help, labelNames: [...family.labels], registers: [registry] });

  gauge(M.buildInfo).set({ version: state.version, nodejs_version: state.nodejsVersion }, 1);
  gauge(M.configLastReloadSuccessful).set(flag(state.configLastReloadSuccessful));
  if (state.configLastReloadSuccessTimestampSeconds !== null) {
    gauge(M.configLastReloadSuccessTimestamp).set(state.configLastReloadSuccessTimestampSeconds);
  }
  gauge(M.targets).set(state.targets);
  if (state.lastSweep) {
    gauge(M.sweepDuration).set(state.lastSweep.durationSeconds);
    const probes = gauge(M.sweepProbes);
    probes.set({ result: 'probed' }, state.lastSweep.probed);
    probes.set({ result: 'reused' }, state.lastSweep.reused);
  }
}
