/**
 * The serving half wired together: config store → sweeper (probe slots, see probeEndpointShare) → routes, on a
 * Fastify server with pino JSON logging. `buildApp` has no side effects beyond creating objects; it
 * opens no port until `listen`. The CLI owns signals: it calls `reloadConfig()` on SIGHUP and
 * `close()` on SIGTERM, which stops accepting, lets in-flight responses finish and closes sockets.
 */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { networkInterfaces } from 'node:os';
import Fastify, { LogController, type FastifyInstance, type onRequestHookHandler } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { isAllowedByConfig } from './net/allowlist.js';
import type { Config } from './config/schema.js';
import type { ReloadFailure } from './config/store.js';
import { probeTarget } from './probe/probe.js';
import type { ProbeFn } from './probe/types.js';
import { ExporterSockets, expandListenAddresses } from './responder/destinations.js';
import type { LookupFn } from './net/resolve.js';
import { createProbeSlots, nestedSlots } from './scheduler/slots.js';
import { createSweeper, type Sweeper } from './scheduler/sweep.js';
import type { ResultSource } from './sources/types.js';
import { createResponderCheckSource } from './sources/responder-checks.js';
import { createStapleFileSource } from './sources/staple-files.js';
import { ProbeHistory } from './server/history.js';
import { registerRoutes, RELOAD_ERROR_LOG_CHARS, type ReloadOutcome } from './server/routes.js';
import { VERSION } from './version.js';
import { messageOf } from './util/errors.js';
import { excerptOf } from './util/text.js';

/** The part of `ConfigStore` (src/config/store.ts) the app uses. */
export interface ConfigSource {
  readonly current: Config;
  reload(): { ok: true } | { ok: false; error: unknown };
  readonly lastReloadSuccessful: boolean;
  /** Unix seconds of the last successful load; null/undefined when none. */
  readonly lastReloadSuccessTimestampSeconds: number | null | undefined;
  /** Called with the new config after each successful reload; may return an unsubscribe function. */
  onChange(listener: (config: Config) => void): unknown;
  /** The most recent failed reload, for `/config`; absent or null when none failed. */
  readonly lastReloadFailure?: ReloadFailure | null;
}

export interface AppDeps {
  store: ConfigSource;
  /** Default: the real probe (`probeTarget`) judging staples at `now()`. */
  probe?: ProbeFn;
  /** Clock, Unix ms. Default `Date.now`. */
  now?: () => number;
  /** pino level: fatal, error, warn, info, debug, trace, silent. Default `info`. */
  logLevel?: string;
  /** Where JSON log lines go; default stdout. */
  logStream?: { write(line: string): void };
  /** Add prom-client's default process/Node.js metrics to /metrics. Default true. */
  processMetrics?: boolean;
  /** Subtracted from `X-Prometheus-Scrape-Timeout-Seconds`. Default 0.5 s (as blackbox_exporter). */
  scrapeTimeoutOffsetSeconds?: number;
  /** Serve HTTPS with these options (from a web config file); default plain HTTP. */
  https?: HttpsServerOptions | null;
  /** Runs before every route (e.g. basic auth from a web config file). */
  onRequest?: onRequestHookHandler;
  /** Default `isAllowedByConfig`. */
  isAllowed?: (config: Config, host: string, port: number) => boolean;
  /** Resolver of the default probe and of `probe_all_addresses` targets (resolved before their slots). Default the system's. */
  lookup?: LookupFn;
  /** Timeouts and the connection cap of the HTTP(S) server; each absent one as in {@link HTTP_SERVER_LIMITS}. */
  httpLimits?: Partial<HttpServerLimits>;
  /** Recent probes kept for the status page (`--history.limit`, src/server/history.ts). Default {@link DEFAULT_HISTORY_LIMIT}; 0 keeps none. */
  historyLimit?: number;
}

/** `--history.limit`'s default, as blackbox_exporter's `--history.limit`. */
export const DEFAULT_HISTORY_LIMIT = 100;

/** What the HTTP(S) server allows a client, so slow or idle clients cannot hold sockets (and file descriptors) indefinitely. */
export interface HttpServerLimits {
  /** From connecting to the end of the request headers (Node `headersTimeout`); answered 408 and closed. */
  headersTimeoutMs: number;
  /** From connecting to the end of the request body (Node `requestTimeout`); the handler's time does not count. */
  requestTimeoutMs: number;
  /** How often Node checks the two above (`connectionsCheckingInterval`): they fire up to this much late. */
  timeoutCheckIntervalMs: number;
  /** A socket with no byte in either direction this long is destroyed (`server.setTimeout`, Fastify `connectionTimeout`). */
  idleTimeoutMs: number;
  /** An idle keep-alive connection between requests is closed after this (Fastify `keepAliveTimeout`). */
  keepAliveTimeoutMs: number;
  /** TLS handshakes not finished in this long are dropped (`handshakeTimeout`; Node's default is 120 s). */
  tlsHandshakeTimeoutMs: number;
  /** Connections open at once; more are closed as soon as they are accepted (`server.maxConnections`). */
  maxConnections: number;
}

