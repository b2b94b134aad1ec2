/**
 * HTTP proxies (module `proxy_url`): the URL parsed into plain data that crosses worker threads,
 * and the CONNECT tunnel (RFC 9110 §9.3.6) the probe's TLS handshake and the responder's https
 * requests run through. An `https://` proxy is reached over TLS first (verified against Node's
 * store, or the module's `proxy_ca_file`), then CONNECT runs inside it. The proxy's answer header is
 * bounded (16 KiB) and so is every wait (the caller's deadline); whatever the proxy answers instead
 * of a 2xx is a {@link ProxyError} carrying its status line, cut short and escaped, because it is
 * text from the far side shown in logs and `check` reports.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { CodedError, messageWithCode } from '../util/errors.js';
import { escapeForTerminal, excerptOf } from '../util/text.js';
import { formatHostPort } from './host.js';
import { bypassesProxy } from './no-proxy.js';

export type ProxyErrorCode =
  | 'ERR_PROXY_URL'
  | 'ERR_PROXY_CONNECT'
  | 'ERR_PROXY_TLS'
  | 'ERR_PROXY_TIMEOUT'
  | 'ERR_PROXY_CLOSED'
  | 'ERR_PROXY_TOO_LARGE'
  | 'ERR_PROXY_MALFORMED'
  | 'ERR_PROXY_STATUS';

export class ProxyError extends CodedError<ProxyErrorCode> {
  override readonly name = 'ProxyError';
  /** The proxy's HTTP status when it answered one (ERR_PROXY_STATUS); else null. */
  readonly status: number | null;

  constructor(code: ProxyErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(code, message, options);
    this.status = options.status ?? null;
  }
}

/** A proxy as a module holds it: plain data (structured-clone safe), credentials already encoded. */
export interface ProxyRoute {
  protocol: 'http:' | 'https:';
  /** Host name or IP literal, IPv6 without brackets. */
  host: string;
  port: number;
  /** `Basic …` from the URL's userinfo (RFC 7617), sent as Proxy-Authorization; null without userinfo. */
  authorization: string | null;
  /** The URL with the password replaced by `***`, for messages and logs. */
  shown: string;
  /** PEM CAs an https:// proxy's certificate must chain to (`proxy_ca_file`); null → Node's default store. */
  caPem?: string | null;
}

/** Longest answer header to CONNECT read before giving up: real proxies send a few hundred bytes. */
export const MAX_PROXY_HEADER_BYTES = 16 * 1024;
/** How much of the proxy's status line (or of what it sent instead) an error message shows. */
const MAX_SHOWN_CHARS = 200;

/**
 * `http://[user:password@]host[:port][/]` or `https://…`; a bare `host:port` is taken as http://
 * (as curl and Go read HTTPS_PROXY). The port defaults to the scheme's (80, 443). Userinfo is
 * percent-decoded. Throws ProxyError ERR_PROXY_URL saying what is wrong, never echoing a password.
 */
export function parseProxyUrl(text: string): ProxyRoute {
  const trimmed = text.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ProxyError('ERR_PROXY_URL', `${JSON.stringify(maskPassword(trimmed))} is not a URL (e.g. http://proxy.example.com:3128)`);
  }
  const shown = maskedUrl(url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProxyError('ERR_PROXY_URL', `${shown}: ${url.protocol.replace(/:$/, '')} proxies are not supported (use http:// or https://, which speak CONNECT)`);
  }
  if (url.hostname === '') throw new ProxyError('ERR_PROXY_URL', `${shown} has no host`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new ProxyError('ERR_PROXY_URL', `${shown}: a proxy URL has no path, query or fragment (scheme, optional user:password@, host and port only)`);
  }
  let authorization: string | null = null;
  if (url.username !== '' || url.password !== '') {
    let user: string;
    let password: string;
    try {
      user = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      throw new ProxyError('ERR_PROXY_URL', `${shown}: the user or password is not valid percent-encoding`);
    }
    // RFC 7617 §2: the user-id cannot contain a colon; control characters are not allowed in either.
    if (user.includes(':') || /[\x00-\x1f\x7f]/.test(user + password)) {
      throw new ProxyError('ERR_PROXY_URL', `${shown}: the user may not contain ":" and neither user nor password control characters (RFC 7617 §2)`);
    }
    authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }
  const protocol = url.protocol;
  return {
    protocol,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port),
    authorization,
    shown,
  };
}

