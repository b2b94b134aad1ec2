/**
 * `npm run bench`: throughput, latency, CPU and memory of a /metrics sweep against N real TLS
 * targets (nginx on loopback), next to the limit (bare `tls.connect` + `requestOCSP` on every core,
 * shared SecureContext) and Debian's blackbox_exporter, all in the same run, on the same targets,
 * at the same concurrency. These machines are shared and noisy: absolute figures move between
 * runs, so the verdicts are ratios within one run (medians over `--repeat` rounds, the contenders'
 * order rotating each round). `--soak S` then runs S consecutive full sweeps of `--soak-targets`
 * and reports RSS and heap at the start and the end.
 *
 *   npm run bench -- [--targets 100,1000,10000] [--concurrency 64] [--repeat 3] [--threads N]
 *                    [--contenders limit,exporter,exporter-1thread,native,blackbox] [--soak 100]
 *                    [--soak-targets 1000] [--steady-after 10000] [--no-build] [--out bench/results]
 *
 * Beside each contender's CPU per probe, nginx's own (master + workers) over the same intervals, and
 * what the two together allow on this machine's cores: the ceiling a prober's probes/s can reach.
 *
 * The steady state is measured once the prober's process has made `--steady-after` probes (the cold
 * pass included): one more pass at 10,000 targets, ten at 1,000. A daemon that has run a few minutes
 * is past that, and the exporter's own code is still being optimised during its first thousands.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findBinary } from '../test/e2e/lab/binaries.js';
import { stopAllProcesses } from '../test/e2e/lab/processes.js';
import {
  BLACKBOX_BINARY,
  runBlackbox,
  runExporter,
  runLimit,
  runSoak,
  type ContenderName,
  type RunContext,
  type RunFigures,
  type SoakFigures,
} from './lib/contenders.js';
import { startFleet } from './lib/fleet.js';
import { fixed, mb, median, slope, table } from './lib/stats.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '100,1000,10000' },
    concurrency: { type: 'string', default: '64' },
    repeat: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    contenders: { type: 'string', default: 'limit,exporter,exporter-1thread,native,blackbox' },
    soak: { type: 'string', default: '0' },
    'soak-targets': { type: 'string', default: '1000' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(root, 'bench', 'results') },
    timeout: { type: 'string', default: '10' },
    'steady-after': { type: 'string', default: '10000' },
  },
  strict: true,
});

const sizes = values.targets.split(',').filter(Boolean).map(Number);
const concurrency = Number(values.concurrency);
const repeat = Number(values.repeat);
const threads = Number(values.threads);
const soakSweeps = Number(values.soak);
const soakTargets = Number(values['soak-targets']);
const timeoutSeconds = Number(values.timeout);
const steadyAfterProbes = Number(values['steady-after']);
let contenders = values.contenders.split(',').filter(Boolean) as ContenderName[];
for (const c of contenders) {
  if (!['limit', 'exporter', 'exporter-1thread', 'native', 'blackbox'].includes(c)) throw new Error(`unknown contender "${c}"`);
}
for (const [name, n] of [['targets', Math.min(...sizes)], ['concurrency', concurrency], ['repeat', repeat], ['threads', threads]] as const) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
}
if (!Number.isInteger(steadyAfterProbes) || steadyAfterProbes < 0) throw new Error('--steady-after must be a whole number of probes');

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function versionOf(command: string, args: string[]): string {
  // nginx -v prints to stderr (exit 0), blackbox --version to stdout.
  const run = spawnSync(command, args, { encoding: 'utf8' });
  const text = `${run.stdout ?? ''}\n${run.stderr ?? ''}`.split('\n').find((line) => line.trim() !== '');
  return text?.trim() ?? 'unknown';
}

// --- preflight -----------------------------------------------------------------------------------
if (!findBinary('nginx') || !findBinary('openssl')) throw new Error('the benchmark needs nginx and openssl: apt-get install -y nginx openssl');
if (contenders.includes('blackbox') && !existsSync(BLACKBOX_BINARY)) {
  log(`blackbox_exporter not found at ${BLACKBOX_BINARY}: skipping it (apt-get install -y prometheus-blackbox-exporter)`);
  contenders = contenders.filter((c) => c !== 'blackbox');
}
const nginxBinary = findBinary('nginx')!;
const distDir = path.join(root, 'dist');
if (!values['no-build']) {
  log('building dist/ (npm run build) ...');
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // tsc emits even with type errors elsewhere; what matters is that the files we run exist.
    log(`npm run build reported errors (continuing with what it emitted):\n${(error as { stdout?: Buffer }).stdout?.toString().slice(0, 2000) ?? ''}`);
  }
}
for (const file of ['app.js', 'probe/pool.js', 'probe/worker.js']) {
  if (!existsSync(path.join(distDir, file))) throw new Error(`dist/${file} is missing: run npm run build`);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'ocsp-bench-'));
const startedAt = new Date();
const environment = {
  date: startedAt.toISOString(),
  host: os.hostname(),
  cpus: os.availableParallelism(),
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryBytes: os.totalmem(),
  node: process.version,
  openssl: process.versions.openssl,
  nginx: versionOf(nginxBinary, ['-v']),
  blackbox: contenders.includes('blackbox') ? versionOf(BLACKBOX_BINARY, ['--version']) : null,
  loadAverageAtStart: os.loadavg(),
  concurrency,
  threads,
  repeat,
  timeoutSeconds,
  steadyAfterProbes,
};

async function main(): Promise<void> {
  const runs: RunFigures[] = [];
  const summaries: SizeSummary[] = [];
  let soak: SoakFigures | null = null;
  const maxSize = Math.max(...sizes, soakSweeps > 0 ? soakTargets : 0);
  log(`starting nginx with ${maxSize} loopback TLS targets in ${dir} ...`);
  const fleet = await startFleet({ dir: path.join(dir, 'nginx'), count: maxSize });
  const caPem = readFileSync(fleet.trustPath, 'utf8');
  log(`nginx up: ${fleet.ports.length} ports × ${Math.ceil(maxSize / fleet.ports.length)} addresses, ${fleet.certificates} ECDSA certificates`);

  try {
    for (const size of sizes) {
      const ctx: RunContext = { dir, fleet, targets: fleet.targets.slice(0, size), concurrency, threads, timeoutSeconds, distDir, steadyAfterProbes };
      const mine: RunFigures[] = [];
      for (let round = 0; round < repeat; round++) {
        // Rotate the order so slow drift of the machine's load does not favour one contender.
        const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
        for (const contender of order) {
          const load = os.loadavg()[0]!;
          const figures =
            contender === 'limit'
              ? await runLimit(ctx)
              : contender === 'blackbox'
                ? await runBlackbox(ctx)
                : contender === 'native'
                  ? await runExporter(ctx, caPem, threads, 5, 'native')
                  : await runExporter(ctx, caPem, contender === 'exporter' ? threads : 0);
          mine.push(figures);
          runs.push(figures);
          log(
            `  N=${size} round ${round + 1}/${repeat} ${contender.padEnd(16)} ${fixed(figures.probesPerSecond).padStart(6)} probes/s  ` +
              `ok ${figures.ok}/${size}  cpu ${fixed(figures.cpuMsPerProbe, 2)} ms/probe, nginx ${fixed(figures.nginxCpuMsPerProbe, 2)}  (load ${load.toFixed(1)})${figures.note ? `  ${figures.note}` : ''}`,
          );
        }
      }
      summaries.push(summarise(size, mine));
    }
    if (soakSweeps > 0) {
      const ctx: RunContext = { dir, fleet, targets: fleet.targets.slice(0, soakTargets), concurrency, threads, timeoutSeconds, distDir, steadyAfterProbes };
      log(`soak: ${soakSweeps} consecutive sweeps of ${soakTargets} targets ...`);
      soak = await runSoak(ctx, caPem, threads, soakSweeps, (s) => {
        if (s.sweep === 1 || s.sweep % 10 === 0) {
          log(`  sweep ${s.sweep}: ${fixed(s.sweepSeconds, 2)} s, RSS ${mb(s.rssBytes)} MiB, heap ${mb(s.heapUsedBytes)} MiB, valid ${s.ok}`);
        }
      });
    }
  } finally {
    await fleet.stop();
  }

  const result = { environment: { ...environment, loadAverageAtEnd: os.loadavg() }, summaries, soak: soak && summariseSoak(soak), runs, soakSamples: soak?.samples ?? [] };
  printReport(summaries, soak);
  mkdirSync(values.out, { recursive: true });
  const file = path.join(values.out, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`\nfigures written to ${path.relative(process.cwd(), file)}`);
}

type Summary = Record<string, number | string | null>;

interface SizeSummary {
  targets: number;
  exporterOverLimit: number | null;
  /** The same ratio for the steady-state sweeps (after `--steady-after` probes in the same process, everything warm). */
  exporterOverLimitSteady: number | null;
  exporterOverBlackbox: number | null;
  exporterOverBlackboxSteady: number | null;
  exporterOverSingleThread: number | null;
  singleThreadOverBlackbox: number | null;
  /** The native engine (module `handshake: native`) against blackbox_exporter and Node's engine. */
  nativeOverBlackbox: number | null;
  nativeOverExporter: number | null;
  nativeCpuOverBlackbox: number | null;
  nativeSteadyCpuOverBlackbox: number | null;
  contenders: Record<string, Summary>;
}

