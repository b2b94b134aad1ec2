/**
 * The three things the benchmark compares on the same targets at the same concurrency, each in its
 * own process and measured from outside (/proc): the limit (bare handshake loop on every core,
 * handshake-loop.mjs), the exporter (compiled app + probe pool, exporter-process.mjs, one cold
 * /metrics sweep then scrapes from fresh results) and Debian's blackbox_exporter driven through
 * `/probe` by keep-alive HTTP clients. Each returns the same figures, so ratios are like for like.
 * nginx's own CPU (master and workers) is read over exactly the intervals of each contender's cold
 * and steady-state measurements: it shares the cores, so it bounds what any prober can reach.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODULE, type Config, type ModuleConfig } from '../../src/config/schema.js';
import { freePort } from '../../test/e2e/lab/ports.js';
import { spawnManaged, type ManagedProcess } from '../../test/e2e/lab/processes.js';
import { waitFor } from '../../test/e2e/lab/wait.js';
import { SERVER_NAME, type BenchTarget, type Fleet } from './fleet.js';
import { get, keepAliveAgent, samples } from './http.js';
import { cpuSeconds, peakRssBytes, rssBytes, treeCpuSeconds } from './proc.js';
import { percentile } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export type ContenderName = 'limit' | 'exporter' | 'exporter-1thread' | 'native' | 'blackbox';

export interface RunFigures {
  contender: ContenderName;
  targets: number;
  concurrency: number;
  /** Time to probe every target once, seconds (exporter: its own sweep duration). */
  wallSeconds: number;
  probesPerSecond: number;
  /** Probes that completed the handshake (exporter: and judged the staple valid). */
  ok: number;
  failed: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** CPU of the contender's process (all threads) over the sweep, per probe. */
  cpuMsPerProbe: number;
  peakRssBytes: number;
  /** Exporter: the cold /metrics response (sweep + render), ms. */
  coldScrapeMs?: number;
  /** Exporter: a /metrics scrape served from fresh results (median of several). */
  cachedScrapeMs?: number;
  cachedScrapeBytes?: number;
  /** Exporter: CPU of one /metrics scrape from fresh results (rendering only), ms (mean). */
  cachedScrapeCpuMs?: number;
  /** Exporter: the same scrape asked with `Accept-Encoding: gzip`, as Prometheus asks (median of 3): time and bytes sent. */
  cachedGzipScrapeMs?: number;
  cachedGzipScrapeBytes?: number;
  /** Exporter: CPU per probe of the sweep alone (cold scrape CPU minus one render). */
  sweepCpuMsPerProbe?: number;
  /**
   * Steady state: a full sweep (limit: a pass) in the same process once it has made
   * `steadyAfterProbes` probes, with the JIT, the TLS contexts and the exporter's caches warm, as in
   * a daemon that has been running.
   */
  warmWallSeconds?: number;
  warmProbesPerSecond?: number;
  /** CPU per probe of that sweep (exporter: minus one render from cached results). */
  warmCpuMsPerProbe?: number;
  /** Exporter: peak RSS including the sweeps up to that one, when two generations of results meet. */
  warmPeakRssBytes?: number;
  /**
   * CPU of the nginx serving the targets (master + workers, utime + stime from /proc) per probe, over
   * exactly the interval of `cpuMsPerProbe` (cold) and of `warmCpuMsPerProbe` (steady state).
   */
  nginxCpuMsPerProbe: number;
  warmNginxCpuMsPerProbe?: number;
  /** Blackbox: CPU the benchmark's own HTTP driver spent per probe (it shares the cores). */
  driverCpuMsPerProbe?: number;
  note?: string;
}

export interface RunContext {
  dir: string;
  fleet: Fleet;
  targets: BenchTarget[];
  concurrency: number;
  threads: number;
  timeoutSeconds: number;
  distDir: string;
  /** The steady state is measured after the prober has made this many probes, the cold pass included. */
  steadyAfterProbes: number;
}

