/**
 * Asks a certificate's OCSP responder directly, after the handshake, when a module opts in
 * (`query_responder`): picks the URL (the module's `responder_url`, else the certificate's AIA OCSP
 * URL), builds the request (request.ts), gets the answer through the shared cache and single-flight
 * (cache.ts) or over HTTP (http.ts), and judges it exactly as a staple is judged
 * (`verifyOcspResponse`, with this probe's leaf, issuer and clock). Also the chain variant
 * (`query_chain_responders`): each intermediate of the presented chain asked about at its issuer's
 * responder. Nothing here throws; the result says what happened.
 */
import { findIssuer, isIssuedBy, readCertificateInfo } from '../x509/certificate.js';
import type { OcspVerdict } from '../ocsp/types.js';
import { verifyOcspResponse } from '../ocsp/verify.js';
import { routeKey, type ConnectionRoute } from '../net/proxy.js';
import type { IpProtocol, LookupFn } from '../net/resolve.js';
import { AnswerCache, answerExpiry, type Fetched } from './cache.js';
import { DEFAULT_DESTINATIONS, destinationsKey, type ResponderDestinations } from './destinations.js';
import { checkResponderUrl, exchange, type ExchangeOutcome } from './http.js';
import type { AnswerSource, ChainResponderResult, ResponderProblem, ResponderResult } from './types.js';
import { withDeadline } from '../util/deadline.js';
import { messageOf } from '../util/errors.js';
import { buildOcspRequest } from './request.js';
import type { FetchPolicy } from './transport.js';

/** Default `responder_cache_max_age`: how long an answer is reused at most, seconds. */
export const DEFAULT_RESPONDER_CACHE_MAX_AGE_SECONDS = 3600;

/** The process-wide (per thread) answer cache every probe shares unless given another. */
export const sharedAnswerCache = new AnswerCache<ExchangeOutcome>();

export interface ResponderCheckOptions extends FetchPolicy {
  /** Unix ms by which the check must be over: the probe's deadline. */
  deadlineMs: number;
  /** The module's `responder_url`: asked instead of the AIA URL. */
  urlOverride?: string | null;
  allowHttps?: boolean;
  /** `responder_cache_max_age`, seconds; 0 disables reuse (concurrent probes still share a request). */
  cacheMaxAgeSeconds?: number;
  clockSkewSeconds?: number;
  /** Clock for judging answers and for the cache, Unix ms. */
  now?: () => number;
  /** The cache behind the default answer provider; default {@link sharedAnswerCache}. */
  cache?: AnswerCache<ExchangeOutcome>;
  /** Where answers come from; default {@link localAnswers} over `cache`. Worker threads pass one asking the main thread. */
  answers?: AnswerProvider;
}

/**
 * One answer wanted: everything needed to fetch, judge and cache it, as plain data, so a worker
 * thread can hand it to the main thread and all threads share one cache and one request per key.
 */
export interface AnswerQuery {
  /** Cache and single-flight key: URL, guard policy, destinations, ip_protocol, CertID hash, issuer key hash, serial. */
  key: string;
  url: string;
  request: Uint8Array;
  leafDer: Uint8Array;
  issuerDer: Uint8Array;
  deadlineMs: number;
  allowHttps: boolean;
  allowLinkLocal: boolean;
  destinations: ResponderDestinations;
  ipProtocol: IpProtocol;
  /** The module's proxy and source address; plain data, so it crosses to the main thread. */
  route?: ConnectionRoute;
  maxAgeMs: number;
  clockSkewSeconds?: number;
  /** The asking probe's clock, Unix ms. */
  nowMs: number;
}

export interface AnswerReply {
  source: AnswerSource;
  /** Null when the answer (another probe's request) did not arrive before this query's deadline. */
  answer: { outcome: ExchangeOutcome; fetchedAtMs: number } | null;
}

export type AnswerProvider = (query: AnswerQuery) => Promise<AnswerReply>;

/**
 * Answers from `cache`, fetching over HTTP when it has nothing fresh. An answer's lifetime is
 * decided when it arrives ({@link answerExpiry}): verified with the query's certificates and clock,
 * valid ones until nextUpdate capped by the max age, anything else for the failure TTL.
 */
