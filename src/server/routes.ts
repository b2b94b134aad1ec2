/**
 * The HTTP surface: `/metrics` (a sweep over the static targets), `/probe` (Prometheus'
 * multi-target pattern, allowed targets only, so the exporter is no open proxy), the landing page
 * and the Prometheus-style lifecycle endpoints. Handlers only translate HTTP to calls of the sweeper,
 * the probe and the metrics mapping; every probe deadline derives from the scrape's
 * `X-Prometheus-Scrape-Timeout-Seconds`, so a dead target becomes a failed probe, never a failed scrape.
 */
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import type { Config, ModuleConfig } from '../config/schema.js';
import { moduleToYaml } from '../config/serialize.js';
import { isValidHostname, parseTargetAddress, TargetAddressError } from '../config/target.js';
import { addExporterMetrics, type ExporterState } from '../metrics/collect.js';
import { probeMetricsChunks, renderProbeMetrics } from '../metrics/render.js';
import type { ResultSource } from '../sources/types.js';
import { neverThrows } from '../probe/failure.js';
import { probeLogText } from '../probe/log.js';
import type { ProbeFn, ProbeResult, ProbeTarget } from '../probe/types.js';
import type { LookupFn } from '../net/resolve.js';
import { probeInSlots } from '../scheduler/probe-in-slots.js';
import type { SlotRunner } from '../scheduler/slots.js';
import type { Sweeper } from '../scheduler/sweep.js';
import { acceptsGzip, gzipped } from './encoding.js';
import type { ProbeHistory } from './history.js';
import { detailPage, parseDetailQuery } from './page/detail.js';
import { parseStatusQuery, statusPage } from './page/status.js';
import { PAGE_HEADERS } from './page/styles.js';
import { configPage, type ConfigStatus } from './config-page.js';
import { excerptOf } from '../util/text.js';

export type ReloadOutcome = { ok: true } | { ok: false; error: string };

/** How much of a failed reload's error the HTTP answer carries; the log keeps up to {@link RELOAD_ERROR_LOG_CHARS}. */
export const RELOAD_ERROR_ANSWER_CHARS = 500;
/** How much of a failed reload's error is logged (a config error can quote a whole value of the file). */
export const RELOAD_ERROR_LOG_CHARS = 4096;


/** What the routes need from the rest of the app; everything injectable for tests. */
export interface RouteContext {
  config(): Config;
  /** Whether a configuration is loaded (for /-/ready). */
  ready(): boolean;
  reload(): ReloadOutcome;
  /** When and from where the config was loaded and the last failed reload, for /config; absent → not shown. */
  configStatus?(): ConfigStatus;
  /** Exporter facts for /metrics, apart from the sweep (taken from `sweeper`). */
  exporterState(): Omit<ExporterState, 'lastSweep'>;
  sweeper: Sweeper;
  /** Series besides the sweep's on /metrics (staple files, responder checks), collected alongside it. */
  seriesSources: readonly ResultSource[];
  probe: ProbeFn;
  /** Where /probe probes take their slots: /probe's share, then the sweep's (src/app.ts, probeEndpointShare). */
  probeSlots: SlotRunner;
  /** Resolver for `probe_all_addresses` targets; default the system's. */
  lookup?: LookupFn;
  /** Unix ms: deadlines and the scrape time the metrics are judged at. */
  now(): number;
  isAllowed(config: Config, host: string, port: number): boolean;
  /** Process and Node.js metrics, appended to /metrics only; null to leave them out. */
  processRegistry: Registry | null;
  /** Subtracted from the scrape timeout header so the answer arrives before Prometheus gives up. */
  scrapeTimeoutOffsetSeconds: number;
  version: string;
  /** The recent probes (`--history.limit`); /probe records each of its probes here. Absent: none kept. */
  history?: ProbeHistory;
}

export const SCRAPE_TIMEOUT_HEADER = 'x-prometheus-scrape-timeout-seconds';
const TEXT = 'text/plain; charset=utf-8';
const NO_PROBE_SLOT = 'no probe slot free before the scrape deadline (global.concurrency; /probe may hold half of it while static targets are configured)';

/**
 * Seconds a scrape may spend probing, from Prometheus' scrape-timeout header (blackbox-style: the
 * header minus a small offset). Null when the header is absent or not a positive number, meaning
 * "no scrape bound: module timeouts apply". When the header is smaller than the offset, half the
 * header is used, so the answer still arrives in time.
 */
export function scrapeBudgetSeconds(header: string | string[] | undefined, offsetSeconds: number): number | null {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw.trim() === '') return null;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  const budget = seconds - offsetSeconds;
  return budget > 0 ? budget : seconds / 2;
}

export type ParsedTarget = { ok: true; host: string; port: number } | { ok: false; error: string };

