/**
 * A real Prometheus evaluating the project's alert rules against a live exporter: it scrapes
 * `/metrics` every second and evaluates grafana/alerts/ocsp-stapling.rules.yml every second, with
 * every `for:` shortened (test/grafana/rules.ts checks that nothing else changes) because an
 * end-to-end run cannot wait minutes; the promtool tests in grafana/alerts/tests check the real
 * durations. Its first scrape lands about 6 s after start, so start it early.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPrometheus, type PromAlert, type RunningPrometheus } from '../../grafana/prometheus.js';
import { shortenForDurations } from '../../grafana/rules.js';
import { RULES_FILE } from '../../grafana/tools.js';

export const RULES_JOB = 'ocsp-stapling-exporter';

export interface RulesPrometheus {
  readonly prometheus: RunningPrometheus;
  /** Alerts named `alertname` in `state` (default firing). */
  alerts(alertname: string, state?: PromAlert['state']): Promise<PromAlert[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `exporterBaseUrl`/metrics with the real rules, `for:` set to `forDuration`. */
export async function startRulesPrometheus(exporterBaseUrl: string, forDuration = '1s'): Promise<RulesPrometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ocsp-rules-'));
  try {
    const rulesCopy = path.join(dir, 'ocsp-stapling.rules.yml');
    writeFileSync(rulesCopy, shortenForDurations(readFileSync(RULES_FILE, 'utf8'), forDuration));
    const prometheus = await startPrometheus({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [rulesCopy],
      scrape_configs: [{ job_name: RULES_JOB, static_configs: [{ targets: [new URL(exporterBaseUrl).host] }] }],
    });
    return {
      prometheus,
      alerts: async (alertname, state = 'firing') =>
        (await prometheus.alerts()).filter((a) => a.labels.alertname === alertname && a.state === state),
      stop: async () => {
        try {
          await prometheus.stop();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
