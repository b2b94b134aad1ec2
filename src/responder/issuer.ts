/**
 * Fetching a leaf's issuer that the server did not send (module `fetch_issuer`, opt-in): the
 * leaf's AIA caIssuers URL (RFC 5280 §4.2.2.1), asked over plain HTTP by the same guarded and
 * destination-checked (global.responder_allowlist, loopback and the exporter's own sockets),
 * deadline-bound, never-redirected request as responder queries (transport.ts), its body capped
 * at 64 KiB and read as a DER certificate, a PKCS#7 certs-only bundle or PEM. A fetched
 * certificate is used only when it really issued the leaf (name AND signature, `findIssuer`): a
 * URL chosen by whoever controls the probed server cannot slip in a certificate of its choice.
 * Fetches are cached per URL (bounded, for the server's Cache-Control max-age when it gives one,
 * at most a day; failures for 30 s) and shared by concurrent probes of one thread (single-flight).
 * Nothing here throws.
 */
import { routeKey } from '../net/proxy.js';
import { withDeadline } from '../util/deadline.js';
import { messageOf } from '../util/errors.js';
import { findIssuer, readCertificateInfo } from '../x509/certificate.js';
import { decodeIssuerCertificates } from '../x509/input.js';
import { AnswerCache, DEFAULT_FAILURE_TTL_MS } from './cache.js';
import { destinationsKey } from './destinations.js';
import { httpRequest, type FetchPolicy } from './transport.js';
import type { TransportProblem } from './types.js';
import { judgeHttpUrl } from './url.js';

/** RFC 5280 §4.2.2.1 bodies are one certificate or a small bundle; real ones are 1–5 KiB. */
export const MAX_ISSUER_BYTES = 64 * 1024;
/** How long a fetched issuer is reused at most: issuers change rarely, but do change. */
export const MAX_ISSUER_CACHE_AGE_MS = 24 * 3_600_000;

/** Why no issuer came of the fetch. */
export type IssuerFetchProblem =
  | TransportProblem
  /** The body is not a certificate, a PKCS#7 bundle or PEM. */
  | 'not_a_certificate'
  /** Certificates came, but none of them issued the leaf (name and signature). */
  | 'not_the_issuer';

export interface IssuerFetch {
  url: string;
  /** `network`: fetched by this probe; `cache`: an earlier fetch; `shared`: a fetch in flight. */
  source: 'network' | 'cache' | 'shared';
  /** The issuer, verified to have signed the leaf; null with a problem otherwise. */
  issuerDer: Uint8Array | null;
  problem: IssuerFetchProblem | null;
  error: string | null;
}

export interface IssuerFetchOptions extends FetchPolicy {
  deadlineMs: number;
  allowHttps?: boolean;
  now?: () => number;
  cache?: AnswerCache<Fetched>;
}

/** What one URL served: the certificates in it, or why there are none. */
interface Fetched {
  certificates: Uint8Array[];
  problem: IssuerFetchProblem | null;
  error: string | null;
}

/** The per-thread cache of fetched issuer bodies, by URL and guard policy. */
export const sharedIssuerCache = new AnswerCache<Fetched>({ maxEntries: 1024, maxBytes: 8 * 1024 * 1024 });

/** The caIssuers URL this client can ask (http, https when allowed): the first usable one. */
function chooseUrl(leafDer: Uint8Array, allowHttps: boolean): string | null {
  let urls: readonly string[];
  try {
    urls = readCertificateInfo(leafDer).caIssuersUrls;
  } catch {
    return null;
  }
  return urls.find((url) => judgeHttpUrl(url, allowHttps).ok) ?? urls[0] ?? null;
}

/** `Cache-Control: max-age=N` → ms, capped at a day; a day when absent. */
function lifetimeMs(cacheControl: string | null): number {
  const match = cacheControl ? /(?:^|[,\s])max-age=(\d{1,10})(?:$|[,\s])/i.exec(cacheControl) : null;
  return match ? Math.min(Number(match[1]) * 1000, MAX_ISSUER_CACHE_AGE_MS) : MAX_ISSUER_CACHE_AGE_MS;
}

