/**
 * The exporter as the benchmark runs it: the compiled app from dist/ (what `serve` runs), in its
 * own process so its CPU time and memory are its own. It builds the app with `buildApp` and, unless
 * WORKERS is 0, the worker-thread probe pool (`createProbePool`), exactly as `serve` wires them;
 * the configuration comes as ready-made JSON instead of YAML, so the run does not depend on the
 * config loader. WORKERS 0 probes on the main thread (the single-threaded baseline).
 *
 * SIGUSR2 makes every later scrape a full sweep (see below), for the steady-state sweep.
 *
 * Usage: node exporter-process.mjs DIST_DIR CONFIG.json PORT WORKERS
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [distDir, configFile, portText, workersText] = process.argv.slice(2);
const dist = (file) => pathToFileURL(path.join(distDir, file)).href;
const { buildApp } = await import(dist('app.js'));
const { createProbePool } = await import(dist('probe/pool.js'));

const config = JSON.parse(readFileSync(configFile, 'utf8'));
const store = {
  current: config,
  reload: () => ({ ok: true }),
  lastReloadSuccessful: true,
  lastReloadSuccessTimestampSeconds: Date.now() / 1000,
  onChange: () => () => {},
};
const workers = Number(workersText);
const pool = workers > 0 ? createProbePool({ workers }) : null;
const app = buildApp({ store, logLevel: 'warn', ...(pool ? { probe: pool.probe } : {}) });
await app.listen({ host: '127.0.0.1', port: Number(portText) });
process.stderr.write(`exporter ready (workers ${workers})\n`);

// SIGUSR2: from now on every scrape is a full sweep (min_probe_interval 0), with the same module and
// target objects, so TLS contexts and per-module caches stay warm: the steady state of a daemon.
process.on('SIGUSR2', () => {
  store.current = { ...config, global: { ...config.global, minProbeIntervalSeconds: 0 } };
});

const stop = async () => {
  await app.close();
  await pool?.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