function maskedUrl(url: URL): string {
  const user = url.username === '' ? '' : `${url.username}${url.password === '' ? '' : ':***'}@`;
  return `${url.protocol}//${user}${url.host}`;
}

/** `user:secret@host` → `user:***@host`, for text that did not even parse as a URL. */
function maskPassword(text: string): string {
  return text.replace(/^([^/]*\/\/)?([^:@/]*):[^@/]*@/, (_, scheme: string | undefined, user: string) => `${scheme ?? ''}${user}:***@`);
}

/** Connection options every connection to the proxy gets (the tunnel here, the responder's absolute-form requests). */
export function proxyConnectOptions(proxy: ProxyRoute, localAddress?: string | null): net.NetConnectOpts & tls.ConnectionOptions {
  return {
    host: proxy.host,
    port: proxy.port,
    ...(localAddress ? { localAddress, family: net.isIP(localAddress) } : {}),
    ...(proxy.protocol === 'https:'
      ? { ...(net.isIP(proxy.host) ? {} : { servername: proxy.host }), ...(proxy.caPem ? { ca: proxy.caPem } : {}) }
      : {}),
  };
}

/** A connection to the proxy itself: TCP for http://, TLS (verified) for https://. */
export function connectToProxy(proxy: ProxyRoute, localAddress?: string | null): net.Socket {
  const options = proxyConnectOptions(proxy, localAddress);
  return proxy.protocol === 'https:' ? tls.connect(options) : net.connect(options);
}

export interface TunnelRequest {
  proxy: ProxyRoute;
  /** Where the tunnel goes: a name (the proxy resolves it) or an IP literal. */
  host: string;
  port: number;
  /** Unix ms by which the proxy must have answered 2xx. */
  deadlineMs: number;
  /** Bind the connection to the proxy to this local IP (module `source_ip_address`). */
  localAddress?: string | null;
}

/** The proxy's text as a message may show it: first line only, bounded, control characters escaped. */
function shownText(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  return escapeForTerminal(excerptOf(firstLine, MAX_SHOWN_CHARS));
}

