/**
 * The worker-thread probe pool against real TLS servers on 127.0.0.1: a server stapling a good
 * response, one stapling nothing, and a listener that accepts TCP and never answers (timeout).
 * The pool must give the very results `probeTarget` gives on the main thread (apart from timings),
 * send each module once per worker and config version, turn a crashed or stuck worker into
 * `internal` failures and replace it, refuse probes beyond its bound, and shut down cleanly. The
 * last test compiles the sources with tsc and runs the pool from plain JS in a plain `node`, as
 * `serve` runs it from dist/.
 */
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, cpSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { chainPem, type Issued } from '../../src/pki/index.js';
import { createProbePool, type ProbePool } from '../../src/probe/pool.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { startSilentServer } from '../helpers/servers.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FAULTY_WORKER = new URL('./fixtures/faulty-worker.ts', import.meta.url);

const closers: (() => Promise<void>)[] = [];
const pools: ProbePool[] = [];

async function stapleServer(leaf: Issued, staple: Uint8Array | null): Promise<number> {
  const server = tls.createServer({ key: leaf.keyPem, cert: chainPem(leaf) });
  server.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => {
    callback(null, staple ? Buffer.from(staple) : undefined);
  });
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** Accepts TCP connections and never says a word (closed with the others). */
async function silentServer(): Promise<number> {
  const server = await startSilentServer();
  closers.push(server.close);
  return server.port;
}

function pool(options: Parameters<typeof createProbePool>[0] = {}): ProbePool {
  const created = createProbePool(options);
  pools.push(created);
  return created;
}

function targetAt(port: number, labels: Record<string, string> = {}): ProbeTarget {
  return { target: `127.0.0.1:${port}`, host: '127.0.0.1', port, module: 'lab', serverName: 'localhost', labels };
}

/** Results without what differs between any two probes of the same server (when, how long, from which local port). */
function comparable(results: ProbeResult[]): unknown {
  return results.map(({ durationSeconds, startedAtMs, log, ...rest }) => {
    expect(durationSeconds).toBeGreaterThanOrEqual(0);
    expect(startedAtMs).toBeGreaterThan(0);
    const steps = (log ?? []).map((line) => line.text.replace(/:\d+\b/g, ':PORT'));
    return JSON.parse(JSON.stringify({ ...rest, steps })) as unknown;
  });
}

let pki: TestPki;
let labModule: ModuleConfig;
const ports = { good: 0, none: 0, silent: 0, rsa: 0 };