/** The `target` parameter, parsed like targets in the config file (same rules, same messages). */
export function parseTargetParam(value: string): ParsedTarget {
  try {
    return { ok: true, ...parseTargetAddress(value) };
  } catch (error) {
    if (error instanceof TargetAddressError) return { ok: false, error: `invalid target: ${error.message}` };
    throw error;
  }
}

function singleParam(query: Record<string, string | string[] | undefined>, name: string): { value: string | undefined } | { error: string } {
  const value = query[name];
  if (Array.isArray(value)) return { error: `parameter "${name}" given more than once` };
  return { value };
}

function badRequest(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).type(TEXT).send(`${message}\n`);
}

export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const probe = neverThrows(ctx.probe, ctx.now);
  // The status page and a target's detail: what the sweeps found (never a probe), as HTML under a strict CSP.
  app.get('/', async (request, reply) => {
    const query = parseStatusQuery(request.query as Record<string, string | string[] | undefined>);
    const view = { config: ctx.config(), results: ctx.sweeper.latestResults(), lastSweep: ctx.sweeper.lastSweep, history: ctx.history?.list() ?? null };
    return reply.headers(PAGE_HEADERS).send(statusPage({ ...view, nowMs: ctx.now(), version: ctx.version, query }));
  });
  app.get('/target', async (request, reply) => {
    const parsed = parseDetailQuery(request.query as Record<string, string | string[] | undefined>);
    if ('error' in parsed) return badRequest(reply, parsed.error);
    const view = { config: ctx.config(), results: ctx.sweeper.latestResults(), history: ctx.history?.list() ?? null, nowMs: ctx.now() };
    const answer = detailPage(parsed, view);
    return reply.code(answer.status).headers(PAGE_HEADERS).send(answer.html);
  });

  app.get('/config', async (_request, reply) => reply.type(TEXT).send(configPage(ctx.config(), ctx.configStatus?.() ?? null)));

  app.get('/-/healthy', async (_request, reply) => reply.type(TEXT).send('Healthy'));

  app.get('/-/ready', async (_request, reply) =>
    ctx.ready() ? reply.type(TEXT).send('Ready') : reply.code(503).type(TEXT).send('Not ready: no configuration loaded'),
  );

  const reload = async (request: FastifyRequest, reply: FastifyReply) => {
    const outcome = ctx.reload();
    if (outcome.ok) return reply.type(TEXT).send('Configuration reloaded\n');
    request.log.error({ err: excerptOf(outcome.error, RELOAD_ERROR_LOG_CHARS) }, 'configuration reload failed; keeping the last good configuration');
    // The answer goes to whoever may POST here: short, and one line (the log has the rest).
    return reply.code(500).type(TEXT).send(`failed to reload config: ${excerptOf(outcome.error, RELOAD_ERROR_ANSWER_CHARS, { oneLine: true })}\n`);
  };
  app.post('/-/reload', reload);
  app.put('/-/reload', reload);
  app.get('/-/reload', async (_request, reply) =>
    reply.code(405).header('allow', 'POST, PUT').type(TEXT).send('Only POST or PUT requests allowed\n'),
  );

  app.get('/metrics', async (request, reply) => {
    const config = ctx.config();
    const budget = scrapeBudgetSeconds(request.headers[SCRAPE_TIMEOUT_HEADER], ctx.scrapeTimeoutOffsetSeconds);
    const deadlineMs = budget === null ? Infinity : ctx.now() + budget * 1000;
    const [results, subjects] = await Promise.all([
      ctx.sweeper.sweep(config, deadlineMs),
      Promise.all(ctx.seriesSources.map((source) => source.collect(config, deadlineMs))),
    ]);
    // The per-address families by the direct writer, streamed a family at a time (32 MB in all at
    // 10,000 addresses; reading one chunk ahead, so a slow reader holds about one family, not all);
    // prom-client only for the process metrics and the few exporter families.
    const probes = probeMetricsChunks(results, ctx.now(), subjects.flat());
    const registry = new Registry();
    addExporterMetrics(registry, { ...ctx.exporterState(), lastSweep: ctx.sweeper.lastSweep });
    const own = await registry.metrics();
    const process = ctx.processRegistry ? await ctx.processRegistry.metrics() : '';
    const chunks = inOrder(process, probes, own);
    reply.type(registry.contentType).header('vary', 'accept-encoding');
    if (acceptsGzip(request.headers['accept-encoding'])) return reply.header('content-encoding', 'gzip').send(gzipped(chunks));
    return reply.send(Readable.from(chunks, { highWaterMark: 1 }));
  });

  app.get('/probe', async (request, reply) => {
    const query = request.query as Record<string, string | string[] | undefined>;
    const targetParam = singleParam(query, 'target');
    if ('error' in targetParam) return badRequest(reply, targetParam.error);
    if (!targetParam.value) return badRequest(reply, 'missing parameter "target" (expected host:port, e.g. /probe?target=example.com:443)');
    const parsed = parseTargetParam(targetParam.value);
    if (!parsed.ok) return badRequest(reply, parsed.error);

    const config = ctx.config();
    const moduleParam = singleParam(query, 'module');
    if ('error' in moduleParam) return badRequest(reply, moduleParam.error);
    const moduleName = moduleParam.value || 'default';
    const module = Object.hasOwn(config.modules, moduleName) ? config.modules[moduleName] : undefined;
    if (!module) {
      return badRequest(reply, `unknown module "${moduleName}" (configured modules: ${Object.keys(config.modules).sort().join(', ')})`);
    }

    const serverNameParam = singleParam(query, 'server_name');
    if ('error' in serverNameParam) return badRequest(reply, serverNameParam.error);
    const serverName = serverNameParam.value || null;
    if (serverName !== null && (isIP(serverName) || !isValidHostname(serverName))) {
      return badRequest(reply, `invalid server_name "${serverName}": expected a DNS name (SNI carries no IP addresses, RFC 6066 §3)`);
    }

    const debug = debugParam(query);
    if ('error' in debug) return badRequest(reply, debug.error);

    if (!ctx.isAllowed(config, parsed.host, parsed.port)) {
      // No file path: the answer goes to anyone who can reach /probe; the operator knows the file.
      return reply
        .code(403)
        .type(TEXT)
        .send(
          `target "${targetParam.value}" is not allowed: /probe only probes the configured targets and those matching ` +
            `global.probe_allowlist in the exporter's config file\n`,
        );
    }

    const target: ProbeTarget = {
      target: targetParam.value,
      host: parsed.host,
      port: parsed.port,
      module: moduleName,
      serverName,
      labels: {},
    };
    const budget = scrapeBudgetSeconds(request.headers[SCRAPE_TIMEOUT_HEADER], ctx.scrapeTimeoutOffsetSeconds);
    const requestDeadlineMs = budget === null ? Infinity : ctx.now() + budget * 1000;
    // The sweep's slots, and at most /probe's share of them: /probe traffic can neither push probes
    // past global.concurrency nor take every slot from the /metrics sweep.
    const slotted = { probe, now: ctx.now, noSlotError: NO_PROBE_SLOT, ...(ctx.lookup ? { lookup: ctx.lookup } : {}) };
    const { results, measured } = await probeInSlots(slotted, ctx.probeSlots, target, module, requestDeadlineMs);
    const atMs = ctx.now();
    for (const r of results) {
      if (!r.success) request.log.debug({ target: r.target, address: r.address, reason: r.failureReason, error: r.error }, 'probe failed');
      if (measured) ctx.history?.record('probe', r, atMs);
    }
    const metrics = renderProbeMetrics(results, atMs);
    if (debug.value) return reply.type(TEXT).send(debugAnswer(results, metrics, module));
    return reply.type(Registry.PROMETHEUS_CONTENT_TYPE).send(metrics);
  });
}

