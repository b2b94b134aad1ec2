/**
 * Every dashboard query and the alert rules against a real Prometheus. Prometheus is configured from
 * examples/prometheus.yml (both scrape styles, the `/probe` relabelling, the rule file), pointed at a
 * metrics source, and each panel's PromQL (with Grafana's variables filled in) must be accepted by the
 * HTTP API; panels must show data where the source has some, the overview counts and status column
 * must match the states the source serves, and the revoked alert (for: 0m) must be firing.
 *
 * The source is `startMetricsSource()`: today a static server rendering fixed probe results through
 * the exporter's own metrics mapping; the real exporter can replace it by returning a MetricsSource.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { waitFor } from '../e2e/lab/wait.js';
import { allPanels, interpolate, loadDashboards, type Panel } from './dashboards.js';
import { FILE_STATUS_VALUE, STATUS_VALUE, startStaticMetricsSource, type MetricsSource } from './metrics-source.js';
import { startPrometheus, type RunningPrometheus } from './prometheus.js';
import { REPO_ROOT, RULES_FILE, requireTools } from './tools.js';

/** The metrics source under test; swap in the real exporter here. */
const startMetricsSource: () => Promise<MetricsSource> = startStaticMetricsSource;

const STATIC_JOB = 'ocsp-stapling-exporter';
const PROBE_JOB = 'ocsp-probe';
const PROBED_TARGETS = ['valid.example.test:443', 'revoked.example.test:443'];

const gate = requireTools(['prometheus']);

