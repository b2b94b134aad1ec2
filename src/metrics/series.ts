/**
 * Probe result → the samples it stands for, as a pure mapping into a `SeriesSink`. The one place that
 * decides which series a result has and their values; the exposition writer (render.ts) and the
 * prom-client adapter (collect.ts) only differ in what they do with each sample. Samples whose value
 * depends on the scrape time (a staple's age, the time to its nextUpdate, staleness) are handed over
 * as functions of "now", so a writer can keep everything else of a reused result and recompute only
 * those. The rules that matter for alerting: a failed probe is data (`ocsp_probe_success 0` plus the
 * reason), staple series exist only when a staple does, and `ocsp_cert_revoked` exists only when a
 * trustworthy source (a valid staple, or a verified answer of the responder asked directly) answered,
 * because "no staple" is not "good".
 */
import type { SingleResponseInfo } from '../ocsp/types.js';
import { FAILURE_REASONS, type ProbeResult, type StapleResult } from '../probe/types.js';
import type { ChainResponderResult, ResponderResult } from '../responder/types.js';
import { RESERVED_LABEL_NAMES } from '../config/schema.js';
import { CERT_STATUSES, PROBE_METRICS, RESPONDER_CHECK_METRICS, RESPONSE_STATUSES, STAPLE_FILE_METRICS, type MetricFamily } from './names.js';
import { STAPLE_FILE_ERROR_REASONS } from '../files/read.js';
import type { StapleFileResult } from '../sources/staple-file-result.js';
import { rewriteDeadlineMs } from '../sources/staple-file-judge.js';
import type { ResponderCheckResult } from '../sources/responder-check-result.js';
import type { SourcedResult } from '../sources/types.js';
import { CERTIFICATE_FILE_REASONS } from '../sources/responder-check-files.js';
import type { CertificateFacts } from '../x509/types.js';
import { stapleEnd } from '../ocsp/verify.js';

/** Receives the samples of one result; every sample also carries the result's `identityLabels`. */
export interface SeriesSink {
  /** A sample of `family`; `labelValues` pair up with `family.labels`, in that order. */
  sample(family: MetricFamily, value: number, labelValues?: readonly string[]): void;
  /** A sample (of a family without labels of its own) whose value depends on the scrape time, Unix ms. */
  sampleAt(family: MetricFamily, valueAt: (nowMs: number) => number): void;
}

/** Prometheus label name syntax; names starting with `__` are reserved for internal use. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Labels our own families use (names.ts checks they are all listed): a configured extra label of the same name would clash, so it is dropped. */
const RESERVED_LABELS: ReadonlySet<string> = new Set(RESERVED_LABEL_NAMES);

/** Whether a configured extra label can be added to the per-address series. */
export function isUsableExtraLabel(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__') && !RESERVED_LABELS.has(name);
}

/**
 * The labels every series of `result` carries, in a stable order: `target`, `address`, `module`,
 * then the usable configured extra labels sorted by name.
 */
export function identityLabels(result: ProbeResult): Array<[name: string, value: string]> {
  const labels: Array<[string, string]> = [
    ['target', result.target],
    ['address', result.address],
    ['module', result.module],
  ];
  const extra = Object.keys(result.labels).filter(isUsableExtraLabel).sort();
  for (const name of extra) labels.push([name, result.labels[name]!]);
  return labels;
}

function seconds(date: Date | string | number): number {
  return new Date(date).getTime() / 1000;
}

function flag(value: boolean): number {
  return value ? 1 : 0;
}

