/**
 * The per-request half of `--web.config.file`: extra response headers, the client-certificate
 * policies the TLS handshake cannot enforce by itself (RequireAnyClientCert, VerifyClientCertIfGiven,
 * client_allowed_sans) and HTTP basic auth (RFC 7617) against bcrypt hashes. bcrypt is slow on
 * purpose (~80 ms of CPU at cost 10 in pure JS), so, like exporter-toolkit, successful checks are
 * cached: a Prometheus scraping every 15 s pays for one comparison, not one per scrape. The cache is
 * keyed by an HMAC of user and password under a per-process random key, so neither the lookup's
 * timing nor the memory holds anything an attacker can use. Comparisons run one at a time
 * (exporter-toolkit holds a mutex too) with a bounded queue, so a password-guessing flood costs one
 * core at most and gets 429s beyond the queue, while already-verified scrapers skip the queue.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import pLimit from 'p-limit';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { httpsOptionsOf, type WebConfig, type WebTlsConfig } from './webconfig.js';

/**
 * A cost-10 hash of a random string nobody knows, compared against when the user does not exist,
 * so an unknown user takes as long to refuse as a wrong password (no user enumeration by timing).
 */
const UNKNOWN_USER_HASH = '$2y$10$d9rwriV7YgenubOBKoWNy.i2RDZ/ITe2mwBVDMGxGpXzcKyDY9Cm6';

/** bcrypt reads at most 72 bytes; longer passwords would match on their prefix alone, so they are refused. */
const BCRYPT_MAX_PASSWORD_BYTES = 72;

export type BasicAuthOutcome =
  | { ok: true; user: string; cached: boolean }
  | { ok: false; status: 401; reason: string }
  | { ok: false; status: 429; reason: string };

export interface BasicAuthStats {
  /** bcrypt comparisons actually run. */
  bcryptComparisons: number;
  /** Requests accepted from the cache without bcrypt. */
  cacheHits: number;
  /** Requests refused with 429 because the comparison queue was full. */
  queueRejections: number;
}

export interface BasicAuthOptions {
  /** Successful (user, password) pairs remembered; default 256. */
  cacheSize?: number;
  /** Comparisons allowed to wait behind the running one before 429; default 64. */
  maxQueued?: number;
}

