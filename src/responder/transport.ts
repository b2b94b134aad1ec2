/**
 * One plain HTTP request of the exporter's own, as every fetch a module makes needs it (the OCSP
 * exchange, the caIssuers fetch): the host resolved here under the module's ip_protocol and the
 * address judged by the address guard (src/net/guard.ts) before any connection, so a URL naming a
 * metadata service is refused like a `/probe` target, then judged by the destination rules
 * (destinations.ts: `global.responder_allowlist`, loopback and the exporter's own listen sockets
 * refused unless listed), so a certificate cannot aim the exporter at its own or internal services;
 * a fresh connection to exactly that address;
 * redirects never followed (whoever controls the first hop could send the exporter anywhere), a 3xx
 * is a `redirect` problem naming the Location; every wait ends at the caller's deadline and the body
 * is capped. Nothing here throws: failures are {@link TransportProblem}s.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { addressRefusal } from '../net/guard.js';
import { DEFAULT_DESTINATIONS, destinationRefusal, type ResponderDestinations } from './destinations.js';
import { resolveAddresses, ResolveError, systemLookup, type IpProtocol, type LookupFn } from '../net/resolve.js';
import { messageWithCode } from '../util/errors.js';
import { VERSION } from '../version.js';
import type { TransportProblem } from './types.js';

export interface HttpRequestOptions {
  /** A URL already checked by its caller (http://, or https:// when allowed). */
  url: URL;
  /** The URL as configured or found, for messages. */
  urlText: string;
  /** What is being asked, for messages: `responder`, `caIssuers URL`. */
  what: string;
  method: 'GET' | 'POST';
  /** Request target: path and query. */
  path: string;
  accept: string;
  body?: { contentType: string; bytes: Uint8Array };
  /** Unix ms by which the whole request must be over. */
  deadlineMs: number;
  maxBytes: number;
  allowLinkLocal?: boolean;
  /** Where requests may go; default {@link DEFAULT_DESTINATIONS} (no allowlist, loopback refused). */
  destinations?: ResponderDestinations;
  ipProtocol?: IpProtocol;
  lookup?: LookupFn;
  /** Said after a refused redirect: what to configure instead. */
  redirectHint: string;
}

export type HttpOutcome =
  | { ok: true; body: Uint8Array; httpStatus: number; contentType: string | null; cacheControl: string | null }
  | {
      ok: false;
      problem: TransportProblem;
      error: string;
      httpStatus: number | null;
      /** `resolve`: refused before a request was made (no address, blocked, not allowed); `send`: the request failed. */
      stage: 'resolve' | 'send';
    };

/** Resolves, guards and sends one request. Never throws. */
export async function httpRequest(options: HttpRequestOptions): Promise<HttpOutcome> {
  const { url } = options;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let address: string;
  try {
    const [first] = await resolveAddresses(host, options.ipProtocol ?? 'any', false, options.deadlineMs, options.lookup ?? systemLookup);
    address = first!.address;
  } catch (error) {
    const timedOut = error instanceof ResolveError && error.code === 'ERR_DNS_TIMEOUT';
    return { ok: false, problem: timedOut ? 'timeout' : 'dns', error: `${options.what} ${url.host}: ${messageWithCode(error)}`, httpStatus: null, stage: 'resolve' };
  }
  const refusal = addressRefusal(address, { allowLinkLocal: options.allowLinkLocal === true });
  if (refusal) return { ok: false, problem: 'blocked', error: `${options.what} ${url.host}: ${refusal}`, httpStatus: null, stage: 'resolve' };
  const notAllowed = destinationRefusal(host, address, portOf(url), options.destinations ?? DEFAULT_DESTINATIONS);
  if (notAllowed) return { ok: false, problem: 'not_allowed', error: `${options.what} ${options.urlText}: ${notAllowed}`, httpStatus: null, stage: 'resolve' };
  const remainingMs = options.deadlineMs - Date.now();
  if (remainingMs <= 0) {
    return { ok: false, problem: 'timeout', error: `no time left in the probe's budget to ask ${options.urlText}`, httpStatus: null, stage: 'send' };
  }
  return send(address, options, remainingMs);
}

type Failure = Extract<HttpOutcome, { ok: false }>;

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function send(address: string, options: HttpRequestOptions, timeoutMs: number): Promise<HttpOutcome> {
  const { url, method, path, maxBytes } = options;
  const label = `${options.what} ${options.urlText}`;
  const failed = (problem: TransportProblem, error: string, httpStatus: number | null): Failure => ({ ok: false, problem, error, httpStatus, stage: 'send' });
  const isHttps = url.protocol === 'https:';
  const port = portOf(url);
  const headers: Record<string, string | number> = {
    Host: url.host,
    Accept: options.accept,
    'User-Agent': `ocsp-stapling-exporter/${VERSION}`,
    Connection: 'close',
  };
  if (options.body) {
    headers['Content-Type'] = options.body.contentType;
    headers['Content-Length'] = options.body.bytes.length;
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
    const finish = (outcome: HttpOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish(failed('timeout', `${label} did not answer within the probe's budget (${timeoutMs} ms)`, null)),
      timeoutMs,
    );
    const req = (isHttps ? https : http).request(requestOptions, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        const location = res.headers.location;
        finish(failed('redirect', `${label} answered HTTP ${status} redirecting to ${location ?? '(no Location)'}; redirects are not followed (${options.redirectHint})`, status));
        return;
      }
      if (status !== 200) {
        finish(failed('http_status', `${label} answered HTTP ${status}`, status));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        finish(failed('too_large', `${label} announced ${declared} bytes, more than the ${maxBytes}-byte limit`, status));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          finish(failed('too_large', `${label} sent more than ${maxBytes} bytes`, status));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (!res.complete) return; // 'close' reports it
        const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : null;
        const cacheControl = typeof res.headers['cache-control'] === 'string' ? res.headers['cache-control'] : null;
        finish({ ok: true, body: new Uint8Array(Buffer.concat(chunks)), httpStatus: status, contentType, cacheControl });
      });
      res.on('error', (error) => finish(failed('connect', `reading the answer of ${options.urlText}: ${messageWithCode(error)}`, status)));
      res.on('close', () => {
        if (!res.complete) {
          finish(failed('connect', `${label} closed the connection before the whole answer`, status));
        }
      });
    });
    req.on('error', (error) => finish(failed('connect', `asking ${options.urlText}: ${messageWithCode(error)}`, null)));
    if (options.body) req.end(Buffer.from(options.body.bytes));
    else req.end();
  });
}
