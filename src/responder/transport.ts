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
 *
 * Through the module's proxy (`proxy_url`, unless `no_proxy` matches the URL's host): http:// URLs
 * are asked in absolute form (`GET http://ocsp.example/… HTTP/1.1` to the proxy, RFC 9112 §3.2.2),
 * https:// ones through a CONNECT tunnel (src/net/proxy.ts). The proxy resolves names then, so the
 * guard and the destination rules judge the URL's host as written: an IP literal fully, a name by
 * the allowlist's name patterns only (never by the address it will reach).
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import * as tls from 'node:tls';
import { addressRefusal } from '../net/guard.js';
import { connectToProxy, openTunnel, proxyFor, ProxyError, type ConnectionRoute, type ProxyRoute } from '../net/proxy.js';
import { DEFAULT_DESTINATIONS, destinationRefusal, type ResponderDestinations } from './destinations.js';
import { resolveAddresses, ResolveError, systemLookup, type IpProtocol, type LookupFn } from '../net/resolve.js';
import { messageWithCode } from '../util/errors.js';
import { VERSION } from '../version.js';
import type { TransportProblem } from './types.js';

/** What every HTTP fetch of a module (responder queries, the caIssuers fetch) obeys, wherever it starts. */
export interface FetchPolicy {
  /** The module's allow_link_local: lets the guard pass link-local / metadata addresses. */
  allowLinkLocal?: boolean;
  /** Where requests may go (destinations.ts); default {@link DEFAULT_DESTINATIONS} (no allowlist, loopback refused). */
  destinations?: ResponderDestinations;
  /** The module's ip_protocol: the address family a URL's name resolves to. Default any. */
  ipProtocol?: IpProtocol;
  lookup?: LookupFn;
  /** The module's proxy, no_proxy and source_ip_address; absent → direct from the system's address. */
  route?: ConnectionRoute;
}

export interface HttpRequestOptions extends FetchPolicy {
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
  const proxy = proxyFor(options.route ?? {}, host, portOf(url));
  if (proxy && isIP(host) === 0) return judgeAndSend(host, host, options, proxy);
  let address: string;
  try {
    const [first] = await resolveAddresses(host, options.ipProtocol ?? 'any', false, options.deadlineMs, options.lookup ?? systemLookup);
    address = first!.address;
  } catch (error) {
    const timedOut = error instanceof ResolveError && error.code === 'ERR_DNS_TIMEOUT';
    return { ok: false, problem: timedOut ? 'timeout' : 'dns', error: `${options.what} ${url.host}: ${messageWithCode(error)}`, httpStatus: null, stage: 'resolve' };
  }
  return judgeAndSend(host, address, options, proxy);
}

/** The guard and the destination rules on `address` (the name itself when a proxy resolves it), then the request. */
function judgeAndSend(host: string, address: string, options: HttpRequestOptions, proxy: ProxyRoute | null): Promise<HttpOutcome> | HttpOutcome {
  const { url } = options;
  const refusal = addressRefusal(address, { allowLinkLocal: options.allowLinkLocal === true });
  if (refusal) return { ok: false, problem: 'blocked', error: `${options.what} ${url.host}: ${refusal}`, httpStatus: null, stage: 'resolve' };
  const notAllowed = destinationRefusal(host, address, portOf(url), options.destinations ?? DEFAULT_DESTINATIONS);
  if (notAllowed) return { ok: false, problem: 'not_allowed', error: `${options.what} ${options.urlText}: ${notAllowed}`, httpStatus: null, stage: 'resolve' };
  const remainingMs = options.deadlineMs - Date.now();
  if (remainingMs <= 0) {
    return { ok: false, problem: 'timeout', error: `no time left in the probe's budget to ask ${options.urlText}`, httpStatus: null, stage: 'send' };
  }
  return proxy ? sendThroughProxy(proxy, options, remainingMs) : send(address, options, remainingMs);
}

/**
 * Through `proxy`: http:// in absolute form over a connection to the proxy, https:// over a CONNECT
 * tunnel to the URL's host (TLS verified against the host's name as usual).
 */
async function sendThroughProxy(proxy: ProxyRoute, options: HttpRequestOptions, timeoutMs: number): Promise<HttpOutcome> {
  const { url } = options;
  const localAddress = options.route?.localAddress ?? null;
  if (url.protocol !== 'https:') {
    return send(proxy.host, { ...options, path: `${url.protocol}//${url.host}${options.path}` }, timeoutMs, {
      via: proxy,
      connect: () => connectToProxy(proxy, localAddress),
      headers: proxy.authorization ? { 'Proxy-Authorization': proxy.authorization } : {},
    });
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let tunnel: Socket;
  try {
    tunnel = await openTunnel({ proxy, host, port: portOf(url), deadlineMs: Math.min(options.deadlineMs, Date.now() + timeoutMs), localAddress });
  } catch (error) {
    const timedOut = error instanceof ProxyError && error.code === 'ERR_PROXY_TIMEOUT';
    return { ok: false, problem: timedOut ? 'timeout' : 'connect', error: `asking ${options.urlText}: ${messageWithCode(error)}`, httpStatus: null, stage: 'send' };
  }
  const remainingMs = Math.max(1, options.deadlineMs - Date.now());
  return send(host, options, remainingMs, {
    via: proxy,
    connect: () => {
      const secure = tls.connect({ socket: tunnel, ...(isIP(host) === 0 ? { servername: host } : {}) });
      // openTunnel hands the socket over paused; TLS reads it from now on.
      tunnel.resume();
      return secure;
    },
    headers: {},
  });
}

/** How {@link send} reaches the server when not directly: the connection and headers a proxy needs. */
interface Relay {
  via: ProxyRoute;
  connect: () => Socket;
  headers: Record<string, string>;
}

type Failure = Extract<HttpOutcome, { ok: false }>;

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function send(address: string, options: HttpRequestOptions, timeoutMs: number, relay?: Relay): Promise<HttpOutcome> {
  const { url, method, path, maxBytes } = options;
  const label = `${options.what} ${options.urlText}${relay ? ` (through proxy ${relay.via.shown})` : ''}`;
  const failed = (problem: TransportProblem, error: string, httpStatus: number | null): Failure => ({ ok: false, problem, error, httpStatus, stage: 'send' });
  const isHttps = url.protocol === 'https:';
  const port = portOf(url);
  const headers: Record<string, string | number> = {
    Host: url.host,
    Accept: options.accept,
    'User-Agent': `ocsp-stapling-exporter/${VERSION}`,
    Connection: 'close',
    ...relay?.headers,
  };
  if (options.body) {
    headers['Content-Type'] = options.body.contentType;
    headers['Content-Length'] = options.body.bytes.length;
  }
  const localAddress = options.route?.localAddress ?? null;
  const requestOptions: https.RequestOptions = relay
    ? // The connection is made here (to the proxy, or a tunnel through it): no agent, no pooling.
      { host: address, port: relay.via.port, method, path, headers, createConnection: relay.connect }
    : {
        host: address,
        port,
        method,
        path,
        headers,
        // A fresh connection to the address the guard judged: no pooling, no second resolution.
        agent: false,
        ...(localAddress ? { localAddress, family: isIP(localAddress) } : {}),
      };
  if (!relay && isHttps && isIP(url.hostname.replace(/^\[(.*)\]$/, '$1')) === 0) requestOptions.servername = url.hostname;

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
    // Over a relay the connection is already TLS where it must be: the request itself is plain HTTP on it.
    const req = (isHttps && !relay ? https : http).request(requestOptions, (res) => {
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
