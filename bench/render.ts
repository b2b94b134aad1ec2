/**
 * `node --import tsx bench/render.ts`: what one `/metrics` rendering of N probe results costs, with
 * the exposition writer the exporter uses (src/metrics/render.ts) next to a baseline measured in the
 * same run: the same results set into a fresh prom-client Registry and serialised with
 * `registry.metrics()` (`addProbeMetrics`, the path /metrics used before). "cold" renders new result
 * objects every time (a sweep that probed everything afresh); "warm" renders the same objects again
 * (results reused while younger than min_probe_interval). The clock moves between renders, so the
 * time-dependent series are recomputed every time. "streamed" is what /metrics does with the warm
 * results: chunks of about 64 K characters, each encoded to UTF-8 as the socket would, never one
 * whole string. Machines are shared and noisy: compare by ratio within one run.
 *
 *   node --import tsx bench/render.ts [--results 10000] [--rounds 5]
 *
 * Heap allocated per render is the growth of V8's used heap across the render plus what every GC
 * during it freed (v8.GCProfiler), so it counts garbage too.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Registry } from 'prom-client';
import { addProbeMetrics } from '../src/metrics/collect.js';
import { probeMetricsChunks, renderProbeMetrics } from '../src/metrics/render.js';
import type { ProbeResult } from '../src/probe/types.js';
import type { ResponderResult } from '../src/responder/types.js';
import { failedResult, HOUR_MS, leafFacts, NOW_MS, okResult, single, verdict } from '../test/metrics/fixtures.js';

const { values } = parseArgs({
  options: { results: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '5' } },
});
const N = Number(values.results);
const ROUNDS = Number(values.rounds);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * N results shaped like a real fleet: most addresses with a valid staple, some without a staple,
 * some with a stale or invalid one, a few failed probes, some asking the responder directly, and
 * two extra labels from the config. Distinct target/address per result; fresh objects per call.
 */