export function localAnswers(cache: AnswerCache<ExchangeOutcome> = sharedAnswerCache, lookup?: LookupFn): AnswerProvider {
  return async (query) => {
    const fetch = async (): Promise<Fetched<ExchangeOutcome>> => {
      const outcome = await exchange({
        url: query.url,
        request: query.request,
        deadlineMs: query.deadlineMs,
        allowHttps: query.allowHttps,
        allowLinkLocal: query.allowLinkLocal,
        destinations: query.destinations,
        ipProtocol: query.ipProtocol,
        route: query.route,
        lookup,
      });
      const fetchedAtMs = query.nowMs;
      const verdict = outcome.ok
        ? verifyOcspResponse(outcome.der, query.leafDer, query.issuerDer, { now: new Date(fetchedAtMs), clockSkewSeconds: query.clockSkewSeconds })
        : null;
      const nextUpdate = verdict?.single?.nextUpdate;
      return {
        value: outcome,
        fetchedAtMs,
        expiresAtMs: answerExpiry({
          fetchedAtMs,
          valid: verdict?.valid === true,
          nextUpdateMs: nextUpdate ? new Date(nextUpdate).getTime() : null,
          maxAgeMs: query.maxAgeMs,
        }),
        sizeBytes: (outcome.ok ? outcome.der.length : 0) + 256,
      };
    };
    const { source, entry } = cache.lookup(query.key, query.maxAgeMs, query.nowMs, fetch);
    const waited = await withDeadline(entry, query.deadlineMs);
    return { source, answer: waited ? { outcome: waited.value, fetchedAtMs: waited.fetchedAtMs } : null };
  };
}

/**
 * The answer of `leafDer`'s responder about it. `issuerDer` null (issuer not found) → not asked,
 * problem `issuer_unknown`: without the issuer there is no CertID to ask about.
 */
export async function checkResponder(leafDer: Uint8Array, issuerDer: Uint8Array | null, options: ResponderCheckOptions): Promise<ResponderResult> {
  try {
    return await check(leafDer, issuerDer, options);
  } catch (error) {
    // Defensive: a bug must not take the probe down.
    const message = messageOf(error);
    return notAsked(null, null, 'connect', `internal error while asking the responder: ${message}`);
  }
}

async function check(leafDer: Uint8Array, issuerDer: Uint8Array | null, options: ResponderCheckOptions): Promise<ResponderResult> {
  const chosen = chooseUrl(leafDer, options.urlOverride ?? null, options.allowHttps === true);
  if (!chosen) return notAsked(null, null, 'no_url', 'the certificate names no OCSP responder (no AIA OCSP URL) and the module sets no responder_url');
  const { url, urlSource } = chosen;
  const urlCheck = checkResponderUrl(url, options.allowHttps === true);
  if ('problem' in urlCheck) return notAsked(url, urlSource, urlCheck.problem, urlCheck.error);
  if (!issuerDer) return notAsked(url, urlSource, 'issuer_unknown', 'the issuer of the certificate is neither in the presented chain nor in the CA file: no CertID to ask about');

  let request;
  try {
    request = buildOcspRequest(leafDer, issuerDer);
  } catch (error) {
    return notAsked(url, urlSource, 'issuer_unknown', messageOf(error));
  }
  const now = options.now ?? Date.now;
  const maxAgeMs = Math.max(0, (options.cacheMaxAgeSeconds ?? DEFAULT_RESPONDER_CACHE_MAX_AGE_SECONDS) * 1000);
  const { certId } = request;
  const answers = options.answers ?? localAnswers(options.cache ?? sharedAnswerCache, options.lookup);
  const destinations = options.destinations ?? DEFAULT_DESTINATIONS;
  const reply = await answers({
    // The guard's and the destination rules' verdicts depend on the policy: answers under different ones are not shared.
    key: [url, options.allowLinkLocal === true ? 'll' : '-', destinationsKey(destinations), options.ipProtocol ?? 'any', routeKey(options.route), certId.hash, certId.issuerKeyHash, certId.serialNumber].join('|'),
    url,
    request: request.der,
    leafDer,
    issuerDer,
    deadlineMs: options.deadlineMs,
    allowHttps: options.allowHttps === true,
    allowLinkLocal: options.allowLinkLocal === true,
    destinations,
    ipProtocol: options.ipProtocol ?? 'any',
    route: options.route,
    maxAgeMs,
    clockSkewSeconds: options.clockSkewSeconds,
    nowMs: now(),
  });
  const source = reply.source;
  if (reply.answer === null) {
    return {
      ...notAsked(url, urlSource, 'timeout', `the answer of ${url} (requested by another probe) did not arrive within this probe's budget`),
      source,
    };
  }
  const waited = reply.answer;
  const outcome = waited.outcome;
  const base = {
    url,
    urlSource,
    method: outcome.method,
    source,
    durationSeconds: outcome.durationSeconds,
    fetchedAtMs: waited.fetchedAtMs,
    httpStatus: outcome.httpStatus,
  };
  if (!outcome.ok) return { ...base, up: false, problems: [outcome.problem], error: outcome.error, verdict: null };
  const verdict = verifyOcspResponse(outcome.der, leafDer, issuerDer, { now: new Date(now()), clockSkewSeconds: options.clockSkewSeconds });
  const problems: ResponderProblem[] = [...verdict.problems];
  return {
    ...base,
    up: verdict.valid,
    problems,
    error: verdict.valid ? null : describeInvalid(url, verdict),
    verdict,
  };
}

