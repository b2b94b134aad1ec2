/**
 * One OCSP exchange over HTTP (RFC 6960 Appendix A, RFC 5019 §5): GET with the URL-encoded base64
 * of the DER request appended to the responder URL when that base64 is at most 255 bytes (the
 * form responders and CDNs cache), POST with `Content-Type: application/ocsp-request` otherwise.
 * Plain HTTP unless the caller allows HTTPS (OCSP answers are signed; RFC 5019 §5 expects HTTP).
 * The request itself is transport.ts's: resolved under the module's ip_protocol, guarded, never
 * redirected (point `responder_url` at the real responder instead), bounded by the deadline and
 * capped at 64 KiB. Nothing here throws: failures are {@link TransportProblem}s.
 */
import { MAX_OCSP_RESPONSE_BYTES } from '../ocsp/parse.js';
import { httpRequest, type FetchPolicy } from './transport.js';
import type { TransportProblem } from './types.js';
import { judgeResponderUrl } from './url.js';

/** RFC 5019 §5: GET only when the base64 of the request is at most 255 bytes. */
export const MAX_GET_BASE64_BYTES = 255;

export interface ExchangeOptions extends FetchPolicy {
  /** Absolute `http://` (or `https://` when allowed) responder URL. */
  url: string;
  /** DER OCSPRequest. */
  request: Uint8Array;
  /** Unix ms by which the whole exchange must be over (the probe's deadline). */
  deadlineMs: number;
  allowHttps?: boolean;
  /** Body size cap, bytes; default 64 KiB. */
  maxBytes?: number;
  /** Force POST even for small requests. */
  forcePost?: boolean;
}

export type ExchangeOutcome =
  | { ok: true; der: Uint8Array; method: 'GET' | 'POST'; httpStatus: number; durationSeconds: number; contentType: string | null }
  | {
      ok: false;
      problem: TransportProblem;
      error: string;
      method: 'GET' | 'POST' | null;
      httpStatus: number | null;
      durationSeconds: number;
    };

/**
 * Whether `url` is a URL this client can ask (the rules are src/responder/url.ts's), and the
 * problem when not (`bad_url`, `https_not_allowed`) in this client's wording.
 */
export function checkResponderUrl(url: string, allowHttps: boolean): { url: URL } | { problem: 'bad_url' | 'https_not_allowed'; error: string } {
  const judged = judgeResponderUrl(url, allowHttps);
  if (judged.ok) return { url: judged.url };
  switch (judged.problem) {
    case 'not_absolute':
      return { problem: 'bad_url', error: `responder URL ${JSON.stringify(url)} is not an absolute URL` };
    case 'https_not_allowed':
      return { problem: 'https_not_allowed', error: `responder URL ${url} is https, refused unless the module sets responder_allow_https: true` };
    case 'not_http':
      return { problem: 'bad_url', error: `responder URL ${url} is not http:// (${judged.url.protocol.replace(/:$/, '')} is not supported)` };
    case 'no_host':
      return { problem: 'bad_url', error: `responder URL ${url} has no host` };
    case 'has_query':
      return { problem: 'bad_url', error: `responder URL ${url} has a query string, which RFC 6960 Appendix A.1 leaves no place for (GET appends the request to the path, POST goes to the URL)` };
  }
}

/** The request target (path) of the GET form, or null when POST must be used. */
export function getRequestPath(url: URL, request: Uint8Array): string | null {
  const base64 = Buffer.from(request).toString('base64');
  // A query string cannot have a path segment appended after it (judgeResponderUrl refuses such URLs anyway).
  if (base64.length > MAX_GET_BASE64_BYTES || url.search !== '') return null;
  const base = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  // RFC 6960 Appendix A.1: {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.
  return base + encodeURIComponent(base64);
}

/** Asks the responder once. Never throws. */
export async function exchange(options: ExchangeOptions): Promise<ExchangeOutcome> {
  const startedMs = Date.now();
  const elapsed = (): number => (Date.now() - startedMs) / 1000;
  const checked = checkResponderUrl(options.url, options.allowHttps === true);
  if ('problem' in checked) return { ok: false, problem: checked.problem, error: checked.error, method: null, httpStatus: null, durationSeconds: elapsed() };
  const url = checked.url;
  const getPath = options.forcePost ? null : getRequestPath(url, options.request);
  const method = getPath === null ? 'POST' : 'GET';
  const outcome = await httpRequest({
    url,
    urlText: options.url,
    what: 'responder',
    method,
    // RFC 6960 A.1: POST to the URL's path (no query string: checkResponderUrl refused one).
    path: getPath ?? url.pathname,
    accept: 'application/ocsp-response',
    ...(method === 'POST' ? { body: { contentType: 'application/ocsp-request', bytes: options.request } } : {}),
    deadlineMs: options.deadlineMs,
    maxBytes: options.maxBytes ?? MAX_OCSP_RESPONSE_BYTES,
    allowLinkLocal: options.allowLinkLocal,
    destinations: options.destinations,
    ipProtocol: options.ipProtocol,
    lookup: options.lookup,
    route: options.route,
    redirectHint: 'set responder_url to the real responder',
  });
  if (outcome.ok) return { ok: true, der: outcome.body, method, httpStatus: outcome.httpStatus, durationSeconds: elapsed(), contentType: outcome.contentType };
  const sentWith = outcome.stage === 'resolve' ? null : method;
  return { ok: false, problem: outcome.problem, error: outcome.error, method: sentWith, httpStatus: outcome.httpStatus, durationSeconds: elapsed() };
}