/** Reads nginx's CPU seconds so far, master and workers (a replaced worker's time included). */
function nginxCpu(ctx: RunContext): number {
  return treeCpuSeconds(ctx.fleet.nginx.pid);
}

/** Passes over the targets before the measured steady-state pass, the cold one included: at least one. */
export function passesBeforeSteady(ctx: Pick<RunContext, 'targets' | 'steadyAfterProbes'>): number {
  return Math.max(1, Math.ceil(ctx.steadyAfterProbes / ctx.targets.length));
}

// ---------------------------------------------------------------------------------------------
// The limit

export async function runLimit(ctx: RunContext): Promise<RunFigures> {
  const targetsFile = path.join(ctx.dir, `targets-${ctx.targets.length}.json`);
  await writeFile(targetsFile, JSON.stringify(ctx.targets));
  const loop = await runHandshakeLoop(ctx, targetsFile);
  const r = JSON.parse(loop.result) as {
    wallSeconds: number;
    ok: number;
    failed: number;
    stapled: number;
    cpuSeconds: number;
    maxRssBytes: number;
    latenciesMs: number[];
    errors: Record<string, number>;
    warm: { wallSeconds: number; ok: number; stapled: number; cpuSeconds: number };
  };
  const n = ctx.targets.length;
  const coldNginx = loop.nginxSeconds[0];
  const warmNginx = loop.nginxSeconds[loop.nginxSeconds.length - 1];
  if (coldNginx === undefined || warmNginx === undefined) throw new Error('handshake-loop.mjs reported no passes');
  return {
    contender: 'limit',
    targets: n,
    concurrency: ctx.concurrency,
    wallSeconds: r.wallSeconds,
    probesPerSecond: r.ok / r.wallSeconds,
    ok: r.stapled,
    failed: n - r.stapled,
    latencyP50Ms: percentile(r.latenciesMs, 50),
    latencyP99Ms: percentile(r.latenciesMs, 99),
    cpuMsPerProbe: (r.cpuSeconds / n) * 1000,
    peakRssBytes: r.maxRssBytes,
    warmWallSeconds: r.warm.wallSeconds,
    warmProbesPerSecond: r.warm.ok / r.warm.wallSeconds,
    warmCpuMsPerProbe: (r.warm.cpuSeconds / n) * 1000,
    nginxCpuMsPerProbe: (coldNginx / n) * 1000,
    warmNginxCpuMsPerProbe: (warmNginx / n) * 1000,
    ...(r.failed > 0 ? { note: `errors ${JSON.stringify(r.errors)}` } : {}),
  };
}

/**
 * Runs handshake-loop.mjs in its `sync` mode: nginx's CPU is read when the loop announces a pass
 * and again when the pass ends, and only then is the pass let go, so each pass' nginx time covers
 * the same interval as the loop's own CPU reading. Returns the final JSON line and nginx's CPU
 * seconds per pass (0 = cold, last = steady state).
 */