/** Medians over the rounds, per contender, and the ratios the goals are stated in. */
function summarise(size: number, figures: RunFigures[]): SizeSummary {
  const by: Record<string, Summary> = {};
  for (const contender of new Set(figures.map((f) => f.contender))) {
    const mine = figures.filter((f) => f.contender === contender);
    const m = (key: keyof RunFigures): number | null => {
      const xs = mine.map((f) => f[key]).filter((x): x is number => typeof x === 'number');
      return xs.length ? median(xs) : null;
    };
    by[contender] = {
      rounds: mine.length,
      wallSeconds: m('wallSeconds'),
      probesPerSecond: m('probesPerSecond'),
      probesPerSecondMin: Math.min(...mine.map((f) => f.probesPerSecond)),
      probesPerSecondMax: Math.max(...mine.map((f) => f.probesPerSecond)),
      okMin: Math.min(...mine.map((f) => f.ok)),
      latencyP50Ms: m('latencyP50Ms'),
      latencyP99Ms: m('latencyP99Ms'),
      cpuMsPerProbe: m('cpuMsPerProbe'),
      peakRssBytes: m('peakRssBytes'),
      coldScrapeMs: m('coldScrapeMs'),
      cachedScrapeMs: m('cachedScrapeMs'),
      cachedScrapeBytes: m('cachedScrapeBytes'),
      cachedScrapeCpuMs: m('cachedScrapeCpuMs'),
      cachedGzipScrapeMs: m('cachedGzipScrapeMs'),
      cachedGzipScrapeBytes: m('cachedGzipScrapeBytes'),
      sweepCpuMsPerProbe: m('sweepCpuMsPerProbe'),
      warmProbesPerSecond: m('warmProbesPerSecond'),
      warmCpuMsPerProbe: m('warmCpuMsPerProbe'),
      warmPeakRssBytes: m('warmPeakRssBytes'),
      driverCpuMsPerProbe: m('driverCpuMsPerProbe'),
      ...cpuBound(m('sweepCpuMsPerProbe') ?? m('cpuMsPerProbe'), m('nginxCpuMsPerProbe'), m('warmCpuMsPerProbe'), m('warmNginxCpuMsPerProbe')),
    };
  }
  const rate = (c: string) => (by[c]?.probesPerSecond as number | undefined) ?? null;
  const ratio = (a: string, b: string) => {
    const x = rate(a);
    const y = rate(b);
    return x !== null && y !== null ? x / y : null;
  };
  const steady = (c: string) => (by[c]?.warmProbesPerSecond as number | null | undefined) ?? null;
  const cpuRatio = (a: string, b: string, key: 'sweepCpuMsPerProbe' | 'warmCpuMsPerProbe' = 'sweepCpuMsPerProbe') => {
    // blackbox_exporter and the limit have no sweep-only figure: their whole run is the sweep.
    const x = (by[a]?.[key] ?? by[a]?.cpuMsPerProbe) as number | null | undefined;
    const y = (by[b]?.[key] ?? by[b]?.cpuMsPerProbe) as number | null | undefined;
    return typeof x === 'number' && typeof y === 'number' && y > 0 ? x / y : null;
  };
  const exporterSteady = steady('exporter');
  const limitSteady = steady('limit');
  const blackboxSteady = steady('blackbox');
  return {
    targets: size,
    exporterOverLimit: ratio('exporter', 'limit'),
    exporterOverLimitSteady: exporterSteady !== null && limitSteady !== null ? exporterSteady / limitSteady : null,
    exporterOverBlackbox: ratio('exporter', 'blackbox'),
    exporterOverBlackboxSteady: exporterSteady !== null && blackboxSteady !== null ? exporterSteady / blackboxSteady : null,
    exporterOverSingleThread: ratio('exporter', 'exporter-1thread'),
    singleThreadOverBlackbox: ratio('exporter-1thread', 'blackbox'),
    nativeOverBlackbox: ratio('native', 'blackbox'),
    nativeOverExporter: ratio('native', 'exporter'),
    nativeCpuOverBlackbox: cpuRatio('native', 'blackbox'),
    nativeSteadyCpuOverBlackbox: cpuRatio('native', 'blackbox', 'warmCpuMsPerProbe'),
    contenders: by,
  };
}

