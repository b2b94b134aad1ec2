/**
 * HTTP GET for the benchmark's drivers: keep-alive connections (as Prometheus keeps them), the
 * whole body read, the time to the last byte measured. Errors are values, never exceptions, so a
 * failing contender shows up in the figures instead of aborting the run.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface HttpResult {
  status: number;
  body: string;
  bytes: number;
  ms: number;
  error: string | null;
}

export function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

export function get(url: string, agent?: http.Agent, timeoutMs = 600_000, headers: http.OutgoingHttpHeaders = {}): Promise<HttpResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const request = http.get(url, { agent, timeout: timeoutMs, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const buffer = Buffer.concat(chunks);
        resolve({ status: response.statusCode ?? 0, body: buffer.toString('utf8'), bytes: buffer.length, ms: performance.now() - started, error: null });
      });
      response.on('error', (error) => resolve({ status: 0, body: '', bytes: 0, ms: performance.now() - started, error: error.message }));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (error) => resolve({ status: 0, body: '', bytes: 0, ms: performance.now() - started, error: error.message }));
  });
}

/** Values of every sample of `metric` in a text exposition (labels ignored). */
export function samples(body: string, metric: string): number[] {
  const values: number[] = [];
  const prefix = `${metric}{`;
  const bare = `${metric} `;
  for (const line of body.split('\n')) {
    if (line.startsWith(prefix) || line.startsWith(bare)) values.push(Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return values;
}