function fleet(n: number): ProbeResult[] {
  const results: ProbeResult[] = [];
  const responder: ResponderResult = {
    url: 'http://ocsp.example.test/',
    urlSource: 'aia',
    method: 'GET',
    up: true,
    source: 'cache',
    durationSeconds: 0.05,
    fetchedAtMs: NOW_MS - 1000,
    httpStatus: 200,
    problems: [],
    error: null,
    verdict: verdict(),
  };
  for (let i = 0; i < n; i++) {
    const target = `host-${i}.example.test:443`;
    const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:443`;
    const labels = { env: i % 3 === 0 ? 'prod' : 'staging', team: `team-${i % 17}` };
    const leaf = leafFacts({ subject: `CN=host-${i}.example.test`, serialNumber: (0x100000 + i).toString(16).toUpperCase() });
    const kind = i % 20;
    if (kind === 0) results.push(failedResult(i % 40 === 0 ? 'timeout' : 'connect', { target, address, labels }));
    else if (kind === 1) results.push(okResult({ target, address, labels, leaf }, null));
    else if (kind === 2) {
      const thisUpdate = new Date(NOW_MS - 13 * HOUR_MS);
      results.push(okResult({ target, address, labels, leaf }, verdict({ single: single({ thisUpdate, nextUpdate: new Date(NOW_MS + 11 * HOUR_MS) }) })));
    } else if (kind === 3) {
      results.push(okResult({ target, address, labels, leaf }, verdict({ valid: false, problems: ['bad_signature'] })));
    } else if (kind === 4) results.push(okResult({ target, address, labels, leaf, responder }));
    else results.push(okResult({ target, address, labels, leaf }));
  }
  return results;
}

interface Measure {
  ms: number;
  bytes: number;
  /** Heap allocated during one render, garbage included. */
  heapMB: number;
  /** Highest used heap during one render, above the used heap before it. */
  peakMB: number;
}

/** Median wall time and heap allocated of `render` over ROUNDS calls; `input(i)` gives each call's results. */
async function measure(
  input: (round: number) => ProbeResult[],
  render: (results: ProbeResult[], nowMs: number) => Promise<string | number> | string | number,
): Promise<Measure> {
  const times: number[] = [];
  const heaps: number[] = [];
  const peaks: number[] = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const results = input(round);
    gc();
    const profiler = new v8.GCProfiler();
    profiler.start();
    const heapBefore = process.memoryUsage().heapUsed;
    const start = performance.now();
    const text = await render(results, NOW_MS + round * 60_000);
    const ms = performance.now() - start;
    const heapAfter = process.memoryUsage().heapUsed;
    const gcs = profiler.stop().statistics;
    const freed = gcs.reduce((sum, s) => sum + s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize, 0);
    const peak = Math.max(heapAfter, ...gcs.map((s) => s.beforeGC.heapStatistics.usedHeapSize));
    times.push(ms);
    heaps.push(heapAfter - heapBefore + freed);
    peaks.push(peak - heapBefore);
    bytes = typeof text === 'number' ? text : Buffer.byteLength(text);
  }
  return { ms: median(times), bytes, heapMB: median(heaps) / 2 ** 20, peakMB: median(peaks) / 2 ** 20 };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** What /metrics does: the chunks, encoded one after the other; returns the bytes. */
function streamedAsSent(results: ProbeResult[], nowMs: number): number {
  let bytes = 0;
  for (const chunk of probeMetricsChunks(results, nowMs)) bytes += Buffer.from(chunk, 'utf8').length;
  return bytes;
}

async function promClient(results: ProbeResult[], nowMs: number): Promise<string> {
  const registry = new Registry();
  addProbeMetrics(registry, results, nowMs);
  return registry.metrics();
}

const warmSet = fleet(N);
const coldSets = Array.from({ length: ROUNDS }, () => fleet(N));
// JIT warm-up on a separate small fleet, so neither path is measured while it is being compiled.
for (let i = 0; i < 3; i++) {
  const small = fleet(1000);
  await promClient(small, NOW_MS);
  renderProbeMetrics(small, NOW_MS);
  renderProbeMetrics(small, NOW_MS + 1);
}

const baseline = await measure(() => warmSet, promClient);
// What the writer's per-result cache holds on to: used heap after GC with warmSet rendered once, minus before.
gc();
const heapWithoutCache = process.memoryUsage().heapUsed;
renderProbeMetrics(warmSet, NOW_MS);
gc();
const cacheMB = (process.memoryUsage().heapUsed - heapWithoutCache) / 2 ** 20;
const warm = await measure(() => warmSet, renderProbeMetrics);
const streamed = await measure(() => warmSet, streamedAsSent);
const cold = await measure((round) => coldSets[round]!, renderProbeMetrics);

const lines = renderProbeMetrics(warmSet, NOW_MS).split('\n').length - 1;
const rows = [
  ['prom-client Registry (baseline)', baseline],
  ['writer, cold (new results)', cold],
  ['writer, warm (reused results)', warm],
  ['writer, warm, streamed in 64 K chunks and encoded (as /metrics sends it)', streamed],
] as const;
console.log(`render of ${N.toLocaleString('en')} results (${lines.toLocaleString('en')} lines), median of ${ROUNDS}; Node ${process.version}\n`);
console.log('| path | ms / render | bytes | heap allocated MB | peak heap above start MB | × faster than baseline |');
console.log('|---|---|---|---|---|---|');
for (const [name, m] of rows) {
  const cells = [m.ms.toFixed(1), m.bytes.toLocaleString('en'), m.heapMB.toFixed(1), m.peakMB.toFixed(1), (baseline.ms / m.ms).toFixed(1)];
  console.log(`| ${name} | ${cells.join(' | ')} |`);
}
console.log(`\nthe writer's cache for these ${N.toLocaleString('en')} results holds ${cacheMB.toFixed(1)} MB of heap (freed with the results)`);