/**
 * nginx's CPU per probe beside the prober's, and the probes/s both together allow on this machine:
 * every core busy with nothing but the prober and nginx, cores / (prober + nginx CPU per probe).
 * The prober's cold figure is its sweep-only one where there is one, as probes/s is the sweep's.
 */
function cpuBound(prober: number | null, nginx: number | null, warmProber: number | null, warmNginx: number | null): Summary {
  const sum = (a: number | null, b: number | null) => (a !== null && b !== null ? a + b : null);
  const ceiling = (ms: number | null) => (ms !== null && ms > 0 ? (environment.cpus * 1000) / ms : null);
  const cold = sum(prober, nginx);
  const warm = sum(warmProber, warmNginx);
  return {
    nginxCpuMsPerProbe: nginx,
    warmNginxCpuMsPerProbe: warmNginx,
    proberPlusNginxCpuMsPerProbe: cold,
    warmProberPlusNginxCpuMsPerProbe: warm,
    cpuCeilingProbesPerSecond: ceiling(cold),
    warmCpuCeilingProbesPerSecond: ceiling(warm),
  };
}

function summariseSoak(soak: SoakFigures): Record<string, number> {
  const tail = soak.samples.slice(Math.floor(soak.samples.length / 2));
  return {
    targets: soak.targets,
    sweeps: soak.sweeps,
    workers: soak.workers,
    rssStartBytes: soak.rssStartBytes,
    rssEndBytes: soak.rssEndBytes,
    heapStartBytes: soak.heapStartBytes,
    heapEndBytes: soak.heapEndBytes,
    peakRssBytes: soak.peakRssBytes,
    /** Trend over the second half, bytes per sweep (a leak is a steady positive slope). */
    rssSlopeBytesPerSweep: slope(tail.map((s) => s.rssBytes)),
    heapSlopeBytesPerSweep: slope(tail.map((s) => s.heapUsedBytes)),
    medianSweepSeconds: median(soak.samples.map((s) => s.sweepSeconds)),
    minValid: Math.min(...soak.samples.map((s) => s.ok)),
  };
}

