/**
 * One fleet split across two exporter replicas by Prometheus' own `hashmod` relabelling, as in
 * examples/prometheus-sharded.yml: a real Prometheus (that file, aimed at two real exporters — two
 * buildApp instances on two ports — and at a dozen loopback TLS servers) must send each target's
 * /probe scrapes to exactly one replica, the one MD5(address) mod 2 names, so that each replica
 * probes only its share and together they probe every target. Each replica counts the /probe
 * requests it serves; Prometheus' series say which job (shard) holds which target.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildApp, type App } from '../../src/app.js';
import { defaultModule, emptyConfig, type Config } from '../../src/config/schema.js';
import { ConfigStore } from '../../src/config/store.js';
import { waitFor } from '../e2e/lab/wait.js';
import { makeTestPki, stapleFor } from '../helpers/pki.js';
import { startPrometheus, type RunningPrometheus } from './prometheus.js';
import { startStapleServer, type StapleServer } from './tls-targets.js';
import { REPO_ROOT, requireTools, runTool } from './tools.js';

const EXAMPLE = path.join(REPO_ROOT, 'examples/prometheus-sharded.yml');
const SHARDS = 2;
const MIN_PER_SHARD = 3;
const MIN_TARGETS = 10;

/**
 * Prometheus' hashmod (model/relabel): MD5 of the source label values joined by ';', the last
 * 8 bytes read as a big-endian unsigned integer, modulo `modulus`.
 */
function hashmod(value: string, modulus: number): number {
  const digest = createHash('md5').update(value).digest();
  return Number(digest.readBigUInt64BE(8) % BigInt(modulus));
}

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  scrape_timeout?: string;
  static_configs: { targets: string[] }[];
  relabel_configs?: { replacement?: string; modulus?: number; action?: string; regex?: string }[];
}

interface Replica {
  app: App;
  hostPort: string;
  /** `target` parameter of every /probe request served. */
  probed: string[];
}

describe('hashmod relabelling shape of the example', () => {
  const example = parse(readFileSync(EXAMPLE, 'utf8')) as { scrape_configs: ScrapeConfig[] };
  const shardJobs = example.scrape_configs.filter((c) => c.metrics_path === '/probe');

  it('has one /probe job per shard over the same target list, hashmod by address, distinct replicas', () => {
    expect(shardJobs.map((j) => j.job_name)).toEqual(['ocsp-probe-shard-0', 'ocsp-probe-shard-1']);
    const lists = shardJobs.map((j) => JSON.stringify(j.static_configs));
    expect(new Set(lists).size).toBe(1);
    shardJobs.forEach((job, shard) => {
      expect(job.relabel_configs?.[0]).toMatchObject({ action: 'hashmod', modulus: SHARDS });
      expect(job.relabel_configs?.[1]).toMatchObject({ action: 'keep', regex: String(shard) });
    });
    const replicas = shardJobs.map((j) => j.relabel_configs?.at(-1)?.replacement);
    expect(new Set(replicas).size).toBe(SHARDS);
  });

  it.skipIf(requireTools(['promtool']).skip)('passes promtool check config', async () => {
    const result = await runTool('promtool', ['check', 'config', EXAMPLE]);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS: 1 rule files found');
  });
});