/** Every sample of one result (one probed address). */
export function mapProbeResult(result: ProbeResult, sink: SeriesSink): void {
  const M = PROBE_METRICS;
  sink.sample(M.probeSuccess, flag(result.success));
  sink.sample(M.probeDuration, result.durationSeconds);
  sink.sample(M.probeTimestamp, result.startedAtMs / 1000);
  // Every reason, every time: alerts on `== 1` never meet a missing series, and values flip in place.
  for (const reason of FAILURE_REASONS) {
    sink.sample(M.probeFailure, flag(!result.success && result.failureReason === reason), [reason]);
  }
  if (!result.success) return;

  if (result.tls) sink.sample(M.tlsInfo, 1, [result.tls.version, result.tls.cipher]);
  if (result.chain) sink.sample(M.chainVerified, flag(result.chain.verified));

  if (result.leaf) mapLeaf(sink, result.leaf);

  if (result.issuerFetch) sink.sample(M.issuerFetchSuccess, flag(result.issuerFetch.used));
  sink.sample(M.staplePresent, flag(result.staple?.present === true));
  if (result.staple?.present) mapStaple(sink, result.staple);
  mapRevocation(sink, trustedAnswers(result));
  if (result.responder) mapResponder(sink, result.responder);
  for (const chain of result.chainResponders ?? []) mapChainResponder(sink, chain);
}

/** The certificate's own facts: the same for a probed leaf and a certificate file. */
function mapLeaf(sink: SeriesSink, leaf: CertificateFacts): void {
  const M = PROBE_METRICS;
  sink.sample(M.certMustStaple, flag(leaf.mustStaple));
  sink.sample(M.certHasOcspUrl, flag(leaf.ocspUrls.length > 0));
  sink.sample(M.certNotAfter, seconds(leaf.notAfter));
  sink.sample(M.certInfo, 1, [leaf.subject, leaf.issuer, leaf.serialNumber, leaf.fingerprintSha256, leaf.ocspUrls[0] ?? '']);
}

/** A present staple's series: the same for a probed staple and a staple file. */
function mapStaple(sink: SeriesSink, staple: Pick<StapleResult, 'sizeBytes' | 'verdict'>): void {
  const M = PROBE_METRICS;
  sink.sample(M.stapleSize, staple.sizeBytes);
  const verdict = staple.verdict;
  if (!verdict) return;

  sink.sample(M.stapleValid, flag(verdict.valid));
  for (const problem of new Set(verdict.problems)) sink.sample(M.stapleProblem, 1, [problem]);

  const producedAt = verdict.producedAt;
  if (producedAt) sink.sample(M.stapleProducedAt, seconds(producedAt));

  const signerNotAfter = verdict.signer.kind === 'delegated' ? verdict.signer.notAfter : null;
  if (signerNotAfter) sink.sample(M.stapleSignerNotAfter, seconds(signerNotAfter));

  const single = verdict.single;
  if (!single) return;
  for (const status of CERT_STATUSES) sink.sample(M.stapleCertStatus, flag(single.certStatus === status), [status]);
  const thisUpdateMs = new Date(single.thisUpdate).getTime();
  sink.sample(M.stapleThisUpdate, thisUpdateMs / 1000);
  sink.sampleAt(M.stapleAge, (nowMs) => (nowMs - thisUpdateMs) / 1000);
  if (single.nextUpdate) {
    const nextUpdateMs = new Date(single.nextUpdate).getTime();
    sink.sample(M.stapleNextUpdate, nextUpdateMs / 1000);
    sink.sampleAt(M.stapleSecondsUntilNextUpdate, (nowMs) => (nextUpdateMs - nowMs) / 1000);
    sink.sample(M.stapleValidity, (nextUpdateMs - thisUpdateMs) / 1000);
  }
  const end = stapleEnd(verdict);
  if (end) {
    const endMs = new Date(end).getTime();
    const usableMs = endMs - thisUpdateMs;
    sink.sample(M.stapleEnd, endMs / 1000);
    sink.sampleAt(M.stapleSecondsUntilEnd, (nowMs) => (endMs - nowMs) / 1000);
    // Caddy refreshes at half the window; a staple past it means the server's refresh has stalled.
    sink.sampleAt(M.stapleStale, (nowMs) => flag(nowMs - thisUpdateMs > usableMs / 2));
  }
}

/**
 * The trustworthy answers about a probed leaf: a valid staple and a verified answer of the
 * responder asked directly (when the module asks it).
 */
