/**
 * Load on the real exporter (buildApp on 127.0.0.1:0, real probe, real TLS): 50 concurrent
 * scrapes of 1,000 targets share one sweep (1,000 handshakes, not 50,000) and all get every
 * target; memory stays bounded across scrape rounds; and a storm of /probe requests is held to
 * global.concurrency, counted as handshakes in progress at the server.
 *
 * The 1,000 targets are 1,000 names (t0.load.test … t999.load.test) that the probe's injected
 * resolver sends to one loopback TLS server, which counts its handshakes.
 */
import { once } from 'node:events';
import { get } from 'node:http';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { defaultModule } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { LookupFn } from '../../src/net/resolve.js';
import { makeTestPki, stapleFor } from '../helpers/pki.js';
import { find, parseExposition } from '../metrics/exposition.js';
import { FakeStore, makeConfig, target } from '../server/fakes.js';
import * as H from './hostile.js';
import { describeGrowth, settledMemory } from './memory.js';

const TARGETS = 1000;
const SCRAPES = 50;
const loopback: LookupFn = async () => [{ address: '127.0.0.1', family: 4 }];

function fetchText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject);
  });
}

/** What a scrape answered, read as it streams in: the body itself only when asked for. */
interface ScrapeSummary {
  status: number;
  bytes: number;
  /** `ocsp_probe_success` samples, and how many of them are 1. */
  successSamples: number;
  successOnes: number;
  body: string | null;
}

/**
 * Reads an answer chunk by chunk, counting `ocsp_probe_success` samples without keeping the text:
 * the test's own client must not hold 50 bodies (~185 MiB) while the exporter's peak memory is
 * measured in the same process.
 */
function fetchSummary(url: string, headers: Record<string, string>, keepBody: boolean): Promise<ScrapeSummary> {
  return new Promise((resolve, reject) => {
    get(url, { headers, agent: false }, (response) => {
      const kept: Buffer[] = [];
      const summary: ScrapeSummary = { status: response.statusCode ?? 0, bytes: 0, successSamples: 0, successOnes: 0, body: null };
      let partial = '';
      const countLine = (line: string): void => {
        if (!line.startsWith('ocsp_probe_success{')) return;
        summary.successSamples++;
        if (line.endsWith(' 1')) summary.successOnes++;
      };
      response.on('data', (chunk: Buffer) => {
        summary.bytes += chunk.length;
        if (keepBody) kept.push(chunk);
        const lines = (partial + chunk.toString('latin1')).split('\n');
        partial = lines.pop()!;
        for (const line of lines) countLine(line);
      });
      response.on('end', () => {
        countLine(partial);
        if (keepBody) summary.body = Buffer.concat(kept).toString('utf8');
        resolve(summary);
      });
    }).on('error', reject);
  });
}

afterAll(async () => {
  await H.closeAll();
});