async function fetchOnce(url: string, options: IssuerFetchOptions): Promise<{ fetched: Fetched; lifetimeMs: number }> {
  const failed = (problem: IssuerFetchProblem, error: string) => ({ fetched: { certificates: [], problem, error }, lifetimeMs: DEFAULT_FAILURE_TTL_MS });
  const judged = judgeHttpUrl(url, options.allowHttps === true);
  if (!judged.ok) {
    const why = judged.problem === 'https_not_allowed' ? 'is https, refused unless the module sets responder_allow_https: true' : 'is not an absolute http:// URL with a host';
    return failed(judged.problem === 'https_not_allowed' ? 'https_not_allowed' : 'bad_url', `caIssuers URL ${JSON.stringify(url)} ${why}`);
  }
  const outcome = await httpRequest({
    url: judged.url,
    urlText: url,
    what: 'caIssuers URL',
    method: 'GET',
    path: `${judged.url.pathname}${judged.url.search}`,
    accept: 'application/pkix-cert, application/pkcs7-mime, */*',
    deadlineMs: options.deadlineMs,
    maxBytes: MAX_ISSUER_BYTES,
    allowLinkLocal: options.allowLinkLocal,
    destinations: options.destinations,
    ipProtocol: options.ipProtocol,
    lookup: options.lookup,
    route: options.route,
    redirectHint: 'have the server send its intermediate, or put it in the module ca_file',
  });
  if (!outcome.ok) return failed(outcome.problem, outcome.error);
  try {
    const certificates = decodeIssuerCertificates(outcome.body);
    return { fetched: { certificates, problem: null, error: null }, lifetimeMs: lifetimeMs(outcome.cacheControl) };
  } catch (error) {
    return failed('not_a_certificate', `caIssuers URL ${url} served no certificate: ${messageOf(error)}`);
  }
}

/**
 * The issuer of `leafDer` from its caIssuers URL, or null when the leaf names none. Never throws;
 * a failed fetch is an {@link IssuerFetch} with a problem.
 */
export async function fetchIssuer(leafDer: Uint8Array, options: IssuerFetchOptions): Promise<IssuerFetch | null> {
  const url = chooseUrl(leafDer, options.allowHttps === true);
  if (!url) return null;
  const now = options.now ?? Date.now;
  const cache = options.cache ?? sharedIssuerCache;
  const destinations = options.destinations ? destinationsKey(options.destinations) : '';
  const key = [url, options.allowLinkLocal === true ? 'll' : '-', options.ipProtocol ?? 'any', destinations, routeKey(options.route)].join('|');
  try {
    const { source, entry } = cache.lookup(key, MAX_ISSUER_CACHE_AGE_MS, now(), async () => {
      const fetchedAtMs = now();
      const { fetched, lifetimeMs: ttl } = await fetchOnce(url, options);
      const sizeBytes = fetched.certificates.reduce((sum, der) => sum + der.length, 256);
      return { value: fetched, fetchedAtMs, expiresAtMs: fetchedAtMs + ttl, sizeBytes };
    });
    const waited = await withDeadline(entry, options.deadlineMs);
    if (!waited) return { url, source, issuerDer: null, problem: 'timeout', error: `caIssuers URL ${url} (fetched by another probe) did not answer within this probe's budget` };
    const fetched = waited.value;
    if (fetched.problem) return { url, source, issuerDer: null, problem: fetched.problem, error: fetched.error };
    const issuerDer = findIssuer(leafDer, fetched.certificates);
    if (!issuerDer) {
      const error = `caIssuers URL ${url} served ${fetched.certificates.length} certificate(s), none of which issued the leaf (name and signature)`;
      return { url, source, issuerDer: null, problem: 'not_the_issuer', error };
    }
    return { url, source, issuerDer, problem: null, error: null };
  } catch (error) {
    return { url, source: 'network', issuerDer: null, problem: 'connect', error: `internal error while fetching the issuer: ${messageOf(error)}` };
  }
}
