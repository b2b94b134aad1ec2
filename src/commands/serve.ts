/**
 * `serve`: the daemon. Loads the config file (or, without one, starts the built-in demo lab and
 * probes it), serves the HTTP endpoints, reloads on SIGHUP and shuts down cleanly on SIGTERM or
 * SIGINT. `--config.check` validates the file and exits; `--config.auto-reload` also reloads when the
 * file changes.
 */
import { availableParallelism } from 'node:os';
import { buildApp, DEFAULT_HISTORY_LIMIT } from '../app.js';
import { ConfigError } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import { ConfigStore } from '../config/store.js';
import { parseDuration } from '../config/duration.js';
import { DEFAULT_AUTO_RELOAD_INTERVAL_SECONDS, watchConfigFile, type ConfigWatcher } from '../config/watch.js';
import { startDemoLab, type DemoLab } from '../demo/lab.js';
import { createProbePool, type ProbePool } from '../probe/pool.js';
import { WebAccess } from '../server/auth.js';
import { loadWebConfigFile, WebConfigError, type WebConfig } from '../server/webconfig.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { messageOf } from '../util/errors.js';

/** Not used by blackbox (9115), ssl_exporter (9219), x509-certificate-exporter (9793) or node_exporter (9100). */
export const DEFAULT_PORT = 9858;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface ServeOptions {
  configFile: string | null;
  configCheck: boolean;
  host: string;
  port: number;
  logLevel: string;
  /** Probe worker threads; 0 probes on the main thread. */
  probeWorkers: number;
  /** exporter-toolkit web config (TLS, client certificates, basic auth); null serves plain HTTP. */
  webConfigFile: string | null;
  /** Recent probes kept for the status page; 0 keeps none. */
  historyLimit: number;
  /** `--config.auto-reload`: reload the config file when its content changes (src/config/watch.ts). */
  configAutoReload: boolean;
  /** `--config.auto-reload-interval`: how often the file's content is checked, seconds. */
  configAutoReloadIntervalSeconds: number;
}

/** Bounds of `--config.auto-reload-interval` (Prometheus' `--config.auto-reload-interval` allows 1s at least). */
const MIN_AUTO_RELOAD_INTERVAL_SECONDS = 1;
const MAX_AUTO_RELOAD_INTERVAL_SECONDS = 24 * 3600;

/** `--config.auto-reload` and its interval; the interval alone, or either without a file to watch, is a usage error. */
function parseAutoReloadArgs(values: Record<string, string | boolean | undefined>, configFile: string | null): Pick<ServeOptions, 'configAutoReload' | 'configAutoReloadIntervalSeconds'> {
  const configAutoReload = values['config.auto-reload'] === true;
  const intervalText = values['config.auto-reload-interval'];
  if (typeof intervalText === 'string' && !configAutoReload) throw new UsageError('--config.auto-reload-interval has no effect without --config.auto-reload');
  if (configAutoReload && !configFile) throw new UsageError('--config.auto-reload needs --config.file FILE (the demo lab has no file to watch)');
  let seconds = DEFAULT_AUTO_RELOAD_INTERVAL_SECONDS;
  if (typeof intervalText === 'string') {
    try {
      seconds = parseDuration(intervalText);
    } catch {
      seconds = NaN;
    }
    if (!(seconds >= MIN_AUTO_RELOAD_INTERVAL_SECONDS && seconds <= MAX_AUTO_RELOAD_INTERVAL_SECONDS)) {
      throw new UsageError(`--config.auto-reload-interval: expected a duration from 1s to 1d (e.g. 30s, 2m), got "${intervalText}"`);
    }
  }
  return { configAutoReload, configAutoReloadIntervalSeconds: seconds };
}

/** The most `--history.limit` may ask for: each kept probe costs a few KiB (src/server/history.ts). */
export const MAX_HISTORY_LIMIT = 10_000;

export function parseServeArgs(values: Record<string, string | boolean | undefined>): ServeOptions {
  const configFile = typeof values['config.file'] === 'string' ? values['config.file'] : null;
  const configCheck = values['config.check'] === true;
  if (configCheck && !configFile) throw new UsageError('--config.check needs --config.file FILE');
  const { host, port } = parseListenAddress(typeof values['web.listen-address'] === 'string' ? values['web.listen-address'] : `:${DEFAULT_PORT}`);
  const logLevel = typeof values['log.level'] === 'string' ? values['log.level'] : 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log.level: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  // Handshakes are CPU-bound (OpenSSL): one worker thread per core by default, see src/probe/pool.ts.
  const workersText = typeof values['probe.workers'] === 'string' ? values['probe.workers'] : String(availableParallelism());
  const probeWorkers = /^\d{1,3}$/.test(workersText) ? Number(workersText) : NaN;
  if (!(probeWorkers >= 0 && probeWorkers <= 256)) throw new UsageError(`--probe.workers: expected 0 to 256 (0 probes on the main thread), got "${workersText}"`);
  const webConfigFile = typeof values['web.config.file'] === 'string' && values['web.config.file'] !== '' ? values['web.config.file'] : null;
  const historyText = typeof values['history.limit'] === 'string' ? values['history.limit'] : String(DEFAULT_HISTORY_LIMIT);
  const historyLimit = /^\d{1,5}$/.test(historyText) ? Number(historyText) : NaN;
  if (!(historyLimit >= 0 && historyLimit <= MAX_HISTORY_LIMIT)) {
    throw new UsageError(`--history.limit: expected 0 to ${MAX_HISTORY_LIMIT} (0 keeps no recent probes), got "${historyText}"`);
  }
  return { configFile, configCheck, host, port, logLevel, probeWorkers, webConfigFile, historyLimit, ...parseAutoReloadArgs(values, configFile) };
}

