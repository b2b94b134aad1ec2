/**
 * The long fuzz run: `npm run fuzz -- --seconds 600 [--seed N] [--target NAME] [--limit-ms 2000]`.
 * Each target runs in a worker thread watched from here: an input the worker is stuck on for
 * longer than the limit is a hang, the worker is terminated and the input saved. Every finding
 * (escaping exception, broken contract, slow input, hang) is written to
 * test/fuzz/corpus/<target>/<kind>-<sha256 prefix>.b64, where the test suite replays it forever.
 * Exit code 1 when anything was found.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { TARGETS } from '../test/fuzz/harness.js';
import type { WorkerInput, WorkerMessage } from '../test/fuzz/worker.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    target: { type: 'string' },
    'limit-ms': { type: 'string', default: '2000' },
  },
});
const seconds = Number(values.seconds);
const limitMs = Number(values['limit-ms']);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const targets = values.target ? TARGETS.filter((t) => t.name === values.target) : TARGETS;
if (!(seconds > 0) || !(limitMs > 0) || !Number.isInteger(seed) || targets.length === 0) {
  process.stderr.write(`usage: npm run fuzz -- --seconds N [--seed N] [--target ${TARGETS.map((t) => t.name).join('|')}] [--limit-ms N]\n`);
  process.exit(2);
}

const corpusDir = new URL('../test/fuzz/corpus/', import.meta.url);
function save(target: string, kind: string, input: Uint8Array): string {
  const dir = new URL(`${target}/`, corpusDir);
  mkdirSync(dir, { recursive: true });
  const name = `${kind}-${createHash('sha256').update(input).digest('hex').slice(0, 12)}.b64`;
  writeFileSync(new URL(name, dir), `${Buffer.from(input).toString('base64')}\n`);
  return `test/fuzz/corpus/${target}/${name}`;
}

/** Runs one worker for up to `durationMs`; resolves with its stats, or with a hang. */
function runWorker(target: string, workerSeed: number, durationMs: number): Promise<{ executions: number; seconds: number; slowestMs: number; findings: number; hung: boolean }> {
  const counters = new SharedArrayBuffer(8);
  const current = new SharedArrayBuffer(1 << 20);
  const data: WorkerInput = { target, seed: workerSeed, durationMs, perInputLimitMs: limitMs, counters, current };
  // tsx's loader must be registered inside the worker before its TypeScript entry is imported.
  const entry = new URL('../test/fuzz/worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: data });
  const count = new Int32Array(counters);
  const started = Date.now();
  let findings = 0;
  return new Promise((resolve, reject) => {
    let last = -1;
    let lastChange = Date.now();
    const watchdog = setInterval(() => {
      const executions = Atomics.load(count, 0);
      if (executions !== last) {
        last = executions;
        lastChange = Date.now();
        return;
      }
      // Startup (loading tsx and the seeds) counts as progress until the first input.
      if (executions > 0 && Date.now() - lastChange > limitMs * 2) {
        clearInterval(watchdog);
        const input = new Uint8Array(current).slice(0, Atomics.load(count, 1));
        const file = save(target, 'hang', input);
        process.stdout.write(`  HANG after ${executions} inputs: input stuck > ${limitMs * 2} ms, saved ${file}\n`);
        findings++;
        void worker.terminate().then(() => resolve({ executions, seconds: (Date.now() - started) / 1000, slowestMs: Infinity, findings, hung: true }));
      }
    }, 250);
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'finding') {
        findings++;
        const file = save(target, message.finding.kind, message.finding.input);
        process.stdout.write(`  ${message.finding.kind.toUpperCase()}: ${message.finding.message.split('\n')[0]} — saved ${file}\n`);
      } else {
        clearInterval(watchdog);
        resolve({ executions: message.executions, seconds: message.seconds, slowestMs: message.slowestMs, findings, hung: false });
      }
    });
    worker.on('error', (error) => {
      clearInterval(watchdog);
      reject(error);
    });
  });
}

process.stdout.write(`fuzzing ${targets.length} target(s) for ${seconds} s in all, seed ${seed}, per-input limit ${limitMs} ms\n`);
let total = 0;
const perTargetMs = (seconds * 1000) / targets.length;
for (const target of targets) {
  process.stdout.write(`${target.name}:\n`);
  const deadline = Date.now() + perTargetMs;
  let executions = 0;
  let busySeconds = 0;
  let slowestMs = 0;
  let round = 0;
  // A hang ends a worker; continue with the next seed until the target's time is used up.
  while (Date.now() < deadline - 500) {
    const result = await runWorker(target.name, seed + round++, deadline - Date.now());
    executions += result.executions;
    busySeconds += result.seconds;
    slowestMs = Math.max(slowestMs, Number.isFinite(result.slowestMs) ? result.slowestMs : 0);
    total += result.findings;
    if (!result.hung) break;
  }
  process.stdout.write(`  ${executions} inputs in ${busySeconds.toFixed(1)} s (${(executions / busySeconds).toFixed(0)}/s), slowest ${slowestMs.toFixed(1)} ms\n`);
}
process.stdout.write(total === 0 ? 'no findings\n' : `${total} finding(s): fix them; the saved inputs are now regression tests\n`);
process.exitCode = total === 0 ? 0 : 1;
