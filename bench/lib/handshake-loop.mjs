/**
 * The limit: the least a prober must do per target, on every core. One worker thread per core,
 * each with one shared SecureContext, does `tls.connect` with `requestOCSP` to its share of the
 * targets and closes the socket on 'secureConnect'; nothing is parsed, verified or reported.
 * Plain JavaScript on purpose (no loader, no project code), so nothing but the handshakes costs.
 * The context trusts nothing extra (Node's default roots), so the chain fails verification and Node
 * skips checkServerIdentity and its `getPeerCertificate(true)` (~0.5 ms of CPU): this is the bare
 * handshake, a ceiling that any prober judging the chain can only approach.
 *
 * Usage: node handshake-loop.mjs TARGETS.json CONCURRENCY THREADS SERVER_NAME TIMEOUT_MS [PASSES_BEFORE_STEADY] [sync]
 * TARGETS.json is `[{ "host": "127.77.0.1", "port": 40000 }, ...]`. Goes over the targets
 * PASSES_BEFORE_STEADY times (default 1; the first is the cold pass), then once more for the steady
 * state, and prints one JSON line, the cold pass's figures plus the steady one's:
 * { wallSeconds, ok, failed, stapled, cpuSeconds, maxRssBytes, latenciesMs: [...], warm: { wallSeconds, ok, stapled, cpuSeconds } }.
 * With `sync`, it prints `pass-start I` before pass I (0 = cold) and waits for a line on stdin,
 * and prints `pass-end I` after it, so the caller can measure the server over the same interval.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import tls from 'node:tls';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

if (isMainThread) {
  const [targetsFile, concurrencyText, threadsText, serverName, timeoutText, passesText = '1', syncText] = process.argv.slice(2);
  const sync = syncText === 'sync';
  const input = sync ? readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]() : null;
  const targets = JSON.parse(readFileSync(targetsFile, 'utf8'));
  const concurrency = Number(concurrencyText);
  const threads = Math.min(Number(threadsText), targets.length);
  const workers = [];
  for (let t = 0; t < threads; t++) {
    const share = targets.filter((_, i) => i % threads === t);
    // Concurrency split as evenly as the integers allow; the total is `concurrency`.
    const slots = Math.floor(concurrency / threads) + (t < concurrency % threads ? 1 : 0);
    workers.push(new Worker(new URL(import.meta.url), { workerData: { targets: share, slots: Math.max(1, slots), serverName, timeoutMs: Number(timeoutText) } }));
  }
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  // The first pass from a cold process, the last with everything warm (JIT, allocator), after as
  // many probes as the exporter makes before its steady-state sweep is measured.
  let passIndex = 0;
  const pass = async () => {
    const index = passIndex++;
    if (input) {
      process.stdout.write(`pass-start ${index}\n`);
      if ((await input.next()).done) throw new Error('stdin closed before the go for a pass');
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const done = workers.map((w) => new Promise((resolve) => w.once('message', resolve)));
    for (const w of workers) w.postMessage('go');
    const parts = await Promise.all(done);
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (input) process.stdout.write(`pass-end ${index}\n`);
    const totals = { wallSeconds, ok: 0, failed: 0, stapled: 0, cpuSeconds: (cpu.user + cpu.system) / 1e6, latenciesMs: [], errors: {} };
    for (const p of parts) {
      totals.ok += p.ok;
      totals.failed += p.failed;
      totals.stapled += p.stapled;
      for (const l of p.latenciesMs) totals.latenciesMs.push(l);
      for (const [k, v] of Object.entries(p.errors)) totals.errors[k] = (totals.errors[k] ?? 0) + v;
    }
    return totals;
  };
  const cold = await pass();
  for (let p = 1; p < Number(passesText); p++) await pass();
  const warm = await pass();
  for (const w of workers) await w.terminate();
  if (input) process.stdin.destroy();
  const result = { ...cold, maxRssBytes: process.resourceUsage().maxRSS * 1024, warm: { wallSeconds: warm.wallSeconds, ok: warm.ok, stapled: warm.stapled, cpuSeconds: warm.cpuSeconds } };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const { targets, slots, serverName, timeoutMs } = workerData;
  const secureContext = tls.createSecureContext();
  let latenciesMs = [];
  let errors = {};
  let ok = 0;
  let failed = 0;
  let stapled = 0;
  let next = 0;
  const one = (target) =>
    new Promise((resolve) => {
      const started = performance.now();
      let staple = false;
      let settled = false;
      const socket = tls.connect({ host: target.host, port: target.port, servername: serverName, secureContext, requestOCSP: true, rejectUnauthorized: false });
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      function finish(error) {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (error) {
          failed++;
          errors[error] = (errors[error] ?? 0) + 1;
        } else {
          ok++;
          if (staple) stapled++;
          latenciesMs.push(performance.now() - started);
        }
        resolve();
      }
      socket.on('OCSPResponse', (response) => {
        staple = response != null && response.length > 0;
      });
      socket.once('secureConnect', () => finish(null));
      socket.once('error', (error) => finish(error.code ?? error.message));
    });
  const runner = async () => {
    while (next < targets.length) await one(targets[next++]);
  };
  parentPort.postMessage('ready');
  parentPort.on('message', async () => {
    [latenciesMs, errors, ok, failed, stapled, next] = [[], {}, 0, 0, 0, 0];
    await Promise.all(Array.from({ length: slots }, runner));
    parentPort.postMessage({ ok, failed, stapled, latenciesMs, errors });
  });
}