describe.skipIf(requireTools(['prometheus']).skip)('a fleet split across two real exporters by a real Prometheus', () => {
  const servers: StapleServer[] = [];
  const replicas: Replica[] = [];
  let prometheus: RunningPrometheus | undefined;
  /** target → the shard hashmod puts it in. */
  const shardOf = new Map<string, number>();
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const started = Date.now();
    const pki = await makeTestPki();
    const staple = await stapleFor(pki, pki.leafEcdsa);
    // Ports are random, so is the split: add servers until both shards hold a few (10 nearly always do).
    const perShard = (): number[] => [0, 1].map((s) => [...shardOf.values()].filter((v) => v === s).length);
    while (servers.length < MIN_TARGETS || Math.min(...perShard()) < MIN_PER_SHARD) {
      const server = await startStapleServer(pki.leafEcdsa, staple);
      servers.push(server);
      shardOf.set(server.target, hashmod(server.target, SHARDS));
    }

    for (let i = 0; i < SHARDS; i++) {
      // Replicas have no static targets; /probe may probe any loopback server (the whole fleet).
      const config: Config = emptyConfig();
      config.modules.default = { ...defaultModule('default'), caPem: pki.root.pem, timeoutSeconds: 5 };
      config.global.probeAllowlist = ['127.0.0.1/32'];
      config.global.minProbeIntervalSeconds = 0;
      const probed: string[] = [];
      const app = buildApp({
        store: new ConfigStore(config, () => config),
        logLevel: 'silent',
        processMetrics: false,
        onRequest: async (request) => {
          const url = new URL(request.url, 'http://replica');
          if (url.pathname === '/probe') probed.push(url.searchParams.get('target') ?? '');
        },
      });
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      replicas.push({ app, hostPort: new URL(baseUrl).host, probed });
    }

    // The example, with the fleet and the replicas' addresses swapped in and 1 s scrapes.
    const example = parse(readFileSync(EXAMPLE, 'utf8')) as { global: Record<string, string>; rule_files?: string[]; scrape_configs: ScrapeConfig[] };
    example.global = { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
    delete example.rule_files;
    const fleet = servers.map((s) => s.target);
    example.scrape_configs = example.scrape_configs.filter((c) => c.metrics_path === '/probe');
    example.scrape_configs.forEach((job, shard) => {
      job.scrape_timeout = '1s';
      job.static_configs = [{ targets: fleet }];
      const exporter = job.relabel_configs!.at(-1)!;
      expect(exporter.replacement).toBe(`ocsp-exporter-${shard}:9858`);
      exporter.replacement = replicas[shard]!.hostPort;
    });
    timings.setupMs = Date.now() - started;
    const promStarted = Date.now();
    prometheus = await startPrometheus(example);
    await waitFor(
      async () => Number((await prometheus!.query('count(ocsp_probe_success == 1)'))[0]?.value[1] ?? 0) === fleet.length,
      30_000,
      { what: `${fleet.length} successful probes in Prometheus`, intervalMs: 250, diagnostics: () => prometheus!.diagnostics() },
    );
    timings.allTargetsInMs = Date.now() - promStarted;
  }, 60_000);

  afterAll(async () => {
    for (const stop of [() => prometheus?.stop(), ...replicas.map((r) => () => r.app.close()), ...servers.map((s) => () => s.close())]) {
      try {
        await stop();
      } catch (error) {
        console.warn(`cleanup: ${(error as Error).message}`);
      }
    }
    console.info(`sharding timings (ms): ${JSON.stringify(timings)}, targets per shard: ${JSON.stringify([0, 1].map((s) => [...shardOf.values()].filter((v) => v === s).length))}`);
  });

  it('each replica probed exactly its hashmod share, and together every target', () => {
    const share = (shard: number): string[] => [...shardOf].filter(([, s]) => s === shard).map(([t]) => t).sort();
    replicas.forEach((replica, shard) => {
      expect([...new Set(replica.probed)].sort(), `replica ${shard}`).toEqual(share(shard));
    });
    const union = new Set(replicas.flatMap((r) => r.probed));
    expect([...union].sort()).toEqual(servers.map((s) => s.target).sort());
  });

  it("Prometheus holds each target once, under its shard's job, probed by that shard's replica", async () => {
    const series = await prometheus!.query('ocsp_probe_success');
    expect(series).toHaveLength(servers.length);
    for (const s of series) {
      const shard = shardOf.get(s.metric.target!);
      expect(s.metric.job, s.metric.target).toBe(`ocsp-probe-shard-${shard}`);
      expect(s.metric.instance).toBe(s.metric.target);
      expect(s.value[1]).toBe('1');
    }
    // The scrape targets themselves: each pointed at its own replica.
    const targets = await prometheus!.api<{ activeTargets: { labels: Record<string, string>; scrapeUrl: string }[] }>('targets', { state: 'active' });
    expect(targets.activeTargets).toHaveLength(servers.length);
    for (const t of targets.activeTargets) {
      const shard = shardOf.get(t.labels.instance!)!;
      expect(new URL(t.scrapeUrl).host).toBe(replicas[shard]!.hostPort);
    }
  });
});