/** `HOST:PORT`, `:PORT` (all interfaces) or `[v6]:PORT`. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--web.listen-address: expected HOST:PORT or :PORT, got "${text}"`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

export async function runServe(options: ServeOptions, io: CommandIO): Promise<number> {
  let demo: DemoLab | null = null;
  let store: ConfigStore;
  let web: WebConfig | null = null;
  try {
    // Validated first and completely: a typo in the web config must not start an open exporter.
    if (options.webConfigFile) web = loadWebConfigFile(options.webConfigFile);
    if (options.configFile) {
      const file = options.configFile;
      const config = loadConfigFile(file);
      if (options.configCheck) {
        io.stdout(`${file}: OK (${config.targets.length} targets, ${Object.keys(config.modules).length} modules)\n`);
        if (web) io.stdout(`${web.file}: OK (${web.tls ? 'TLS' : 'plain HTTP'}, ${web.basicAuthUsers.size} basic auth users)\n`);
        return EXIT.ok;
      }
      store = new ConfigStore(config, () => loadConfigFile(file));
    } else {
      demo = await startDemoLab();
      const config = demo.config;
      store = new ConfigStore(config, () => config);
    }
  } catch (error) {
    io.stderr(
      error instanceof ConfigError || error instanceof WebConfigError
        ? `${error.message}\n`
        : `cannot start: ${messageOf(error)}\n`,
    );
    return EXIT.unreadable;
  }

  const pool: ProbePool | null = options.probeWorkers > 0 ? createProbePool({ workers: options.probeWorkers }) : null;
  const access = web ? new WebAccess(web) : null;
  const app = buildApp({ store, logLevel: options.logLevel, historyLimit: options.historyLimit, ...(pool ? { probe: pool.probe } : {}), ...(access ? access.deps() : {}) });
  let url: string;
  try {
    url = await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    io.stderr(`cannot listen on ${options.host}:${options.port}: ${messageOf(error)}\n`);
    await pool?.close();
    await demo?.close();
    return EXIT.unreadable;
  }
  const shown = url.replace('://0.0.0.0:', '://127.0.0.1:');
  if (demo) {
    io.stderr(`ocsp-stapling-exporter: demo lab with ${demo.endpoints.length} endpoints (${demo.endpoints.map((e) => e.name).join(', ')})\n`);
    // A first sweep now, so the status page shows the lab's states before anything scrapes /metrics.
    void app.sweeper.sweep(store.current, Date.now() + 30_000).catch(() => undefined);
  }
  io.stderr(`ocsp-stapling-exporter: serving ${shown}/metrics\n`);
  const watcher = options.configAutoReload && options.configFile ? watchForReload(app, options.configFile, options.configAutoReloadIntervalSeconds) : null;

  return new Promise<number>((resolve) => {
    const onHup = (): void => {
      app.reloadConfig();
      if (access && options.webConfigFile) reloadWebConfig(access, options.webConfigFile, app);
    };
    const onStop = (): void => {
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      watcher?.close();
      void app
        .close()
        .then(() => pool?.close())
        .then(() => demo?.close())
        .then(
          () => resolve(EXIT.ok),
          () => resolve(EXIT.notGood),
        );
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  });
}

/** `--config.auto-reload`: a changed file is reloaded as on SIGHUP (same log lines and metrics, last good kept). */
function watchForReload(app: ReturnType<typeof buildApp>, file: string, intervalSeconds: number): ConfigWatcher {
  return watchConfigFile({
    file,
    intervalMs: intervalSeconds * 1000,
    onChange: () => {
      app.server.log.info({ file }, 'config file changed; reloading');
      app.reloadConfig();
    },
    onWatchError: (message) => app.server.log.warn({ file, error: message }, 'cannot watch the config directory; checking the file at each interval only'),
  });
}

/** SIGHUP: re-reads the web config (rotated certificates, changed users); on any error the running one stays. */
function reloadWebConfig(access: WebAccess, file: string, app: ReturnType<typeof buildApp>): void {
  let refusal: string | null;
  try {
    refusal = access.reload(loadWebConfigFile(file), app.server.server);
  } catch (error) {
    refusal = messageOf(error);
  }
  if (refusal) app.server.log.error({ file, error: refusal }, 'web config reload failed; keeping the running web config');
  else app.server.log.info({ file }, 'web config reloaded');
}