/** Offset just past the blank line ending the header (CRLF CRLF, or bare LF LF as RFC 9112 §2.2 lets recipients accept); -1 when not yet. */
function headerEnd(bytes: Buffer): number {
  const crlf = bytes.indexOf('\r\n\r\n');
  const lf = bytes.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return -1;
  if (crlf < 0) return lf + 2;
  if (lf < 0) return crlf + 4;
  return Math.min(crlf + 4, lf + 2);
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?\r?$/;

/**
 * A connection through `proxy` to `host:port`: the socket (TLS to an https:// proxy) once the proxy
 * answered 2xx, positioned just after that answer's header (bytes the server sent right after it,
 * such as an SMTP greeting, are put back for the next reader). It comes paused, so those bytes wait
 * for the reader: attach it, then call `resume()` in the same tick. Rejects with a ProxyError otherwise.
 */
export function openTunnel(request: TunnelRequest): Promise<net.Socket> {
  const { proxy } = request;
  const authority = formatHostPort(request.host, request.port);
  const asked = `proxy ${proxy.shown}: CONNECT ${authority}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    let received = Buffer.alloc(0);
    let socket: net.Socket | undefined;
    const fail = (error: ProxyError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      reject(error);
    };
    const remainingMs = request.deadlineMs - Date.now();
    const timer = setTimeout(() => {
      const sofar = received.length > 0 ? ` (it had sent ${received.length} bytes: ${shownText(received)})` : '';
      fail(new ProxyError('ERR_PROXY_TIMEOUT', `${asked}: no answer within the probe's budget${sofar}`));
    }, Math.max(0, remainingMs));
    if (remainingMs <= 0) return;
    try {
      socket = connectToProxy(proxy, request.localAddress);
    } catch (error) {
      fail(new ProxyError('ERR_PROXY_CONNECT', `${asked}: cannot connect to the proxy: ${messageWithCode(error)}`, { cause: error }));
      return;
    }
    let connected = false;
    const onConnected = (): void => {
      connected = true;
      const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
      if (proxy.authorization) lines.push(`Proxy-Authorization: ${proxy.authorization}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    };
    socket.once(proxy.protocol === 'https:' ? 'secureConnect' : 'connect', onConnected);
    const onError = (error: Error): void => {
      const tlsFailed = proxy.protocol === 'https:' && !connected;
      const code = tlsFailed ? 'ERR_PROXY_TLS' : 'ERR_PROXY_CONNECT';
      const what = connected ? 'the connection to the proxy failed' : tlsFailed ? 'cannot connect to the proxy over TLS' : 'cannot connect to the proxy';
      fail(new ProxyError(code, `${asked}: ${what}: ${messageWithCode(error)}`, { cause: error }));
    };
    const onClose = (): void => {
      const sofar = received.length > 0 ? `after ${received.length} bytes of its answer: ${shownText(received)}` : 'without answering';
      fail(new ProxyError('ERR_PROXY_CLOSED', `${asked}: the proxy closed the connection ${sofar}`));
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = headerEnd(received);
      if (end < 0) {
        if (received.length > MAX_PROXY_HEADER_BYTES) {
          fail(new ProxyError('ERR_PROXY_TOO_LARGE', `${asked}: the proxy's answer header exceeds ${MAX_PROXY_HEADER_BYTES} bytes (it begins: ${shownText(received)})`));
        }
        return;
      }
      if (end > MAX_PROXY_HEADER_BYTES) {
        fail(new ProxyError('ERR_PROXY_TOO_LARGE', `${asked}: the proxy's answer header exceeds ${MAX_PROXY_HEADER_BYTES} bytes (it begins: ${shownText(received)})`));
        return;
      }
      const header = received.subarray(0, end);
      const statusLine = header.toString('latin1').split('\n', 1)[0]!;
      const match = STATUS_LINE.exec(statusLine);
      if (!match) {
        fail(new ProxyError('ERR_PROXY_MALFORMED', `${asked}: the proxy's answer is not an HTTP/1.x status line: ${shownText(header)}`));
        return;
      }
      const status = Number(match[1]);
      if (status < 200 || status > 299) {
        fail(new ProxyError('ERR_PROXY_STATUS', `${asked}: the proxy answered ${shownText(header)}${statusHint(status, proxy)}`, { status }));
        return;
      }
      // RFC 9110 §9.3.6: a 2xx to CONNECT has no content; the bytes after the header are the server's.
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
      const rest = received.subarray(end);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.once('close', onClose);
  });
}

/** What an SRE checks first for the statuses proxies answer CONNECT with. */
function statusHint(status: number, proxy: ProxyRoute): string {
  if (status === 407) {
    return proxy.authorization
      ? ' (the proxy refused the credentials of the proxy URL)'
      : ' (the proxy wants credentials: put user:password@ in the proxy URL)';
  }
  if (status === 403) return ' (the proxy refuses this destination: check its ACLs, e.g. the ports it allows CONNECT to)';
  if (status === 502 || status === 503 || status === 504) return ' (the proxy could not reach the target)';
  return '';
}

/** A module's proxy settings, as the probe and the responder client read them. */
export interface ProxySettings {
  proxy?: ProxyRoute | null;
  /** no_proxy entries (src/net/no-proxy.ts). */
  noProxy?: readonly string[];
}

/** The proxy a connection to `host:port` goes through under `settings`; null: direct (none set, or no_proxy matches). */
export function proxyFor(settings: ProxySettings, host: string, port: number): ProxyRoute | null {
  if (!settings.proxy) return null;
  return settings.noProxy && bypassesProxy(settings.noProxy, host, port) ? null : settings.proxy;
}

/** How a module's connections go out: its proxy settings and `source_ip_address`. Plain data (crosses threads). */
export interface ConnectionRoute extends ProxySettings {
  /** Bind outgoing connections (to the target, or to the proxy) to this local IP; null → the system's choice. */
  localAddress?: string | null;
}

/** A short text of `route` for cache keys (answers fetched one way are not reused another); credentials only as a hash. */
export function routeKey(route: ConnectionRoute | undefined): string {
  if (!route) return '-';
  const proxy = route.proxy
    ? `${route.proxy.protocol}//${formatHostPort(route.proxy.host, route.proxy.port)}${route.proxy.authorization ? `+${createHash('sha256').update(route.proxy.authorization).digest('hex').slice(0, 16)}` : ''}`
    : '-';
  return `${proxy};${(route.noProxy ?? []).join(',')};${route.localAddress ?? '-'}`;
}