function runHandshakeLoop(ctx: RunContext, targetsFile: string): Promise<{ result: string; nginxSeconds: number[] }> {
  const args = [
    path.join(here, 'handshake-loop.mjs'),
    targetsFile,
    String(ctx.concurrency),
    String(ctx.threads),
    SERVER_NAME,
    String(ctx.timeoutSeconds * 1000),
    String(passesBeforeSteady(ctx)),
    'sync',
  ];
  const maxOutputBytes = 256 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const nginxSeconds: number[] = [];
    let passStart = 0;
    let stdout = '';
    let stderr = '';
    let failure: Error | null = null;
    const fail = (error: Error): void => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const onLine = (line: string): void => {
      const mark = /^pass-(start|end) (\d+)$/.exec(line);
      if (!mark) return;
      try {
        if (mark[1] === 'start') {
          passStart = nginxCpu(ctx);
          child.stdin.write('go\n');
        } else {
          nginxSeconds[Number(mark[2])] = nginxCpu(ctx) - passStart;
        }
      } catch (error) {
        fail(error as Error);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.length > maxOutputBytes) return fail(new Error(`handshake-loop.mjs wrote more than ${maxOutputBytes} bytes`));
      let newline: number;
      while ((newline = stdout.indexOf('\n')) >= 0 && stdout.startsWith('pass-')) {
        onLine(stdout.slice(0, newline));
        stdout = stdout.slice(newline + 1);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    // The loop may exit before reading its last go; a broken pipe then is no error of its own.
    child.stdin.on('error', () => {});
    child.once('error', fail);
    child.once('close', (code, signal) => {
      if (failure) return reject(failure);
      if (code !== 0) return reject(new Error(`handshake-loop.mjs exited with ${code ?? signal}: ${stderr.slice(0, 2000)}`));
      resolve({ result: stdout, nginxSeconds });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The exporter

export function benchConfig(
  ctx: Pick<RunContext, 'fleet' | 'targets' | 'concurrency' | 'timeoutSeconds'>,
  caPem: string,
  minProbeIntervalSeconds: number,
  handshake: 'native' | 'node' = 'node',
): Config {
  const module: ModuleConfig = {
    ...DEFAULT_MODULE,
    name: 'bench',
    handshake,
    timeoutSeconds: ctx.timeoutSeconds,
    serverName: SERVER_NAME,
    caFile: ctx.fleet.trustPath,
    caPem,
  };
  return {
    global: { concurrency: ctx.concurrency, minProbeIntervalSeconds, probeAllowlist: [] },
    modules: { default: { ...DEFAULT_MODULE, name: 'default' }, bench: module },
    targets: ctx.targets.map((t) => ({ target: `${t.host}:${t.port}`, host: t.host, port: t.port, module: 'bench', serverName: null, labels: {} })),
    file: null,
  };
}

export interface RunningExporter {
  url: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

export async function startExporter(ctx: RunContext, config: Config, workers: number): Promise<RunningExporter> {
  const configFile = path.join(ctx.dir, `exporter-${ctx.targets.length}-${workers}.json`);
  await writeFile(configFile, JSON.stringify(config));
  const port = await freePort();
  const proc = spawnManaged({
    name: `exporter(workers=${workers})`,
    command: process.execPath,
    // BENCH_EXPORTER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the exporter alone.
    args: [...(process.env.BENCH_EXPORTER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), path.join(here, 'exporter-process.mjs'), ctx.distDir, configFile, String(port), String(workers)],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await get(`${url}/-/ready`, undefined, 2000)).status === 200, 60_000, {
    what: 'the exporter to be ready',
    diagnostics: () => proc.diagnostics(),
    abortIf: () => (proc.exitInfo ? 'the exporter exited' : null),
  });
  // Worker threads load their modules after the HTTP server is up; let them settle.
  await sleep(1000);
  return { url, proc, stop: () => proc.stop(10_000) };
}

/** Series values of `metric` from a /metrics body, or fail loudly when the scrape was not 200. */
function mustScrape(result: Awaited<ReturnType<typeof get>>, what: string): string {
  if (result.status !== 200) throw new Error(`${what}: HTTP ${result.status} ${result.error ?? result.body.slice(0, 300)}`);
  return result.body;
}

export async function runExporter(ctx: RunContext, caPem: string, workers: number, cachedScrapes = 5, handshake: 'native' | 'node' = 'node'): Promise<RunFigures> {
  const exporter = await startExporter(ctx, benchConfig(ctx, caPem, 3600, handshake), workers);
  try {
    const pid = exporter.proc.pid;
    const nginx0 = nginxCpu(ctx);
    const cpu0 = cpuSeconds(pid);
    const cold = await get(`${exporter.url}/metrics`);
    const cpu1 = cpuSeconds(pid);
    const coldNginxSeconds = nginxCpu(ctx) - nginx0;
    const body = mustScrape(cold, 'cold /metrics');
    const n = ctx.targets.length;
    const sweepSeconds = samples(body, 'ocsp_exporter_sweep_duration_seconds')[0] ?? cold.ms / 1000;
    const success = samples(body, 'ocsp_probe_success');
    const valid = samples(body, 'ocsp_staple_valid').filter((v) => v === 1).length;
    const durations = samples(body, 'ocsp_probe_duration_seconds').map((s) => s * 1000);

    const cached: { ms: number; bytes: number }[] = [];
    const renderCpu0 = cpuSeconds(pid);
    for (let i = 0; i < cachedScrapes; i++) {
      const warm = await get(`${exporter.url}/metrics`);
      const warmBody = mustScrape(warm, 'cached /metrics');
      const reused = samples(warmBody, 'ocsp_exporter_sweep_probes');
      if (!reused.includes(n)) throw new Error(`cached /metrics probed again instead of reusing ${n} results (sweep probes: ${reused.join(', ')})`);
      cached.push({ ms: warm.ms, bytes: warm.bytes });
    }
    const renderCpuMs = ((cpuSeconds(pid) - renderCpu0) / cachedScrapes) * 1000;
    cached.sort((a, b) => a.ms - b.ms);

    // Peak RSS of the measurement the goals are stated for: the cold sweep and the cached scrapes.
    const coldPeakRssBytes = peakRssBytes(pid);
    // Then the same scrape as Prometheus asks for it, gzipped; its peak shows in the steady one.
    const gzipped: { ms: number; bytes: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await get(`${exporter.url}/metrics`, undefined, 600_000, { 'accept-encoding': 'gzip' });
      if (r.status !== 200) throw new Error(`gzip /metrics: HTTP ${r.status} ${r.error ?? ''}`);
      gzipped.push({ ms: r.ms, bytes: r.bytes });
    }
    gzipped.sort((a, b) => a.ms - b.ms);
    // The steady state: full sweeps (exporter-process.mjs, SIGUSR2) until the process has made
    // `steadyAfterProbes` probes, then the measured one, everything warm.
    process.kill(pid, 'SIGUSR2');
    await sleep(200);
    for (let pass = 1; pass < passesBeforeSteady(ctx); pass++) mustScrape(await get(`${exporter.url}/metrics`), 'warm-up /metrics');
    const warmNginx0 = nginxCpu(ctx);
    const warmCpu0 = cpuSeconds(pid);
    const warmBody = mustScrape(await get(`${exporter.url}/metrics`), 'steady-state /metrics');
    const warmCpuMs = (cpuSeconds(pid) - warmCpu0) * 1000;
    const warmNginxSeconds = nginxCpu(ctx) - warmNginx0;
    const warmValid = samples(warmBody, 'ocsp_staple_valid').filter((v) => v === 1).length;
    const warmSweepSeconds = samples(warmBody, 'ocsp_exporter_sweep_duration_seconds')[0] ?? NaN;
    if (!warmBody.includes(`ocsp_exporter_sweep_probes{result="probed"} ${n}\n`)) throw new Error('the steady-state scrape did not probe every target again');
    const mid = cached[Math.floor(cached.length / 2)]!;
    const ok = Math.min(valid, success.filter((v) => v === 1).length);
    return {
      contender: handshake === 'native' ? 'native' : workers > 0 ? 'exporter' : 'exporter-1thread',
      targets: n,
      concurrency: ctx.concurrency,
      wallSeconds: sweepSeconds,
      probesPerSecond: n / sweepSeconds,
      ok,
      failed: n - ok,
      latencyP50Ms: percentile(durations, 50),
      latencyP99Ms: percentile(durations, 99),
      cpuMsPerProbe: ((cpu1 - cpu0) / n) * 1000,
      peakRssBytes: coldPeakRssBytes,
      warmPeakRssBytes: peakRssBytes(pid),
      coldScrapeMs: cold.ms,
      cachedScrapeMs: mid.ms,
      cachedScrapeBytes: mid.bytes,
      cachedScrapeCpuMs: renderCpuMs,
      cachedGzipScrapeMs: gzipped[1]!.ms,
      cachedGzipScrapeBytes: gzipped[1]!.bytes,
      sweepCpuMsPerProbe: Math.max(0, ((cpu1 - cpu0) * 1000 - renderCpuMs) / n),
      warmWallSeconds: warmSweepSeconds,
      warmProbesPerSecond: Math.min(warmValid, n) / warmSweepSeconds,
      warmCpuMsPerProbe: Math.max(0, (warmCpuMs - renderCpuMs) / n),
      nginxCpuMsPerProbe: (coldNginxSeconds / n) * 1000,
      warmNginxCpuMsPerProbe: (warmNginxSeconds / n) * 1000,
      ...(success.length !== n ? { note: `${success.length} results for ${n} targets` } : {}),
    };
  } finally {
    await exporter.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// blackbox_exporter

export const BLACKBOX_BINARY = '/usr/bin/prometheus-blackbox-exporter';

export async function runBlackbox(ctx: RunContext): Promise<RunFigures> {
  const configFile = path.join(ctx.dir, 'blackbox.yml');
  await writeFile(
    configFile,
    [
      'modules:',
      '  tls:',
      '    prober: tcp',
      `    timeout: ${ctx.timeoutSeconds}s`,
      '    tcp:',
      '      preferred_ip_protocol: ip4',
      '      tls: true',
      '      tls_config:',
      `        ca_file: ${ctx.fleet.trustPath}`,
      `        server_name: ${SERVER_NAME}`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const proc = spawnManaged({
    name: 'blackbox_exporter',
    command: BLACKBOX_BINARY,
    args: [`--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await get(`${url}/-/healthy`, undefined, 2000)).status === 200, 30_000, {
      what: 'blackbox_exporter to be healthy',
      diagnostics: () => proc.diagnostics(),
      abortIf: () => (proc.exitInfo ? 'blackbox_exporter exited' : null),
    });
    const agent = keepAliveAgent(ctx.concurrency);
    // Open the keep-alive connections first, as a Prometheus that has been scraping would have.
    await Promise.all(Array.from({ length: ctx.concurrency }, () => get(`${url}/-/healthy`, agent)));
    const n = ctx.targets.length;
    /** One pass over the targets through /probe, `concurrency` requests at a time. */
    const pass = async () => {
      const durationsMs: number[] = [];
      const errors = new Map<string, number>();
      let ok = 0;
      let next = 0;
      // nginx is read outside the driver's own CPU reading, so reading /proc does not count to it.
      const nginx0 = nginxCpu(ctx);
      const driverCpu0 = process.cpuUsage();
      const cpu0 = cpuSeconds(proc.pid);
      const started = performance.now();
      const runner = async (): Promise<void> => {
        while (next < n) {
          const t = ctx.targets[next++]!;
          const r = await get(`${url}/probe?module=tls&target=${t.host}:${t.port}`, agent);
          const success = samples(r.body, 'probe_success')[0];
          const duration = samples(r.body, 'probe_duration_seconds')[0];
          if (duration !== undefined) durationsMs.push(duration * 1000);
          if (r.status === 200 && success === 1) ok++;
          else {
            const key = r.error ?? `HTTP ${r.status} probe_success ${String(success)}`;
            errors.set(key, (errors.get(key) ?? 0) + 1);
          }
        }
      };
      await Promise.all(Array.from({ length: ctx.concurrency }, runner));
      const wallSeconds = (performance.now() - started) / 1000;
      const driverCpu = process.cpuUsage(driverCpu0);
      const proberSeconds = cpuSeconds(proc.pid) - cpu0;
      const nginxSeconds = nginxCpu(ctx) - nginx0;
      return { wallSeconds, ok, durationsMs, errors, cpuSeconds: proberSeconds, driverCpuSeconds: (driverCpu.user + driverCpu.system) / 1e6, nginxSeconds };
    };
    const cold = await pass();
    // The same number of probes before the steady-state pass as the other contenders make.
    for (let p = 1; p < passesBeforeSteady(ctx); p++) await pass();
    const warm = await pass();
    const { wallSeconds, ok, durationsMs, errors } = cold;
    agent.destroy();
    return {
      contender: 'blackbox',
      targets: n,
      concurrency: ctx.concurrency,
      wallSeconds,
      probesPerSecond: ok / wallSeconds,
      ok,
      failed: n - ok,
      latencyP50Ms: percentile(durationsMs, 50),
      latencyP99Ms: percentile(durationsMs, 99),
      cpuMsPerProbe: (cold.cpuSeconds / n) * 1000,
      peakRssBytes: peakRssBytes(proc.pid),
      warmWallSeconds: warm.wallSeconds,
      warmProbesPerSecond: warm.ok / warm.wallSeconds,
      warmCpuMsPerProbe: (warm.cpuSeconds / n) * 1000,
      driverCpuMsPerProbe: (cold.driverCpuSeconds / n) * 1000,
      nginxCpuMsPerProbe: (cold.nginxSeconds / n) * 1000,
      warmNginxCpuMsPerProbe: (warm.nginxSeconds / n) * 1000,
      ...(errors.size > 0 ? { note: `errors ${JSON.stringify(Object.fromEntries(errors))}` } : {}),
    };
  } finally {
    await proc.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Soak

export interface SoakSample {
  sweep: number;
  sweepSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  ok: number;
}

export interface SoakFigures {
  targets: number;
  sweeps: number;
  workers: number;
  samples: SoakSample[];
  /** Smallest RSS / heap over the first and the last tenth of the sweeps (robust to GC timing). */
  rssStartBytes: number;
  rssEndBytes: number;
  heapStartBytes: number;
  heapEndBytes: number;
  peakRssBytes: number;
}

export async function runSoak(ctx: RunContext, caPem: string, workers: number, sweeps: number, onSweep?: (s: SoakSample) => void): Promise<SoakFigures> {
  // min_probe_interval 0: every scrape is a full sweep.
  const exporter = await startExporter(ctx, benchConfig(ctx, caPem, 0), workers);
  const collected: SoakSample[] = [];
  try {
    for (let sweep = 1; sweep <= sweeps; sweep++) {
      const r = await get(`${exporter.url}/metrics`);
      const body = mustScrape(r, `soak sweep ${sweep}`);
      const sample: SoakSample = {
        sweep,
        sweepSeconds: samples(body, 'ocsp_exporter_sweep_duration_seconds')[0] ?? NaN,
        rssBytes: rssBytes(exporter.proc.pid),
        heapUsedBytes: samples(body, 'nodejs_heap_size_used_bytes')[0] ?? NaN,
        ok: samples(body, 'ocsp_staple_valid').filter((v) => v === 1).length,
      };
      collected.push(sample);
      onSweep?.(sample);
    }
    const tenth = Math.max(1, Math.floor(sweeps / 10));
    const first = collected.slice(0, tenth);
    const last = collected.slice(-tenth);
    const min = (xs: SoakSample[], key: 'rssBytes' | 'heapUsedBytes') => Math.min(...xs.map((x) => x[key]));
    return {
      targets: ctx.targets.length,
      sweeps,
      workers,
      samples: collected,
      rssStartBytes: min(first, 'rssBytes'),
      rssEndBytes: min(last, 'rssBytes'),
      heapStartBytes: min(first, 'heapUsedBytes'),
      heapEndBytes: min(last, 'heapUsedBytes'),
      peakRssBytes: peakRssBytes(exporter.proc.pid),
    };
  } finally {
    await exporter.stop();
  }
}