function trustedAnswers(result: ProbeResult): SingleResponseInfo[] {
  const trusted: SingleResponseInfo[] = [];
  const stapled = result.staple?.verdict;
  if (stapled?.valid && stapled.single) trusted.push(stapled.single);
  const asked = result.responder?.verdict;
  if (result.responder?.up && asked?.valid && asked.single) trusted.push(asked.single);
  return trusted;
}

/**
 * `ocsp_cert_revoked` from the trustworthy answers only. Revoked when any of them says so; without
 * any, absent: "no staple" is not "good".
 */
function mapRevocation(sink: SeriesSink, trusted: readonly SingleResponseInfo[]): void {
  if (trusted.length === 0) return;
  const revoked = trusted.find((single) => single.certStatus === 'revoked');
  sink.sample(PROBE_METRICS.certRevoked, flag(revoked !== undefined));
  if (revoked?.revocationTime) sink.sample(PROBE_METRICS.certRevocationTime, seconds(revoked.revocationTime));
}

/**
 * The leaf's responder asked directly. Its status and dates only from a verified answer: an answer
 * that failed verification says nothing about the certificate. Without any responder URL only the
 * `no_url` problem is there, so "responder down" alerts do not fire for certificates without one.
 */
function mapResponder(sink: SeriesSink, responder: ResponderResult): void {
  const M = PROBE_METRICS;
  for (const problem of new Set(responder.problems)) sink.sample(M.responderProblem, 1, [problem]);
  if (responder.url === null) return;
  sink.sample(M.responderUp, flag(responder.up));
  if (responder.durationSeconds !== null) sink.sample(M.responderDuration, responder.durationSeconds);
  if (responder.source !== null) sink.sample(M.responderCacheHit, flag(responder.source !== 'network'));
  if (responder.fetchedAtMs !== null) sink.sample(M.responderFetchTimestamp, responder.fetchedAtMs / 1000);
  const single = responder.up && responder.verdict?.valid ? responder.verdict.single : null;
  if (!single) return;
  for (const status of CERT_STATUSES) sink.sample(M.responderCertStatus, flag(single.certStatus === status), [status]);
  sink.sample(M.responderThisUpdate, seconds(single.thisUpdate));
  if (single.nextUpdate) sink.sample(M.responderNextUpdate, seconds(single.nextUpdate));
}

function mapChainResponder(sink: SeriesSink, chain: ChainResponderResult): void {
  const M = PROBE_METRICS;
  const depth = String(chain.depth);
  for (const problem of new Set(chain.responder.problems)) sink.sample(M.chainResponderProblem, 1, [depth, problem]);
  if (chain.responder.url === null) return;
  sink.sample(M.chainResponderUp, flag(chain.responder.up), [depth]);
  const verdict = chain.responder.verdict;
  if (chain.responder.up && verdict?.valid && verdict.single) {
    sink.sample(M.chainCertRevoked, flag(verdict.single.certStatus === 'revoked'), [depth]);
  }
}

/** The labels of every series of a staple file: `file`, `certificate`, then its usable extra labels sorted by name. */
function stapleFileIdentity(result: StapleFileResult): Array<[name: string, value: string]> {
  const labels: Array<[string, string]> = [
    ['file', result.file],
    ['certificate', result.certificate],
  ];
  for (const name of Object.keys(result.labels).filter(isUsableExtraLabel).sort()) labels.push([name, result.labels[name]!]);
  return labels;
}

/**
 * Every sample of one staple file. The staple's own series as a probed staple's (the same
 * functions); a file that cannot be used is `ocsp_staple_file_readable 0` plus the reason, with the
 * certificate's series when it was read and `ocsp_staple_present 0` when only the staple file is
 * missing (the server has nothing to staple).
 */