function printReport(summaries: SizeSummary[], soak: SoakFigures | null): void {
  const rows: string[][] = [];
  for (const s of summaries) {
    for (const [name, c] of Object.entries(s.contenders)) {
      rows.push([
        `${s.targets}`,
        name,
        fixed(c.wallSeconds as number, 2),
        `${fixed(c.probesPerSecond as number)} (${fixed(c.probesPerSecondMin as number)}–${fixed(c.probesPerSecondMax as number)})`,
        `${c.okMin}`,
        fixed(c.latencyP50Ms as number, 1),
        fixed(c.latencyP99Ms as number, 1),
        c.sweepCpuMsPerProbe === null ? fixed(c.cpuMsPerProbe as number, 2) : `${fixed(c.cpuMsPerProbe as number, 2)} (${fixed(c.sweepCpuMsPerProbe as number, 2)})`,
        c.warmProbesPerSecond === null ? '–' : `${fixed(c.warmProbesPerSecond as number)} / ${fixed(c.warmCpuMsPerProbe as number, 2)}`,
        c.warmPeakRssBytes === null ? mb(c.peakRssBytes as number) : `${mb(c.peakRssBytes as number)} (${mb(c.warmPeakRssBytes as number)})`,
        c.cachedScrapeMs === null
          ? '–'
          : `${fixed(c.cachedScrapeMs as number)} ms / ${mb(c.cachedScrapeBytes as number)} MiB / CPU ${fixed(c.cachedScrapeCpuMs as number)} ms; gzip ${fixed(c.cachedGzipScrapeMs as number)} ms / ${mb(c.cachedGzipScrapeBytes as number)} MiB`,
      ]);
    }
  }
  process.stdout.write(
    `\n${table(['N', 'contender', 'sweep s', 'probes/s (min–max)', 'ok', 'p50 ms', 'p99 ms', 'CPU ms/probe (sweep only)', 'steady: probes/s / CPU ms', 'peak RSS MiB (steady)', '/metrics cached: time / size / CPU; gzipped'], rows)}\n\n`,
  );
  // What bounds probes/s: the prober's and nginx's CPU per probe on the same cores.
  const boundRows: string[][] = [];
  for (const s of summaries) {
    for (const [name, c] of Object.entries(s.contenders)) {
      const prober = (c.sweepCpuMsPerProbe ?? c.cpuMsPerProbe) as number | null;
      boundRows.push([
        `${s.targets}`,
        name,
        `${fixed(prober, 2)} + ${fixed(c.nginxCpuMsPerProbe as number | null, 2)} = ${fixed(c.proberPlusNginxCpuMsPerProbe as number | null, 2)}`,
        fixed(c.cpuCeilingProbesPerSecond as number | null),
        fixed(c.probesPerSecond as number),
        `${fixed(c.warmCpuMsPerProbe as number | null, 2)} + ${fixed(c.warmNginxCpuMsPerProbe as number | null, 2)} = ${fixed(c.warmProberPlusNginxCpuMsPerProbe as number | null, 2)}`,
        fixed(c.warmCpuCeilingProbesPerSecond as number | null),
        fixed(c.warmProbesPerSecond as number | null),
      ]);
    }
  }
  process.stdout.write(
    `${table(['N', 'contender', 'CPU ms/probe: prober + nginx', `ceiling on ${environment.cpus} cores`, 'probes/s', 'steady: prober + nginx', 'steady ceiling', 'steady probes/s'], boundRows)}\n\n`,
  );
  const ratioRows = summaries.map((s) => [
    `${s.targets}`,
    fixed(s.exporterOverLimit, 2),
    fixed(s.exporterOverLimitSteady, 2),
    fixed(s.exporterOverBlackbox, 2),
    fixed(s.exporterOverBlackboxSteady, 2),
    fixed(s.exporterOverSingleThread, 2),
    fixed(s.singleThreadOverBlackbox, 2),
  ]);
  process.stdout.write(`${table(['N', 'exporter/limit', 'exporter/limit steady', 'exporter/blackbox', 'exporter/blackbox steady', 'exporter/1-thread', '1-thread/blackbox'], ratioRows)}\n`);
  if (summaries.some((s) => s.contenders['native'])) {
    // The native engine's goals (issue: CPU per probe at most half of blackbox_exporter's, at least twice its probes/s).
    const nativeRows = summaries.map((s) => [
      `${s.targets}`,
      fixed(s.contenders['native']?.sweepCpuMsPerProbe as number | null, 3),
      fixed(s.contenders['native']?.warmCpuMsPerProbe as number | null, 3),
      fixed(s.nativeCpuOverBlackbox, 2),
      fixed(s.nativeSteadyCpuOverBlackbox, 2),
      fixed(s.nativeOverBlackbox, 2),
      fixed(s.nativeOverExporter, 2),
    ]);
    process.stdout.write(`\n${table(['N', 'native CPU ms/probe', 'native steady CPU ms', 'native/blackbox CPU', 'native/blackbox CPU steady', 'native/blackbox probes/s', 'native/exporter probes/s'], nativeRows)}\n`);
  }
  if (soak) {
    const s = summariseSoak(soak);
    process.stdout.write(
      `\nsoak: ${s.sweeps} sweeps × ${s.targets} targets, ${s.workers} workers, median sweep ${fixed(s.medianSweepSeconds, 2)} s, min valid ${s.minValid}\n` +
        `  RSS  ${mb(s.rssStartBytes)} MiB → ${mb(s.rssEndBytes)} MiB (second-half trend ${fixed((s.rssSlopeBytesPerSweep ?? 0) / 1024, 1)} KiB/sweep), peak ${mb(s.peakRssBytes)} MiB\n` +
        `  heap ${mb(s.heapStartBytes)} MiB → ${mb(s.heapEndBytes)} MiB (second-half trend ${fixed((s.heapSlopeBytesPerSweep ?? 0) / 1024, 1)} KiB/sweep, main thread)\n`,
    );
  }
}

try {
  await main();
} finally {
  await stopAllProcesses();
  rmSync(dir, { recursive: true, force: true });
}