/** `Basic base64(user:password)` → its parts; null when absent or malformed (RFC 7617 §2). */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | null {
  if (!header) return null;
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export class BasicAuthChecker {
  readonly #users: Map<string, string>;
  readonly #secret = randomBytes(32);
  readonly #cache = new Map<string, true>();
  readonly #cacheSize: number;
  readonly #maxQueued: number;
  readonly #limit = pLimit(1);
  readonly #stats: BasicAuthStats = { bcryptComparisons: 0, cacheHits: 0, queueRejections: 0 };

  constructor(users: Map<string, string>, options: BasicAuthOptions = {}) {
    this.#users = new Map(users);
    this.#cacheSize = options.cacheSize ?? 256;
    this.#maxQueued = options.maxQueued ?? 64;
  }

  get enabled(): boolean {
    return this.#users.size > 0;
  }

  get stats(): BasicAuthStats {
    return { ...this.#stats };
  }

  async check(authorization: string | undefined): Promise<BasicAuthOutcome> {
    const credentials = parseBasicAuthorization(authorization);
    if (!credentials) return { ok: false, status: 401, reason: authorization ? 'malformed Authorization header' : 'no credentials' };
    const { user, password } = credentials;
    const hash = this.#users.get(user);
    const key = createHmac('sha256', this.#secret).update(user).update('\u0000').update(password).digest('base64');
    if (hash !== undefined && this.#cache.has(key)) {
      // Refresh its place: the cache evicts the least recently used pair.
      this.#cache.delete(key);
      this.#cache.set(key, true);
      this.#stats.cacheHits++;
      return { ok: true, user, cached: true };
    }
    if (this.#limit.pendingCount >= this.#maxQueued) {
      this.#stats.queueRejections++;
      return { ok: false, status: 429, reason: 'too many password checks in progress' };
    }
    const tooLong = Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_PASSWORD_BYTES;
    const matched = await this.#limit(async () => {
      this.#stats.bcryptComparisons++;
      return bcrypt.compare(tooLong ? '' : password, hash ?? UNKNOWN_USER_HASH);
    });
    if (!matched || hash === undefined || tooLong) return { ok: false, status: 401, reason: 'wrong user name or password' };
    this.#cache.set(key, true);
    if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    return { ok: true, user, cached: false };
  }
}

/** `DNS:a, IP Address:1.2.3.4, URI:spiffe://x` (Node's `subjectaltname`) → the values. */
function subjectAltNameValues(text: string | undefined): string[] {
  if (!text) return [];
  const values: string[] = [];
  // Node quotes values containing separators as JSON strings.
  for (const m of text.matchAll(/(?:^|, )(?:DNS|IP Address|URI|email):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[1] ?? '';
    values.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return values;
}

function sameSan(presented: string, allowed: string): boolean {
  if (presented === allowed) return true;
  // IPv6 may be printed expanded or compressed; compare canonical forms.
  if (presented.includes(':') && allowed.includes(':') && !presented.includes('/') && !allowed.includes('/')) {
    try {
      return new URL(`http://[${presented}]`).hostname === new URL(`http://[${allowed}]`).hostname;
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Why the client certificate on `socket` does not satisfy the policy, or null when it does.
 * RequireAndVerifyClientCert is enforced by the handshake already; checked again here anyway.
 */
export function clientCertificateRefusal(socket: TLSSocket, policy: WebTlsConfig): string | null {
  const type = policy.clientAuthType;
  if (type === 'NoClientCert' || type === 'RequestClientCert') return null;
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  if (!presented) return type === 'VerifyClientCertIfGiven' ? null : 'a client certificate is required';
  if ((type === 'VerifyClientCertIfGiven' || type === 'RequireAndVerifyClientCert') && !socket.authorized) {
    return `client certificate not accepted: ${String(socket.authorizationError ?? 'not verified')}`;
  }
  if (policy.clientAllowedSans) {
    const sans = subjectAltNameValues(cert.subjectaltname);
    if (!sans.some((san) => policy.clientAllowedSans!.some((allowed) => sameSan(san, allowed)))) {
      return 'client certificate has none of the SANs in client_allowed_sans';
    }
  }
  return null;
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * The onRequest hook enforcing `config` on every route (pass it as `AppDeps.onRequest`); undefined
 * when the file asks for nothing per request. `checker` is exposed for tests and measurements.
 */
export function createAccessHook(config: WebConfig, checker = new BasicAuthChecker(config.basicAuthUsers)): onRequestHookHandler | undefined {
  const check = accessCheck(config, checker);
  return check && (async (request: FastifyRequest, reply: FastifyReply) => check(request, reply));
}

type AccessCheck = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** The per-request checks `config` asks for; undefined when it asks for none. */
function accessCheck(config: WebConfig, checker: BasicAuthChecker): AccessCheck | undefined {
  const headers = Object.entries(config.headers);
  const tlsPolicy = config.tls;
  const certPolicyApplies = tlsPolicy !== null && tlsPolicy.clientAuthType !== 'NoClientCert' && tlsPolicy.clientAuthType !== 'RequestClientCert';
  if (headers.length === 0 && !certPolicyApplies && !checker.enabled) return undefined;

  return async function webConfigAccess(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    for (const [name, value] of headers) reply.header(name, value);
    const socket = request.raw.socket as TLSSocket;
    if (certPolicyApplies && typeof socket.getPeerCertificate === 'function') {
      const refusal = clientCertificateRefusal(socket, tlsPolicy!);
      if (refusal) {
        request.log.debug({ url: request.url, remote: request.ip, refusal }, 'client certificate refused');
        return reply.code(403).header('connection', 'close').type(TEXT).send(`Forbidden: ${refusal}\n`);
      }
    }
    if (checker.enabled) {
      const outcome = await checker.check(request.headers.authorization);
      if (!outcome.ok) {
        request.log.debug({ url: request.url, remote: request.ip, reason: outcome.reason }, 'basic auth refused');
        if (outcome.status === 429) return reply.code(429).header('retry-after', '1').type(TEXT).send('Too Many Requests\n');
        return reply.code(401).header('www-authenticate', 'Basic').type(TEXT).send('Unauthorized\n');
      }
    }
    return undefined;
  };
}

/**
 * A web config in use that can be swapped on SIGHUP (certificate rotation, new users): new
 * connections get the new certificate, key, client CA and TLS versions through
 * `server.setSecureContext`, and every request after the swap is checked against the new users,
 * headers and SANs. Whether TLS is on, and the client_auth_type, are fixed when the server is
 * created (Node takes requestCert/rejectUnauthorized at construction), so a file changing them is
 * refused with a message saying a restart is needed; the running config stays.
 */
export class WebAccess {
  #config: WebConfig;
  #check: AccessCheck | undefined;

  constructor(config: WebConfig) {
    this.#config = config;
    this.#check = accessCheck(config, new BasicAuthChecker(config.basicAuthUsers));
  }

  get config(): WebConfig {
    return this.#config;
  }

  /** Spread into AppDeps. The hook is installed even when the first file needs none, so a reload can add basic auth. */
  deps(): { https: HttpsServerOptions | null; onRequest: onRequestHookHandler } {
    return {
      https: httpsOptionsOf(this.#config),
      onRequest: async (request: FastifyRequest, reply: FastifyReply) => this.#check?.(request, reply),
    };
  }

  /**
   * Applies `next` (already loaded and validated). `server` is the listening HTTP(S) server
   * (`app.server.server`). Returns why it was refused, or null when applied.
   */
  reload(next: WebConfig, server: unknown): string | null {
    const before = this.#config.tls;
    const after = next.tls;
    if ((before === null) !== (after === null)) {
      return `${after ? 'enabling' : 'disabling'} TLS needs a restart; keeping the running web config`;
    }
    if (before && after && before.clientAuthType !== after.clientAuthType) {
      return `changing client_auth_type (${before.clientAuthType} → ${after.clientAuthType}) needs a restart; keeping the running web config`;
    }
    if (after) {
      const tlsServer = server as Partial<Pick<TlsServer, 'setSecureContext'>> | null;
      if (typeof tlsServer?.setSecureContext !== 'function') return 'the server cannot swap its TLS context; keeping the running web config';
      const { cert, key, ca, minVersion, maxVersion, honorCipherOrder } = httpsOptionsOf(next)!;
      tlsServer.setSecureContext({ cert, key, ...(ca ? { ca } : {}), minVersion, maxVersion, honorCipherOrder });
    }
    this.#config = next;
    // A new checker: cached successes of removed users or changed passwords must not survive.
    this.#check = accessCheck(next, new BasicAuthChecker(next.basicAuthUsers));
    return null;
  }
}

/** What `buildApp` takes from a web config: `{ https, onRequest }` to spread into AppDeps. */
export function webServerDeps(config: WebConfig | null): { https: HttpsServerOptions | null; onRequest?: onRequestHookHandler } {
  if (!config) return { https: null };
  const hook = createAccessHook(config);
  return { https: httpsOptionsOf(config), ...(hook ? { onRequest: hook } : {}) };
}