/**
 * The defaults. A scrape's answer may take as long as its deadline: `X-Prometheus-Scrape-Timeout-Seconds`
 * (not capped) or, without the header, module timeouts of up to 300 s; while it is computed the
 * socket is silent, so the idle timeout is twice that. The request timeout only counts receiving
 * the request, which for these bodiless GETs ends with the headers, so it can be short.
 * 512 connections with 2 × global.concurrency probe sockets stay well inside a 1024 file limit.
 */
export const HTTP_SERVER_LIMITS: Readonly<HttpServerLimits> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  timeoutCheckIntervalMs: 1_000,
  idleTimeoutMs: 600_000,
  // Fastify's default: longer than a 60 s scrape interval, so Prometheus reuses its connection.
  keepAliveTimeoutMs: 72_000,
  tlsHandshakeTimeoutMs: 10_000,
  maxConnections: 512,
};

/**
 * How many of the `global.concurrency` probe slots `/probe` requests may hold at once: half
 * (rounded down, at least 1) while static targets are configured, so whoever can reach `/probe`
 * cannot starve the `/metrics` sweep; all of them when there are none, as nothing needs protecting.
 */
export function probeEndpointShare(config: Config): number {
  const { concurrency } = config.global;
  return config.targets.length === 0 ? concurrency : Math.max(1, Math.floor(concurrency / 2));
}

export interface App {
  /** The Fastify instance (for `inject()` in tests). */
  readonly server: FastifyInstance;
  readonly sweeper: Sweeper;
  /** The recent probes, sweeps' and /probe's. */
  readonly history: ProbeHistory;
  /** Starts listening; resolves to the bound address, e.g. `http://127.0.0.1:9858`. */
  listen(options: { host: string; port: number }): Promise<string>;
  /** Reloads the config file through the store; on failure the last good config stays in use. */
  reloadConfig(): ReloadOutcome;
  /** Stops accepting, finishes in-flight responses, closes sockets. Idempotent. */
  close(): Promise<void>;
}