beforeAll(async () => {
  pki = await makeTestPki();
  labModule = { ...defaultModule('lab'), timeoutSeconds: 2, caPem: pki.root.pem };
  ports.good = await stapleServer(pki.leafEcdsa, await stapleFor(pki, pki.leafEcdsa));
  ports.none = await stapleServer(pki.leafEcdsa, null);
  ports.silent = await silentServer();
  ports.rsa = await stapleServer(pki.leafRsa, null);
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

describe('createProbePool', () => {
  it('gives the same results as probing on the main thread: good staple, no staple, timeout', async () => {
    const workers = pool({ workers: 2 });
    // A probe's deadline runs while its worker starts (seconds on a loaded machine): compare probes, not start-ups.
    await workers.ready();
    for (const [name, port] of Object.entries(ports)) {
      const deadline = () => Date.now() + (name === 'silent' ? 300 : 2000);
      const inThread = await probeTarget(targetAt(port), labModule, deadline());
      const inWorker = await workers.probe(targetAt(port), labModule, deadline());
      expect(comparable(inWorker), name).toEqual(comparable(inThread));
    }
    // What each case is, so "identical" is not "identically broken".
    const [good] = await workers.probe(targetAt(ports.good), labModule, Date.now() + 2000);
    expect(good).toMatchObject({ success: true, staple: { present: true, verdict: { valid: true } }, chain: { verified: true } });
    const [none] = await workers.probe(targetAt(ports.none), labModule, Date.now() + 2000);
    expect(none).toMatchObject({ success: true, staple: { present: false, verdict: null } });
    const [silent] = await workers.probe(targetAt(ports.silent), labModule, Date.now() + 300);
    expect(silent).toMatchObject({ success: false, failureReason: 'timeout', error: 'TLS handshake timed out' });
  });

  it('results of one certificate share one leaf-facts object (and presented summaries), as in-process results do', async () => {
    const workers = pool({ workers: 2 });
    await workers.ready();
    const results = (await Promise.all(Array.from({ length: 6 }, () => workers.probe(targetAt(ports.good), labModule, Date.now() + 2000)))).flat();
    expect(results.every((r) => r.leaf?.subject === 'CN=localhost')).toBe(true);
    expect(new Set(results.map((r) => r.leaf)).size).toBe(1);
    expect(Object.isFrozen(results[0]!.leaf)).toBe(true);
    // So do the presented chain's summaries (the log's), certificate by certificate.
    expect(results.every((r) => r.presented?.length === results[0]!.presented!.length && r.presented.length > 0)).toBe(true);
    for (let depth = 0; depth < results[0]!.presented!.length; depth++) expect(new Set(results.map((r) => r.presented![depth])).size).toBe(1);
    // Another certificate keeps its own facts.
    const [other] = await workers.probe(targetAt(ports.rsa), labModule, Date.now() + 2000);
    expect(other!.leaf?.fingerprintSha256).not.toBe(results[0]!.leaf?.fingerprintSha256);
    expect(other!.leaf).not.toBe(results[0]!.leaf);
  });

  it('sends a module to each worker once per config version, not with every probe', async () => {
    const workers = pool({ workers: 2 });
    await workers.ready();
    const probes = Array.from({ length: 12 }, () => workers.probe(targetAt(ports.none), labModule, Date.now() + 2000));
    const results = (await Promise.all(probes)).flat();
    expect(results.every((r) => r.success)).toBe(true);
    expect(workers.stats().modulesSent).toBe(2);
    // A reload makes new module objects: a new version, sent again; probes follow the new settings.
    const reloaded: ModuleConfig = { ...labModule, caPem: pki.strangerCa.pem };
    const [after] = await workers.probe(targetAt(ports.good), reloaded, Date.now() + 2000);
    expect(after).toMatchObject({ success: true, chain: { verified: false } });
    expect(workers.stats().modulesSent).toBe(3);
    expect(workers.stats()).toMatchObject({ workers: 2, pending: 0, completed: 13, replaced: 0, rejected: 0 });
  });

  it('reports a crashed worker as an internal failure and replaces the worker', async () => {
    const workers = pool({ workers: 1, workerScript: FAULTY_WORKER });
    const [crashed] = await workers.probe(targetAt(ports.good, { fault: 'crash' }), labModule, Date.now() + 2000);
    expect(crashed).toMatchObject({
      target: `127.0.0.1:${ports.good}`,
      address: `127.0.0.1:${ports.good}`,
      module: 'lab',
      success: false,
      failureReason: 'internal',
      staple: null,
    });
    expect(crashed!.error).toMatch(/probe worker exited \(code 1\): injected worker crash/);
    // The replacement worker has no modules yet; the pool sends the module again. It is started
    // at once, but its start-up must not eat the next probe's deadline.
    await workers.ready();
    const [next] = await workers.probe(targetAt(ports.good), labModule, Date.now() + 2000);
    expect(next, next?.error ?? "").toMatchObject({ success: true, staple: { present: true, verdict: { valid: true } } });
    expect(workers.stats()).toMatchObject({ workers: 1, replaced: 1, modulesSent: 2 });
  });

  it('terminates a worker that stays silent past the deadline, fails its probes and replaces it', async () => {
    const workers = pool({ workers: 1, workerScript: FAULTY_WORKER, stuckGraceMs: 200 });
    // Started, so that what the watchdog sees is the hang, not a slow start-up.
    await workers.ready();
    const started = Date.now();
    const stuck = workers.probe(targetAt(ports.good, { fault: 'hang' }), labModule, Date.now() + 300);
    const [result] = await stuck;
    expect(result).toMatchObject({ success: false, failureReason: 'internal' });
    expect(result!.error).toMatch(/unresponsive .* past a probe deadline/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    await workers.ready(); // the replacement
    const [next] = await workers.probe(targetAt(ports.none), labModule, Date.now() + 2000);
    expect(next).toMatchObject({ success: true });
    expect(workers.stats().replaced).toBe(1);
  });

  it('gives up at once on a worker stuck inside native code, which terminate() cannot stop', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pool-fifo-'));
    const fifo = path.join(dir, 'nobody-writes');
    execFileSync('mkfifo', [fifo]);
    const workers = pool({ workers: 1, workerScript: FAULTY_WORKER, stuckGraceMs: 200 });
    await workers.ready();
    try {
      const started = Date.now();
      const [result] = await workers.probe(targetAt(ports.good, { fault: 'block', fifo }), labModule, Date.now() + 300);
      expect(result).toMatchObject({ success: false, failureReason: 'internal' });
      expect(result!.error).toMatch(/unresponsive .* past a probe deadline/);
      // The deadline (300 ms) plus the grace (200 ms), not the thread's exit, which never comes.
      expect(Date.now() - started).toBeLessThan(2000);
      await workers.ready(); // the replacement, started without waiting for the stuck thread
      const [next] = await workers.probe(targetAt(ports.good), labModule, Date.now() + 2000);
      expect(next).toMatchObject({ success: true, staple: { present: true } });
      expect(workers.stats()).toMatchObject({ workers: 1, replaced: 1, pending: 0 });
      const closing = Date.now();
      await workers.close();
      expect(Date.now() - closing).toBeLessThan(2000);
    } finally {
      // Lets the stuck open() return, so the terminated thread can end.
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers at once with a failure beyond maxPending instead of queueing without bound', async () => {
    const workers = pool({ workers: 1, maxPending: 2 });
    const deadline = Date.now() + 400;
    const inFlight = [workers.probe(targetAt(ports.silent), labModule, deadline), workers.probe(targetAt(ports.silent), labModule, deadline)];
    const [refused] = await workers.probe(targetAt(ports.good), labModule, deadline);
    expect(refused).toMatchObject({ success: false, failureReason: 'internal' });
    expect(refused!.error).toMatch(/probe pool full: 2 probes in flight \(maxPending 2\)/);
    expect((await Promise.all(inFlight)).flat().map((r) => r.failureReason)).toEqual(['timeout', 'timeout']);
    expect(workers.stats()).toMatchObject({ pending: 0, rejected: 1 });
  });

  it('closes cleanly: lets probes in flight finish, then stops every worker and refuses new probes', async () => {
    const workers = pool({ workers: 2 });
    const inFlight = workers.probe(targetAt(ports.silent), labModule, Date.now() + 300);
    await workers.close();
    expect((await inFlight)[0]).toMatchObject({ failureReason: 'timeout' });
    expect(workers.stats()).toMatchObject({ workers: 0, pending: 0 });
    const [late] = await workers.probe(targetAt(ports.good), labModule, Date.now() + 2000);
    expect(late).toMatchObject({ success: false, failureReason: 'internal', error: 'probe pool is closed' });
    await workers.close(); // idempotent
  });

  it('on close, fails probes still running after closeTimeoutMs instead of waiting for them', async () => {
    const workers = pool({ workers: 1, closeTimeoutMs: 100 });
    const inFlight = workers.probe(targetAt(ports.silent), labModule, Date.now() + 5000);
    const started = Date.now();
    await workers.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await inFlight)[0]).toMatchObject({ failureReason: 'internal', error: 'probe pool closed before the probe finished' });
  });

  it('rejects nonsensical sizes', () => {
    expect(() => createProbePool({ workers: 0 })).toThrow(RangeError);
    expect(() => createProbePool({ workers: 1.5 })).toThrow(/workers must be an integer from 1 to 256, got 1.5/);
    expect(() => createProbePool({ maxPending: -1 })).toThrow(RangeError);
  });

  it('runs from compiled JavaScript (as from dist/) in a plain node process, with or without V8 flags', { timeout: 120_000 }, async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'pool-dist-'));
    try {
      // tsc emits even when files elsewhere in the tree have type errors; exit status aside,
      // the files we run must exist.
      await execFileAsync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', path.join(out, 'dist'), '--sourceMap', 'false'], { cwd: root }).catch(() => undefined);
      writeFileSync(path.join(out, 'package.json'), JSON.stringify({ type: 'module' }));
      symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir');
      cpSync(path.join(root, 'package.json'), path.join(out, 'dist', 'package.json')); // version.ts may read it
      const script = `
        import { createProbePool } from './dist/probe/pool.js';
        import { probeTarget } from './dist/probe/probe.js';
        const [target, module] = JSON.parse(process.argv.at(-1));
        const pool = createProbePool({ workers: 1 });
        await pool.ready();
        const inWorker = await pool.probe(target, module, Date.now() + 2000);
        const inThread = await probeTarget(target, module, Date.now() + 2000);
        await pool.close();
        console.log(JSON.stringify({ inWorker, inThread, stats: pool.stats() }));
      `;
      writeFileSync(path.join(out, 'probe.mjs'), script);
      const args = JSON.stringify([targetAt(ports.good), labModule]);
      // V8 flags on node's command line (as deployments set memory limits) must not keep the
      // workers from starting: workers refuse them when given explicitly.
      const v8Flags = ['--max-old-space-size=300', '--max-semi-space-size=8'];
      for (const nodeArgs of [['--input-type=module', '-e', script, args], [...v8Flags, 'probe.mjs', args], [...v8Flags, '--input-type=module', '-e', script, args]]) {
        const { stdout } = await execFileAsync(process.execPath, nodeArgs, { cwd: out });
        const { inWorker, inThread, stats } = JSON.parse(stdout) as { inWorker: ProbeResult[]; inThread: ProbeResult[]; stats: { workers: number } };
        expect(inWorker[0], inWorker[0]?.error ?? "").toMatchObject({ success: true, staple: { present: true, verdict: { valid: true } } });
        expect(comparable(inWorker)).toEqual(comparable(inThread));
        expect(stats.workers).toBe(0);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
