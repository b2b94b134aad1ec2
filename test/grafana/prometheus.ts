/**
 * A real Prometheus for the dashboard and alert checks: started on a free loopback port with its
 * storage in a temp dir, stopped (process group killed) by `stop()` or, should the test process die,
 * by the lab's exit hooks. Queries go through the HTTP API and fail loudly on a non-success status.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { withFreePorts, LOOPBACK } from '../e2e/lab/ports.js';
import { spawnManaged, type ManagedProcess } from '../e2e/lab/processes.js';
import { awaitReady } from '../e2e/lab/ready.js';
import { findTool } from './tools.js';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
}

export class RunningPrometheus {
  constructor(
    readonly baseUrl: string,
    private readonly proc: ManagedProcess,
    private readonly dir: string,
  ) {}

  /** GET /api/v1/<endpoint>; resolves with `data`, throws with Prometheus' error otherwise. */
  async api<T>(endpoint: string, params: Record<string, string> = {}): Promise<T> {
    const url = new URL(`/api/v1/${endpoint}`, this.baseUrl);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { status: string; data: T; errorType?: string; error?: string };
    if (body.status !== 'success') {
      throw new Error(`Prometheus ${endpoint} failed (${body.errorType}): ${body.error} for ${JSON.stringify(params)}`);
    }
    return body.data;
  }

  /** Instant query; only vector results are expected from the dashboards and rules. */
  async query(expr: string): Promise<PromSample[]> {
    const data = await this.api<{ resultType: string; result: PromSample[] }>('query', { query: expr });
    if (data.resultType !== 'vector') throw new Error(`expected a vector from ${expr}, got ${data.resultType}`);
    return data.result;
  }

  /** Range query over the last `seconds`, step 1 s; returns the number of series. */
  async queryRange(expr: string, seconds: number): Promise<number> {
    const end = Date.now() / 1000;
    const data = await this.api<{ resultType: string; result: unknown[] }>('query_range', {
      query: expr,
      start: String(end - seconds),
      end: String(end),
      step: '1',
    });
    return data.result.length;
  }

  async alerts(): Promise<PromAlert[]> {
    return (await this.api<{ alerts: PromAlert[] }>('alerts')).alerts;
  }

  diagnostics(): string {
    return this.proc.diagnostics();
  }

  async stop(): Promise<void> {
    try {
      await this.proc.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Starts Prometheus with `config` (a prometheus.yml as an object) on a free loopback port and waits
 * until /-/ready answers. Scrapes start about 6 s later.
 */
export async function startPrometheus(config: object): Promise<RunningPrometheus> {
  const binary = findTool('prometheus');
  if (binary === null) throw new Error('prometheus not installed (Debian package prometheus)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ocsp-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  try {
    return await withFreePorts(1, async ([port]) => {
      const proc = spawnManaged({
        name: 'prometheus',
        command: binary,
        args: [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${path.join(dir, `data-${port}`)}`,
          `--web.listen-address=${LOOPBACK}:${port}`,
          '--log.level=warn',
        ],
        cwd: dir,
      });
      const baseUrl = `http://${LOOPBACK}:${port}`;
      await awaitReady(
        proc,
        async () => (await fetch(`${baseUrl}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok,
        'prometheus /-/ready',
        20_000,
      );
      return new RunningPrometheus(baseUrl, proc, dir);
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