/** examples/prometheus.yml, aimed at `source`, scraping every second, without Alertmanager. */
function prometheusConfig(source: MetricsSource): object {
  const example = parse(readFileSync(path.join(REPO_ROOT, 'examples/prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    alerting?: unknown;
    scrape_configs: { job_name: string; scrape_timeout?: string; static_configs: { targets: string[] }[]; relabel_configs?: { replacement?: string }[] }[];
  };
  const hostPort = new URL(source.baseUrl).host;
  example.global = { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  expect(example.rule_files).toEqual(['../grafana/alerts/ocsp-stapling.rules.yml']);
  example.rule_files = [RULES_FILE];
  delete example.alerting;
  const [metricsJob, probeJob] = example.scrape_configs;
  expect(metricsJob?.job_name).toBe(STATIC_JOB);
  expect(probeJob?.job_name).toBe(PROBE_JOB);
  metricsJob!.static_configs = [{ targets: [hostPort] }];
  probeJob!.scrape_timeout = '1s';
  probeJob!.static_configs = [{ targets: PROBED_TARGETS }];
  const exporterAddress = probeJob!.relabel_configs?.find((r) => r.replacement === 'localhost:9858');
  expect(exporterAddress, 'the example relabels __address__ to the exporter').toBeDefined();
  exporterAddress!.replacement = hostPort;
  return example;
}

describe.skipIf(gate.skip)('dashboards and alerts against a real Prometheus', () => {
  let source: MetricsSource | undefined;
  let prometheus: RunningPrometheus | undefined;
  const dashboards = loadDashboards();
  const overview = dashboards.find((d) => d.dashboard.uid === 'ocsp-stapling-overview')!.dashboard;
  const drill = dashboards.find((d) => d.dashboard.uid === 'ocsp-stapling-target')!.dashboard;

  beforeAll(async () => {
    source = await startMetricsSource();
    prometheus = await startPrometheus(prometheusConfig(source));
    const probedAddresses = source.addresses.filter((a) => PROBED_TARGETS.includes(a.target)).length;
    const expected = source.addresses.length + probedAddresses;
    // First scrapes land ~6 s after start; wait until both jobs and the exporter's own series are in.
    await waitFor(
      async () => {
        const [probes, build] = await Promise.all([
          prometheus!.query('count(ocsp_probe_success)'),
          prometheus!.query('ocsp_exporter_build_info'),
        ]);
        return Number(probes[0]?.value[1] ?? 0) === expected && build.length === 1;
      },
      30_000,
      { what: `${expected} ocsp_probe_success series in Prometheus`, intervalMs: 250, diagnostics: () => prometheus!.diagnostics() },
    );
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await source?.close();
  });

  // Grafana fills "All" with the variable's allValue: `.+` for target, so the probe panels leave out
  // staple files and responder checks (they have no target label).
  const targetAll = (overview.templating.list.find((v) => v.name === 'target') as { allValue?: string }).allValue!;
  const overviewVars = { job: STATIC_JOB, target: targetAll, address: '.*' };

  async function runPanel(panel: Panel, variables: Record<string, string>): Promise<number[]> {
    const counts: number[] = [];
    for (const target of panel.targets ?? []) {
      const expr = interpolate(target.expr, variables);
      const instant = await prometheus!.query(expr);
      if (target.range !== false && !target.instant) {
        // Range panels: Grafana asks query_range; it must accept the expression too.
        await prometheus!.queryRange(expr, 60);
      }
      counts.push(instant.length);
    }
    return counts;
  }

  it('relabels /probe scrapes as in the example: instance and target are the probed server', async () => {
    const series = await prometheus!.query(`ocsp_probe_success{job="${PROBE_JOB}"}`);
    expect([...new Set(series.map((s) => s.metric.instance))].sort()).toEqual([...PROBED_TARGETS].sort());
    expect(series).toHaveLength(source!.addresses.filter((a) => PROBED_TARGETS.includes(a.target)).length);
    for (const s of series) expect(s.metric.target).toBe(s.metric.instance);
  });

  it.each(allPanels(overview).map((p) => [p.title, p] as const))('overview panel "%s" runs and shows data', async (_title, panel) => {
    const counts = await runPanel(panel, overviewVars);
    // Every query of the overview has data with this fleet: some target is in every state.
    for (const [i, count] of counts.entries()) expect(count, `${panel.targets![i]!.refId}: ${panel.targets![i]!.expr}`).toBeGreaterThan(0);
  });

  it('overview counts match the states the source serves', async () => {
    const byState = (state: keyof typeof STATUS_VALUE): number => source!.addresses.filter((a) => a.state === state).length;
    const expected: Record<string, number> = {
      'Addresses probed': source!.addresses.length,
      'Valid staple': byState('valid') + byState('stale') + byState('revoked'),
      'Missing staple': byState('missing'),
      'Stale staple': byState('stale'),
      'Invalid staple': byState('invalid') + byState('expired'),
      Revoked: byState('revoked'),
      'Probe failing': byState('probe_failed'),
      'No OCSP URL': byState('no_ocsp_url'),
    };
    const got: Record<string, number> = {};
    for (const title of Object.keys(expected)) {
      const panel = allPanels(overview).find((p) => p.title === title);
      expect(panel, title).toBeDefined();
      const result = await prometheus!.query(interpolate(panel!.targets![0]!.expr, overviewVars));
      got[title] = Number(result[0]?.value[1]);
    }
    expect(got).toEqual(expected);
    // Empty selections show 0, not "No data".
    const none = await prometheus!.query(interpolate(allPanels(overview).find((p) => p.title === 'Revoked')!.targets![0]!.expr, { ...overviewVars, target: 'nothing' }));
    expect(none.map((s) => s.value[1])).toEqual(['0']);
  });

  it('the staple file and responder check counts match what the source serves', async () => {
    const files = (state: keyof typeof FILE_STATUS_VALUE): number => source!.files.filter((f) => f.state === state).length;
    const checks = (state: string): number => source!.checks.filter((c) => c.state === state).length;
    const expected: Record<string, number> = {
      'Staple files': source!.files.length,
      // Valid responses, also in a file past its deadline or holding an old answer, or saying revoked.
      'Valid file staples': files('valid') + files('refresh_stalled') + files('old_answer') + files('revoked'),
      'Past rewrite deadline': files('refresh_stalled') + files('expired'),
      'Unreadable files': files('unreadable'),
      'Responder checks': source!.checks.length,
      'Responder check down': checks('down'),
      'Revoked (checked)': checks('revoked'),
      'Unreadable certificates': checks('unreadable'),
    };
    const got: Record<string, number> = {};
    for (const title of Object.keys(expected)) {
      const panel = allPanels(overview).find((p) => p.title === title && p.type === 'stat');
      expect(panel, title).toBeDefined();
      const result = await prometheus!.query(interpolate(panel!.targets![0]!.expr, overviewVars));
      got[title] = Number(result[0]?.value[1]);
    }
    expect(got).toEqual(expected);
  });

  it('the staple files table gives each file its state and read error; the checks table each certificate its answer', async () => {
    const files = allPanels(overview).find((p) => p.title === 'Staple files' && p.type === 'table')!;
    const query = async (panel: typeof files, refId: string) =>
      prometheus!.query(interpolate(panel.targets!.find((t) => t.refId === refId)!.expr, overviewVars));
    const status = Object.fromEntries((await query(files, 'A')).map((s) => [s.metric.file, Number(s.value[1])]));
    expect(status).toEqual(Object.fromEntries(source!.files.map((f) => [f.file, FILE_STATUS_VALUE[f.state]])));
    const reasons = Object.fromEntries((await query(files, 'G')).map((s) => [s.metric.file, s.metric.reason]));
    expect(reasons).toEqual({ '/etc/haproxy/certs/new.pem.ocsp': 'missing', '/etc/nginx/ocsp/broken.der': 'bad_certificate' });
    // The stalled job's deadline passed about an hour ago; the fresh file's is 11 hours ahead.
    const due = Object.fromEntries((await query(files, 'F')).map((s) => [s.metric.file, Number(s.value[1])]));
    expect(due['/etc/haproxy/certs/shop.pem.ocsp']).toBeCloseTo(-3600, -2);
    expect(due['/etc/haproxy/certs/www.pem.ocsp']).toBeCloseTo(11 * 3600, -2);

    const checks = allPanels(overview).find((p) => p.title === 'Checked certificates')!;
    const up = Object.fromEntries((await query(checks, 'A')).map((s) => [s.metric.certificate, Number(s.value[1])]));
    expect(up).toEqual(
      Object.fromEntries(source!.checks.filter((c) => c.state !== 'unreadable').map((c) => [c.certificate, c.state === 'down' ? 0 : 1])),
    );
    const said = Object.fromEntries((await query(checks, 'B')).map((s) => [s.metric.certificate, s.metric.status]));
    expect(said).toEqual(Object.fromEntries(source!.checks.filter((c) => c.state === 'good' || c.state === 'revoked').map((c) => [c.certificate, c.state])));
  });

  it('the status column gives each address its state', async () => {
    const table = allPanels(overview).find((p) => p.title === 'Targets')!;
    const status = table.targets!.find((t) => t.refId === 'A')!;
    const result = await prometheus!.query(interpolate(status.expr, overviewVars));
    const got = Object.fromEntries(result.map((s) => [s.metric.address, Number(s.value[1])]));
    const expected = Object.fromEntries(source!.addresses.map((a) => [a.address, STATUS_VALUE[a.state]]));
    expect(got).toEqual(expected);
  });

  it.each(allPanels(drill).map((p) => [p.title, p] as const))('drill-down panel "%s" runs and shows data for some target', async (_title, panel) => {
    // Not every target has every fact (no revocation time unless revoked, no problems unless invalid):
    // each query must show data for at least one of them.
    const totals = (panel.targets ?? []).map(() => 0);
    for (const { target } of source!.addresses) {
      const counts = await runPanel(panel, { job: '.*', target, address: '.*' });
      counts.forEach((count, i) => (totals[i]! += count));
    }
    for (const [i, total] of totals.entries()) expect(total, `${panel.targets![i]!.refId}: ${panel.targets![i]!.expr}`).toBeGreaterThan(0);
  });

  it('the revoked alert (for: 0m) fires, for the revoked address only', async () => {
    const alerts = await waitFor(
      async () => {
        const firing = (await prometheus!.alerts()).filter((a) => a.labels.alertname === 'OcspCertificateRevoked' && a.state === 'firing');
        return firing.length === 4 ? firing : null;
      },
      15_000,
      { what: 'OcspCertificateRevoked firing for both scrape jobs, the revoked staple file and the revoked responder check', intervalMs: 250 },
    );
    // The staple file and the responder check that say revoked, named in the summary.
    const onFile = alerts.find((a) => a.labels.file);
    expect(onFile?.labels).toMatchObject({ job: STATIC_JOB, file: '/etc/nginx/ocsp/revoked.der', certificate: '/etc/nginx/certs/revoked.pem' });
    expect(onFile?.annotations.summary).toContain('/etc/nginx/ocsp/revoked.der');
    const onCheck = alerts.find((a) => !a.labels.file && !a.labels.target);
    expect(onCheck?.labels).toMatchObject({ job: STATIC_JOB, certificate: '/etc/ocsp-stapling-exporter/tls/legacy/tls.crt', ca: 'internal' });
    expect(onCheck?.annotations.description).toMatch(/responder check.*revoked at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC/);
    for (const alert of alerts.filter((a) => a.labels.target)) {
      expect(alert.labels).toMatchObject({ severity: 'critical', target: 'revoked.example.test:443', address: '192.0.2.15:443' });
      expect(alert.annotations.runbook_url).toMatch(/docs\/runbook\.md#ocspcertificaterevoked$/);
      expect(alert.annotations.description).toMatch(/revoked at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC/);
    }
    expect(alerts.filter((a) => a.labels.target).map((a) => a.labels.job).sort()).toEqual([PROBE_JOB, STATIC_JOB]);
    // Alerts with a `for:` are at most pending this early: nothing else may be firing.
    const others = (await prometheus!.alerts()).filter((a) => a.labels.alertname !== 'OcspCertificateRevoked' && a.state === 'firing');
    expect(others).toEqual([]);
  });
});
