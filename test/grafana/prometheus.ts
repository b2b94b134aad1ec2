/**
 * A real Prometheus for the dashboard and alert checks: started on a free loopback port with its
 * storage in a temp dir, stopped (process group killed) by `stop()` or, should the test process die,
 * by the lab's exit hooks. Queries go through the HTTP API and fail loudly on a non-success status.
 */
import path from 'node:path';
import { RunningDaemon, startDaemon } from './daemon.js';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
}

export class RunningPrometheus extends RunningDaemon {
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

}

/**
 * Starts Prometheus with `config` (a prometheus.yml as an object) on a free loopback port and waits
 * until /-/ready answers. Scrapes start about 6 s later.
 */
export function startPrometheus(config: object): Promise<RunningPrometheus> {
  return startDaemon(
    {
      tool: 'prometheus',
      name: 'prometheus',
      config,
      args: (port, dir) => [`--storage.tsdb.path=${path.join(dir, `data-${port}`)}`, '--log.level=warn'],
    },
    (baseUrl, proc, dir) => new RunningPrometheus(baseUrl, proc, dir),
  );
}