function mapStapleFileResult(result: StapleFileResult, sink: SeriesSink): void {
  const F = STAPLE_FILE_METRICS;
  sink.sample(F.fileReadable, flag(result.readable));
  for (const reason of STAPLE_FILE_ERROR_REASONS) sink.sample(F.fileError, flag(result.problem?.reason === reason), [reason]);
  if (result.modifiedAtMs !== null) sink.sample(F.fileModified, result.modifiedAtMs / 1000);
  if (result.leaf) mapLeaf(sink, result.leaf);
  if (result.stapleMissing) sink.sample(PROBE_METRICS.staplePresent, 0);
  if (!result.readable || !result.staple) return;
  const staple = result.staple;
  sink.sample(PROBE_METRICS.staplePresent, flag(staple.present));
  if (!staple.present) return;
  mapStaple(sink, staple);
  const verdict = staple.verdict;
  mapRevocation(sink, verdict?.valid && verdict.single ? [verdict.single] : []);
  const deadlineMs = rewriteDeadlineMs(result);
  if (deadlineMs !== null) sink.sample(F.fileRewriteDeadline, deadlineMs / 1000);
}

/** The labels of every series of a responder check: `certificate`, then its usable extra labels sorted by name. */
function responderCheckIdentity(result: ResponderCheckResult): Array<[name: string, value: string]> {
  const labels: Array<[string, string]> = [['certificate', result.certificate]];
  for (const name of Object.keys(result.labels).filter(isUsableExtraLabel).sort()) labels.push([name, result.labels[name]!]);
  return labels;
}

/**
 * Every sample of one responder check. The responder's series exactly as a probe with
 * query_responder has them (mapResponder), revocation from a verified answer only, and what a
 * CA-downtime monitor needs beyond those: the answer's responseStatus (tryLater), when the CA
 * signed it, the time left to its nextUpdate and the delegated signer's expiry. An unusable
 * certificate file is `..._certificate_readable 0` plus the reason, and nothing was asked.
 */
function mapResponderCheckResult(result: ResponderCheckResult, sink: SeriesSink): void {
  const R = RESPONDER_CHECK_METRICS;
  sink.sample(R.certificateReadable, flag(result.problem === null));
  for (const reason of CERTIFICATE_FILE_REASONS) sink.sample(R.certificateError, flag(result.problem?.reason === reason), [reason]);
  if (result.leaf) mapLeaf(sink, result.leaf);
  const responder = result.responder;
  if (!responder) return;
  mapResponder(sink, responder);
  const verdict = responder.verdict;
  const status = verdict?.response?.responseStatus;
  if (status) for (const stated of RESPONSE_STATUSES) sink.sample(R.responseStatus, flag(status === stated), [stated]);
  // Also from an answer refused because that certificate expired (signer_expired): the cause shows.
  const signer = verdict?.signatureValid ? verdict.signer : null;
  if (signer?.kind === 'delegated' && signer.notAfter) sink.sample(R.signerNotAfter, seconds(signer.notAfter));
  const verified = responder.up && verdict?.valid ? verdict : null;
  mapRevocation(sink, verified?.single ? [verified.single] : []);
  if (!verified) return;
  const producedAt = verified.response?.basic?.producedAt;
  if (producedAt) sink.sample(R.producedAt, seconds(producedAt));
  const nextUpdate = verified.single?.nextUpdate;
  if (nextUpdate) {
    const nextUpdateMs = new Date(nextUpdate).getTime();
    sink.sampleAt(R.secondsUntilNextUpdate, (nowMs) => (nextUpdateMs - nowMs) / 1000);
  }
}

/**
 * The identity labels of a result from a source other than the sweep (a staple file, a responder
 * checked on its own), first on each of its samples instead of target, address and module.
 */
export function sourcedIdentity(sourced: SourcedResult): Array<[name: string, value: string]> {
  return sourced.kind === 'staple_file' ? stapleFileIdentity(sourced.result) : responderCheckIdentity(sourced.result);
}

/** The samples of such a result, as `mapProbeResult` writes a probe result's. */
export function mapSourcedResult(sourced: SourcedResult, sink: SeriesSink): void {
  if (sourced.kind === 'staple_file') mapStapleFileResult(sourced.result, sink);
  else mapResponderCheckResult(sourced.result, sink);
}