/** `debug`: absent or `false` → the metrics; `true` → the probe's log and then the metrics; anything else is refused. */
function debugParam(query: Record<string, string | string[] | undefined>): { value: boolean } | { error: string } {
  const param = singleParam(query, 'debug');
  if ('error' in param) return param;
  if (param.value === undefined || param.value === 'false') return { value: false };
  if (param.value === 'true') return { value: true };
  return { error: `invalid parameter "debug": "${excerptOf(param.value, 64, { oneLine: true })}" (expected true or false)` };
}

/**
 * `/probe?debug=true`, as blackbox_exporter answers it: each probed address's log (src/probe/log.ts,
 * escaped and bounded per address), the metrics the same probe would have returned, and the
 * module it ran with, every key with its effective value (as `/config` writes it: file paths, never
 * their contents; a proxy URL's credentials redacted).
 */
function debugAnswer(results: readonly ProbeResult[], metrics: string, module: ModuleConfig): string {
  const logs = results.map((result) => probeLogText(result)).join('\n');
  return `Logs for the probe:\n${logs}\n\n\nMetrics that would have been returned:\n${metrics}\n\n\nModule configuration:\n${moduleToYaml(module)}`;
}

/** The non-empty strings of `parts`, strings and iterables of strings alike, in order. */
function* inOrder(...parts: ReadonlyArray<string | Iterable<string>>): Generator<string, void, undefined> {
  for (const part of parts) {
    if (typeof part === 'string') {
      if (part !== '') yield part;
    } else {
      for (const chunk of part) if (chunk !== '') yield chunk;
    }
  }
}
