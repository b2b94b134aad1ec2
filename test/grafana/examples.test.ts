/**
 * The example Prometheus and Alertmanager configurations, checked by the real promtool and amtool
 * (a deliberately broken copy of each must be rejected, so the checks can fail).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, requireTools, runTool } from './tools.js';

const PROMETHEUS_EXAMPLE = path.join(REPO_ROOT, 'examples/prometheus.yml');
const ALERTMANAGER_EXAMPLE = path.join(REPO_ROOT, 'examples/alertmanager.yml');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ocsp-examples-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(requireTools(['promtool']).skip)('examples/prometheus.yml', () => {
  it('passes promtool check config, rule file included', async () => {
    const result = await runTool('promtool', ['check', 'config', PROMETHEUS_EXAMPLE]);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS: 1 rule files found');
    expect(result.output).toContain('ocsp-stapling.rules.yml');
  });

  it('shows both scrape styles and the /probe relabelling', () => {
    const config = parse(readFileSync(PROMETHEUS_EXAMPLE, 'utf8')) as {
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[]; relabel_configs?: Record<string, unknown>[] }[];
      alerting: { alertmanagers: unknown[] };
    };
    const [metricsJob, probeJob] = config.scrape_configs;
    expect(metricsJob?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(metricsJob?.static_configs[0]?.targets).toEqual(['localhost:9858']);
    expect(probeJob?.metrics_path).toBe('/probe');
    expect(probeJob?.relabel_configs).toEqual([
      { source_labels: ['__address__'], target_label: '__param_target' },
      { source_labels: ['__param_target'], target_label: 'instance' },
      { target_label: '__address__', replacement: 'localhost:9858' },
    ]);
    expect(config.alerting.alertmanagers).toHaveLength(1);
  });

  it('a broken copy is rejected', async () => {
    const text = readFileSync(PROMETHEUS_EXAMPLE, 'utf8').replace('scrape_timeout: 15s', 'scrape_timeout: 15 seconds');
    const copy = path.join(tmp, 'prometheus.yml');
    writeFileSync(copy, text);
    const result = await runTool('promtool', ['check', 'config', copy]);
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toMatch(/FAILED/);
  });
});

describe.skipIf(requireTools(['amtool']).skip)('examples/alertmanager.yml', () => {
  it('passes amtool check-config', async () => {
    const result = await runTool('amtool', ['check-config', ALERTMANAGER_EXAMPLE]);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('routes by severity to webhook receivers', () => {
    const config = parse(readFileSync(ALERTMANAGER_EXAMPLE, 'utf8')) as {
      route: { routes: { matchers: string[]; receiver: string }[] };
      receivers: { name: string; webhook_configs?: { url: string }[] }[];
    };
    expect(config.route.routes.map((r) => r.matchers)).toEqual([['severity="critical"'], ['severity="warning"']]);
    for (const receiver of config.receivers) expect(receiver.webhook_configs?.[0]?.url).toMatch(/^http:\/\//);
  });

  it('a broken copy is rejected', async () => {
    const text = readFileSync(ALERTMANAGER_EXAMPLE, 'utf8').replace('receiver: ocsp-critical', 'receiver: nobody');
    const copy = path.join(tmp, 'alertmanager.yml');
    writeFileSync(copy, text);
    const result = await runTool('amtool', ['check-config', copy]);
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toMatch(/FAILED|undefined receiver/);
  });
});