/** The module's override first, else the first AIA OCSP URL this client can ask (http, or https when allowed), else the first one. */
function chooseUrl(leafDer: Uint8Array, override: string | null, allowHttps: boolean): { url: string; urlSource: 'aia' | 'config' } | null {
  if (override) return { url: override, urlSource: 'config' };
  let urls: readonly string[];
  try {
    urls = readCertificateInfo(leafDer).ocspUrls;
  } catch {
    return null;
  }
  const usable = urls.find((u) => !('problem' in checkResponderUrl(u, allowHttps)));
  const url = usable ?? urls[0];
  return url ? { url, urlSource: 'aia' } : null;
}

function notAsked(url: string | null, urlSource: ResponderResult['urlSource'], problem: ResponderProblem, error: string): ResponderResult {
  return {
    url,
    urlSource,
    method: null,
    up: false,
    source: null,
    durationSeconds: null,
    fetchedAtMs: null,
    httpStatus: null,
    problems: [problem],
    error,
    verdict: null,
  };
}

function describeInvalid(url: string, verdict: OcspVerdict): string {
  const status = verdict.response?.responseStatus;
  const detail = verdict.parseError ? `: ${verdict.parseError.message}` : status && status !== 'successful' ? ` (responseStatus ${status})` : '';
  return `the answer of ${url} is not valid: ${verdict.problems.join(', ')}${detail}`;
}


export interface ChainCheckOptions extends Omit<ResponderCheckOptions, 'urlOverride'> {
  /** Certificates of the module's CA file: issuers of the last intermediate, usually roots. */
  caCertificates?: readonly Uint8Array[];
}

/**
 * The OCSP status of every intermediate in `chainDer` (index 0 is the leaf), each from its issuer's
 * responder (its own AIA OCSP URL). The issuer is a later certificate of the presented chain or one
 * from the CA file. Self-signed certificates (roots sent along) are skipped: nothing revokes a root
 * by OCSP. The leaf's `responder_url` override never applies here.
 */
export async function checkChainResponders(chainDer: readonly Uint8Array[], options: ChainCheckOptions): Promise<ChainResponderResult[]> {
  const checks: Promise<ChainResponderResult>[] = [];
  for (let depth = 1; depth < chainDer.length; depth++) {
    const certDer = chainDer[depth]!;
    let subject: string;
    try {
      const info = readCertificateInfo(certDer);
      if (isIssuedBy(info, info)) continue; // a self-signed root
      subject = info.subject;
    } catch {
      continue; // unreadable: reported by the chain verification, nothing to ask about
    }
    let issuerDer = findIssuer(certDer, chainDer.slice(depth + 1));
    let issuerSource: ChainResponderResult['issuerSource'] = issuerDer ? 'chain' : null;
    if (!issuerDer) {
      issuerDer = findIssuer(certDer, options.caCertificates ?? []);
      if (issuerDer) issuerSource = 'ca_file';
    }
    checks.push(
      checkResponder(certDer, issuerDer, { ...options, urlOverride: null }).then((responder) => ({ depth, subject, issuerSource, responder })),
    );
  }
  return Promise.all(checks);
}
