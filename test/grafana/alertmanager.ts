/**
 * A real Alertmanager and a webhook receiver for the end-to-end alert path. Alertmanager (Debian's
 * `prometheus-alertmanager`) runs on a free loopback port with its storage in a temp dir and
 * clustering off (`--cluster.listen-address=` empty: a lone test instance must not gossip or wait for
 * peers); the receiver is a plain HTTP server in the test process that records every notification
 * Alertmanager POSTs to it, by path, so a test can assert which route delivered what.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { LOOPBACK } from '../e2e/lab/ports.js';
import { RunningDaemon, startDaemon } from './daemon.js';

export class RunningAlertmanager extends RunningDaemon {
  /** `host:port`, as Prometheus' `alerting.alertmanagers` static target. */
  get hostPort(): string {
    return new URL(this.baseUrl).host;
  }

  /** Alerts Alertmanager currently holds (API v2), with their labels. */
  async alerts(): Promise<{ labels: Record<string, string>; annotations: Record<string, string> }[]> {
    const response = await fetch(`${this.baseUrl}/api/v2/alerts`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`Alertmanager /api/v2/alerts: HTTP ${response.status}`);
    return (await response.json()) as { labels: Record<string, string>; annotations: Record<string, string> }[];
  }

}

/** Starts Alertmanager with `config` (an alertmanager.yml as an object) and waits for /-/ready. */
export function startAlertmanager(config: object): Promise<RunningAlertmanager> {
  return startDaemon(
    {
      tool: 'prometheus-alertmanager',
      name: 'alertmanager',
      config,
      args: (port, dir) => [`--storage.path=${path.join(dir, `data-${port}`)}`, '--cluster.listen-address=', '--log.level=warn'],
    },
    (baseUrl, proc, dir) => new RunningAlertmanager(baseUrl, proc, dir),
  );
}

/** One alert as a webhook notification carries it (Alertmanager's webhook payload, version 4). */
export interface DeliveredAlert {
  /** The URL path the notification was POSTed to: which receiver (route) delivered it. */
  path: string;
  receiver: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** When the receiver got it, Unix ms. */
  receivedAtMs: number;
}

export interface WebhookReceiver {
  /** e.g. `http://127.0.0.1:41235` */
  baseUrl: string;
  /** Every alert of every notification so far, in arrival order. */
  readonly alerts: DeliveredAlert[];
  /** Notifications that were not a valid webhook payload (should stay empty). */
  readonly rejected: string[];
  close(): Promise<void>;
}

interface WebhookPayload {
  version?: string;
  receiver?: string;
  alerts?: { status: 'firing' | 'resolved'; labels: Record<string, string>; annotations: Record<string, string> }[];
}

/** Starts the receiver on a free loopback port; it answers 200 to every well-formed notification. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const alerts: DeliveredAlert[] = [];
  const rejected: string[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Bounded: a notification of a few dozen alerts is a few tens of KiB.
      if (size <= 4 * 1024 * 1024) chunks.push(chunk);
    });
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        const payload = JSON.parse(text) as WebhookPayload;
        if (request.method !== 'POST' || payload.version !== '4' || !Array.isArray(payload.alerts)) throw new Error('not a webhook payload');
        for (const alert of payload.alerts) {
          alerts.push({
            path: new URL(request.url ?? '/', 'http://x').pathname,
            receiver: payload.receiver ?? '',
            status: alert.status,
            labels: alert.labels,
            annotations: alert.annotations,
            receivedAtMs: Date.now(),
          });
        }
        response.writeHead(200).end();
      } catch (error) {
        rejected.push(`${request.method} ${request.url}: ${(error as Error).message}: ${text.slice(0, 200)}`);
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://${LOOPBACK}:${port}`,
    alerts,
    rejected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