describe(`${SCRAPES} concurrent scrapes of ${TARGETS} targets`, () => {
  let app: App;
  let base: string;
  let server: Awaited<ReturnType<typeof H.stapleServer>>;

  beforeAll(async () => {
    const pki = await makeTestPki();
    server = await H.stapleServer({ key: pki.leafEcdsa.keyPem, cert: H.chainPem(pki.leafEcdsa), staple: await stapleFor(pki, pki.leafEcdsa) });
    const targets = Array.from({ length: TARGETS }, (_, i) => target(`t${i}.load.test:${server.port}`));
    const config = makeConfig(targets, { concurrency: 32, minProbeIntervalSeconds: 300 }, [{ ...defaultModule(), timeoutSeconds: 20 }]);
    app = buildApp({
      store: new FakeStore(config),
      logLevel: 'silent',
      probe: (t, module, deadlineMs) => probeTarget(t, module, deadlineMs, { lookup: loopback }),
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('share one sweep: 1,000 handshakes, every scrape answered with every target, memory back to where it was', async () => {
    const before = await settledMemory();
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const started = Date.now();
    // The first and the last answer are kept whole and parsed; the others are counted as they stream.
    const answers = await Promise.all(
      Array.from({ length: SCRAPES }, (_, i) => fetchSummary(`${base}/metrics`, { 'X-Prometheus-Scrape-Timeout-Seconds': '90' }, i === 0 || i === SCRAPES - 1)),
    );
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    expect(answers.map((a) => a.status)).toEqual(new Array(SCRAPES).fill(200));
    expect(server.handshakes).toBe(TARGETS);
    expect(app.sweeper.lastSweep).toMatchObject({ probed: TARGETS, reused: 0 });
    for (const answer of answers) expect(answer).toMatchObject({ successSamples: TARGETS, successOnes: TARGETS });
    for (const answer of [answers[0]!, answers[SCRAPES - 1]!]) {
      const success = find(parseExposition(answer.body!), 'ocsp_probe_success');
      expect(success).toHaveLength(TARGETS);
      expect(success.every((s) => s.value === 1)).toBe(true);
    }
    // Not 1,000 at once. Loose: sockets the probe closed linger at the server until it sees the close;
    // the exact bound is the /probe storm test below, which counts handshakes the server holds.
    expect(server.maxOpen).toBeLessThanOrEqual(2 * 32);
    const bodyMiB = answers[0]!.bytes / 2 ** 20;
    answers.length = 0;
    // Finished responses are released a little later (sockets closing, timers): give it up to 10 s.
    let after = await settledMemory();
    for (let waited = 0; after.retainedMiB - before.retainedMiB >= 32 && waited < 10_000; waited += 500) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = await settledMemory();
    }
    console.info(
      `${SCRAPES} scrapes × ${TARGETS} targets: one sweep of ${app.sweeper.lastSweep?.durationSeconds.toFixed(2)} s, all answered in ${seconds.toFixed(2)} s; ` +
        `${bodyMiB.toFixed(1)} MiB per answer; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; settled ${describeGrowth(before, after)}`,
    );
    // What stays is the sweep's cache of 1,000 results (~10–15 MiB); what the 50 answers cost must be gone.
    expect(after.retainedMiB - before.retainedMiB).toBeLessThan(32);
    // The deployment's memory limit (deploy/kubernetes: 512 Mi) must hold 50 simultaneous answers:
    // they are streamed from per-result cached text, not built whole (it peaked at ~1.1 GiB when
    // each scrape rendered through prom-client). ~3–4 s here; the timeout is for a busy CI machine.
    expect(peakRss / 2 ** 20).toBeLessThan(512);
  }, 150_000);
});

describe('a /probe storm', () => {
  it('never has more handshakes in progress at the server than global.concurrency, /metrics sweeps included', async () => {
    // Holds every connection 100 ms, then hangs up: a slow handshake whose lifetime the server controls.
    let active = 0;
    let maxActive = 0;
    let accepted = 0;
    const hold = net.createServer((socket) => {
      accepted++;
      active++;
      maxActive = Math.max(maxActive, active);
      socket.on('error', () => {});
      socket.resume();
      setTimeout(() => {
        active--;
        socket.destroy();
      }, 100);
    });
    hold.listen(0, '127.0.0.1');
    await once(hold, 'listening');
    const port = (hold.address() as net.AddressInfo).port;
    const statics = Array.from({ length: 20 }, (_, i) => target(`s${i}.load.test:${port}`));
    const config = makeConfig(statics, { concurrency: 8, minProbeIntervalSeconds: 0 }, [{ ...defaultModule(), timeoutSeconds: 10 }]);
    const app = buildApp({
      store: new FakeStore(config),
      logLevel: 'silent',
      processMetrics: false,
      probe: (t, module, deadlineMs) => probeTarget(t, module, deadlineMs, { lookup: loopback }),
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const header = { 'X-Prometheus-Scrape-Timeout-Seconds': '20' };
      const storm = Array.from({ length: 100 }, (_, i) => fetchText(`${base}/probe?target=s${i % 20}.load.test:${port}`, header));
      const sweep = fetchText(`${base}/metrics`, header);
      const answers = await Promise.all([...storm, sweep]);
      expect(answers.map((a) => a.status)).toEqual(new Array(101).fill(200));
      expect(accepted).toBe(120);
      expect(maxActive).toBeLessThanOrEqual(8);
      expect(maxActive).toBeGreaterThanOrEqual(6);
      const failures = find(parseExposition(answers[0]!.body), 'ocsp_probe_failure').filter((s) => s.value === 1);
      expect(failures.map((s) => s.labels.reason)).toEqual(['tls']);
    } finally {
      await app.close();
      await new Promise((resolve) => hold.close(resolve));
    }
  }, 60_000);
});
