/**
 * The per-request half of `--web.config.file`, wired into the server: one onRequest hook that adds
 * the configured response headers, applies the client-certificate policy (src/server/client-cert.ts)
 * and checks basic auth (src/server/basic-auth.ts), and the hot reload that swaps all of it, and the
 * TLS context, on SIGHUP.
 */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { BasicAuthChecker, BcryptQueue, type BasicAuthOptions, type BasicAuthStats } from './basic-auth.js';
import { clientCertificateRefusal } from './client-cert.js';
import { httpsOptionsOf, type WebConfig } from './webconfig.js';

const TEXT = 'text/plain; charset=utf-8';

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
      const outcome = await checker.check(request.headers.authorization, request.ip);
      if (!outcome.ok) {
        request.log.debug({ url: request.url, remote: request.ip, reason: outcome.reason }, 'basic auth refused');
        if (outcome.status === 429) return reply.code(429).header('retry-after', '1').type(TEXT).send('Too Many Requests\n');
        return reply.code(401).header('www-authenticate', 'Basic').type(TEXT).send('Unauthorized\n');
      }
    }
    return undefined;
  };
}

export interface WebAccessOptions {
  /** Cache and queue sizes of the basic auth checker (the defaults of BasicAuthChecker when absent), kept across reloads. */
  basicAuth?: BasicAuthOptions;
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
  #checker: BasicAuthChecker;
  #check: AccessCheck | undefined;
  readonly #basicAuth: BasicAuthOptions;
  /**
   * One comparison queue for the process: a reload empties the credential caches, but the sources
   * that failed before it stay behind the others, so a flood running across the reload cannot
   * crowd out a scraper whose credentials now need a comparison again.
   */
  readonly #bcryptQueue: BcryptQueue;

  constructor(config: WebConfig, options: WebAccessOptions = {}) {
    this.#basicAuth = options.basicAuth ?? {};
    this.#bcryptQueue = new BcryptQueue(this.#basicAuth);
    this.#config = config;
    this.#checker = new BasicAuthChecker(config.basicAuthUsers, this.#basicAuth, this.#bcryptQueue);
    this.#check = accessCheck(config, this.#checker);
  }

  get config(): WebConfig {
    return this.#config;
  }

  /** The basic auth checker's counters since the last (re)load. */
  get basicAuthStats(): BasicAuthStats {
    return this.#checker.stats;
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
    this.#checker = new BasicAuthChecker(next.basicAuthUsers, this.#basicAuth, this.#bcryptQueue);
    this.#check = accessCheck(next, this.#checker);
    return null;
  }
}
