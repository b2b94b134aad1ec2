/**
 * One OCSP exchange over HTTP (RFC 6960 Appendix A, RFC 5019 §5): GET with the URL-encoded base64
 * of the DER request appended to the responder URL when that base64 is at most 255 bytes (the
 * form responders and CDNs cache), POST with `Content-Type: application/ocsp-request` otherwise.
 * The host is resolved here and the address judged by the probe guard (src/probe/guard.ts) before
 * any connection, so an AIA URL naming a metadata service is refused like a `/probe` target. Plain
 * HTTP unless the caller allows HTTPS (OCSP answers are signed; RFC 5019 §5 expects HTTP). Redirects
 * are never followed: an OCSP client that follows them lets whoever controls the first hop send the
 * exporter anywhere, so a 3xx is a `redirect` problem naming the Location (point `responder_url`
 * at the real responder instead). Every wait ends at the caller's deadline, every read is capped at
 * 64 KiB, and nothing here throws: failures are {@link TransportProblem}s.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { MAX_OCSP_RESPONSE_BYTES } from '../ocsp/parse.js';
import { addressRefusal } from '../net/guard.js';
import { resolveAddresses, ResolveError, systemLookup, type LookupFn } from '../net/resolve.js';
import { VERSION } from '../version.js';
import type { TransportProblem } from './types.js';
import { judgeResponderUrl } from './url.js';
import { messageWithCode } from '../util/errors.js';

/** RFC 5019 §5: GET only when the base64 of the request is at most 255 bytes. */
export const MAX_GET_BASE64_BYTES = 255;

export interface ExchangeOptions {
  /** Absolute `http://` (or `https://` when allowed) responder URL. */
  url: string;
  /** DER OCSPRequest. */
  request: Uint8Array;
  /** Unix ms by which the whole exchange must be over (the probe's deadline). */
  deadlineMs: number;
  allowHttps?: boolean;
  /** The module's allow_link_local: lets the guard pass link-local / metadata addresses. */
  allowLinkLocal?: boolean;
  lookup?: LookupFn;
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
  }
}

/** The request target (path) of the GET form, or null when POST must be used. */
export function getRequestPath(url: URL, request: Uint8Array): string | null {
  const base64 = Buffer.from(request).toString('base64');
  // A query string cannot have a path segment appended after it: POST instead.
  if (base64.length > MAX_GET_BASE64_BYTES || url.search !== '') return null;
  const base = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  // RFC 6960 Appendix A.1: {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.
  return base + encodeURIComponent(base64);
}

/** Asks the responder once. Never throws. */
export async function exchange(options: ExchangeOptions): Promise<ExchangeOutcome> {
  const startedMs = Date.now();
  const elapsed = (): number => (Date.now() - startedMs) / 1000;
  const fail = (problem: TransportProblem, error: string, method: 'GET' | 'POST' | null = null, httpStatus: number | null = null): ExchangeOutcome => ({
    ok: false,
    problem,
    error,
    method,
    httpStatus,
    durationSeconds: elapsed(),
  });

  const checked = checkResponderUrl(options.url, options.allowHttps === true);
  if ('problem' in checked) return fail(checked.problem, checked.error);
  const url = checked.url;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');

  let address: string;
  try {
    const [first] = await resolveAddresses(host, 'any', false, options.deadlineMs, options.lookup ?? systemLookup);
    address = first!.address;
  } catch (error) {
    const timedOut = error instanceof ResolveError && error.code === 'ERR_DNS_TIMEOUT';
    return fail(timedOut ? 'timeout' : 'dns', `responder ${url.host}: ${messageWithCode(error)}`);
  }
  const refusal = addressRefusal(address, { allowLinkLocal: options.allowLinkLocal === true });
  if (refusal) return fail('blocked', `responder ${url.host}: ${refusal}`);

  const getPath = options.forcePost ? null : getRequestPath(url, options.request);
  const method = getPath === null ? 'POST' : 'GET';
  const remainingMs = options.deadlineMs - Date.now();
  if (remainingMs <= 0) return fail('timeout', `no time left in the probe's budget to ask ${options.url}`, method);
  const outcome = await send(url, address, method, getPath ?? `${url.pathname}${url.search}`, options, remainingMs);
  if (outcome.ok) return { ...outcome, durationSeconds: elapsed() };
  return fail(outcome.problem, outcome.error, method, outcome.httpStatus);
}

type SendOutcome =
  | { ok: true; der: Uint8Array; method: 'GET' | 'POST'; httpStatus: number; contentType: string | null }
  | { ok: false; problem: TransportProblem; error: string; httpStatus: number | null };

function send(
  url: URL,
  address: string,
  method: 'GET' | 'POST',
  path: string,
  options: ExchangeOptions,
  timeoutMs: number,
): Promise<SendOutcome> {
  const maxBytes = options.maxBytes ?? MAX_OCSP_RESPONSE_BYTES;
  const isHttps = url.protocol === 'https:';
  const port = url.port === '' ? (isHttps ? 443 : 80) : Number(url.port);
  const headers: Record<string, string | number> = {
    Host: url.host,
    Accept: 'application/ocsp-response',
    'User-Agent': `ocsp-stapling-exporter/${VERSION}`,
    Connection: 'close',
  };
  if (method === 'POST') {
    headers['Content-Type'] = 'application/ocsp-request';
    headers['Content-Length'] = options.request.length;
  }
  const requestOptions: https.RequestOptions = {
    host: address,
    port,
    method,
    path,
    headers,
    // A fresh connection to the address the guard judged: no pooling, no second resolution.
    agent: false,
  };
  if (isHttps && isIP(url.hostname.replace(/^\[(.*)\]$/, '$1')) === 0) requestOptions.servername = url.hostname;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ ok: false, problem: 'timeout', error: `responder ${options.url} did not answer within the probe's budget (${timeoutMs} ms)`, httpStatus: null }),
      timeoutMs,
    );
    const req = (isHttps ? https : http).request(requestOptions, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        const location = res.headers.location;
        finish({
          ok: false,
          problem: 'redirect',
          error: `responder ${options.url} answered HTTP ${status} redirecting to ${location ?? '(no Location)'}; redirects are not followed (set responder_url to the real responder)`,
          httpStatus: status,
        });
        return;
      }
      if (status !== 200) {
        finish({ ok: false, problem: 'http_status', error: `responder ${options.url} answered HTTP ${status}`, httpStatus: status });
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        finish({ ok: false, problem: 'too_large', error: `responder ${options.url} announced ${declared} bytes, more than the ${maxBytes}-byte limit`, httpStatus: status });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          finish({ ok: false, problem: 'too_large', error: `responder ${options.url} sent more than ${maxBytes} bytes`, httpStatus: status });
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (!res.complete) return; // 'close' reports it
        const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : null;
        finish({ ok: true, der: new Uint8Array(Buffer.concat(chunks)), method, httpStatus: status, contentType });
      });
      res.on('error', (error) => finish({ ok: false, problem: 'connect', error: `reading the answer of ${options.url}: ${messageWithCode(error)}`, httpStatus: status }));
      res.on('close', () => {
        if (!res.complete) {
          finish({ ok: false, problem: 'connect', error: `responder ${options.url} closed the connection before the whole answer`, httpStatus: status });
        }
      });
    });
    req.on('error', (error) => finish({ ok: false, problem: 'connect', error: `asking ${options.url}: ${messageWithCode(error)}`, httpStatus: null }));
    if (method === 'POST') req.end(Buffer.from(options.request));
    else req.end();
  });
}