export function buildApp(deps: AppDeps): App {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const lookup = deps.lookup;
  const unawareProbe: ProbeFn = deps.probe ?? ((target, module, deadlineMs) => probeTarget(target, module, deadlineMs, { now, ...(lookup ? { lookup } : {}) }));
  // Once listening, each module's responder queries and caIssuers fetches also refuse the exporter's
  // own sockets (src/responder/destinations.ts): a certificate must not aim it at its own /-/reload.
  const ownSockets = new ExporterSockets();
  const handshakeFallbacks = { refused: 0, failed: 0 };
  const probe: ProbeFn = async (target, module, deadlineMs) => {
    const results = await unawareProbe(target, ownSockets.applyTo(module), deadlineMs);
    for (const result of results) {
      const fallback = result.handshake?.fallback;
      if (fallback) handshakeFallbacks[fallback.reason]++;
    }
    return results;
  };
  const isAllowed = deps.isAllowed ?? isAllowedByConfig;

  const limits = { ...HTTP_SERVER_LIMITS, ...deps.httpLimits };
  // Node's server options (https.createServer takes them along with the TLS ones).
  const nodeServerOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
  };
  const server = Fastify({
    logger: {
      level: deps.logLevel ?? 'info',
      ...(deps.logStream ? { stream: deps.logStream } : {}),
    },
    // A scrape every few seconds would flood the log; requests are logged at debug below.
    logController: new LogController({ disableRequestLogging: true }),
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    ...(deps.https
      ? { https: { ...deps.https, ...nodeServerOptions, handshakeTimeout: limits.tlsHandshakeTimeoutMs } }
      : { http: nodeServerOptions }),
  });
  // Without a cap, 450 clients trickling headers exhausted the file descriptors.
  server.server.maxConnections = limits.maxConnections;

  // Every probe takes one of `slots`; a /probe probe first takes one of its share (probeEndpointShare).
  const slots = createProbeSlots(store.current.global.concurrency, now);
  const probeEndpointSlots = createProbeSlots(probeEndpointShare(store.current), now);
  const history = new ProbeHistory(deps.historyLimit ?? DEFAULT_HISTORY_LIMIT);
  // Only probes the sweep runs pass here: a reused result is no new probe and is not recorded again.
  const sweepProbe: ProbeFn = async (target, module, deadlineMs) => {
    const results = await probe(target, module, deadlineMs);
    const atMs = now();
    for (const result of results) history.record('sweep', result, atMs);
    return results;
  };
  const sweeper = createSweeper({ probe: sweepProbe, now, slots, ...(lookup ? { lookup } : {}) });
  function followConfig(config: Config): void {
    slots.concurrency = config.global.concurrency;
    probeEndpointSlots.concurrency = probeEndpointShare(config);
  }

  // Series of /metrics besides the sweep's: staple files on disk, responders checked on their own.
  const seriesSources: ResultSource[] = [];
  seriesSources.push(createResponderCheckSource({ now, moduleView: (module) => ownSockets.applyTo(module), ...(lookup ? { lookup } : {}) }));
  seriesSources.push(createStapleFileSource({ now, warn: (fields, message) => server.log.warn(fields, `staple file: ${message}`) }));

  let processRegistry: Registry | null = null;
  if (deps.processMetrics ?? true) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }

  const unsubscribe = store.onChange(followConfig);

  function reloadConfig(): ReloadOutcome {
    let outcome: ReloadOutcome;
    try {
      const result = store.reload();
      outcome = result.ok ? { ok: true } : { ok: false, error: excerptOf(messageOf(result.error), RELOAD_ERROR_LOG_CHARS) };
    } catch (error) {
      outcome = { ok: false, error: excerptOf(messageOf(error), RELOAD_ERROR_LOG_CHARS) };
    }
    if (outcome.ok) {
      // onChange listeners may not fire for an unchanged file; the limit must follow the config anyway.
      followConfig(store.current);
      server.log.info({ file: store.current.file, targets: store.current.targets.length }, 'configuration reloaded');
    } else {
      server.log.error({ error: outcome.error }, 'configuration reload failed; keeping the last good configuration');
    }
    return outcome;
  }

  let closingStarted = false;
  if (deps.onRequest) server.addHook('onRequest', deps.onRequest);
  // Responses finishing after close() began end their connection: otherwise a client's idle
  // keep-alive socket (Fastify advertises 72 s) would hold close() open long after the last byte.
  server.addHook('onSend', async (_request, reply, payload) => {
    if (closingStarted) reply.header('connection', 'close');
    return payload;
  });
  server.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime }, 'request completed');
  });
  server.setNotFoundHandler(async (request, reply) =>
    reply.code(404).type('text/plain; charset=utf-8').send(`Not found: ${request.method} ${request.url.split('?')[0]}\n`),
  );
  server.setErrorHandler(async (error, request, reply) => {
    const statusCode = (error as { statusCode?: number }).statusCode ?? 500;
    if (statusCode >= 500) request.log.error({ err: error }, 'request failed');
    return reply
      .code(statusCode)
      .type('text/plain; charset=utf-8')
      .send(`${statusCode >= 500 ? 'internal error' : 'bad request'}: ${messageOf(error)}\n`);
  });

  registerRoutes(server, {
    config: () => store.current,
    ready: () => store.current !== undefined && store.current !== null,
    reload: () => reloadConfig(),
    exporterState: () => ({
      version: VERSION,
      nodejsVersion: process.version,
      configLastReloadSuccessful: store.lastReloadSuccessful,
      configLastReloadSuccessTimestampSeconds: store.lastReloadSuccessTimestampSeconds ?? null,
      targets: store.current.targets.length,
      handshakeFallbacks: { ...handshakeFallbacks },
    }),
    configStatus: () => ({
      loadedAtSeconds: store.lastReloadSuccessTimestampSeconds ?? null,
      lastReloadSuccessful: store.lastReloadSuccessful,
      lastReloadFailure: store.lastReloadFailure ?? null,
    }),
    sweeper,
    seriesSources,
    probe,
    probeSlots: nestedSlots(probeEndpointSlots, slots),
    ...(lookup ? { lookup } : {}),
    now,
    isAllowed,
    processRegistry,
    scrapeTimeoutOffsetSeconds: deps.scrapeTimeoutOffsetSeconds ?? 0.5,
    version: VERSION,
    history,
  });

  let closing: Promise<void> | null = null;
  return {
    server,
    sweeper,
    history,
    async listen(options) {
      const address = await server.listen({ host: options.host, port: options.port });
      ownSockets.set(expandListenAddresses(server.addresses(), Object.values(networkInterfaces()).flatMap((list) => list ?? [])));
      server.log.info({ address, file: store.current.file, targets: store.current.targets.length }, 'listening');
      return address;
    },
    reloadConfig,
    close() {
      closing ??= (async () => {
        closingStarted = true;
        if (typeof unsubscribe === 'function') (unsubscribe as () => void)();
        await server.close();
      })();
      return closing;
    },
  };
}
