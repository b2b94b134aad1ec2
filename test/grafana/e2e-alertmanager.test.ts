/**
 * The whole alerting path with the real programs: the real exporter (buildApp, real probes) probes
 * loopback TLS servers — every demo-lab state, a healthy server whose leaf and intermediate responders
 * are asked directly, one whose responder is down, a dead port, and one whose short-lived staple crosses half its validity
 * window during the test — a real Prometheus scrapes it (configured from examples/prometheus.yml, both
 * scrape styles) with the shipped rule file loaded, and a real Alertmanager (configured from
 * examples/alertmanager.yml) delivers to a webhook receiver in this process.
 *
 * Only the rules' `for:` durations are shortened (OcspStapleRefreshStalled waits an hour); the copy is
 * checked to differ in nothing else, and the durations themselves are covered by the promtool unit
 * tests in grafana/alerts/tests. The same Prometheus then runs every dashboard query against the real
 * exporter's series, and every metric name the dashboards and rules use must be in its output.
 * The exporter also reads staple files in HAProxy's layout (fresh, written by a refresh job that
 * stalled 13 h ago, missing) and checks the responder of two certificate files (one through a dead
 * responder), so the file and responder-check alerts and dashboard rows meet the real sources too.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { defaultModule, type Config } from '../../src/config/schema.js';
import { chainPem } from '../../src/pki/index.js';
import { startDemoLab, type DemoCase, type DemoLab } from '../../src/demo/lab.js';
import { EXPORTER_METRICS, PROBE_METRICS } from '../../src/metrics/names.js';
import { freePort } from '../e2e/lab/ports.js';
import { waitFor } from '../e2e/lab/wait.js';
import { startExporter, type RunningExporter } from '../e2e/support/exporter.js';
import { familyNames } from '../metrics/exposition.js';
import { startAlertmanager, startWebhookReceiver, type DeliveredAlert, type RunningAlertmanager, type WebhookReceiver } from './alertmanager.js';
import { allPanels, interpolate, loadDashboards, type Panel } from './dashboards.js';
import { STATUS_VALUE, type StapleState } from './metrics-source.js';
import { startPrometheus, type RunningPrometheus } from './prometheus.js';
import { loadAlertRules, markdownAnchors, shortenForDurations } from './rules.js';
import { startResponderPki, startStapleServer, type ResponderPki, type StapleServer } from './tls-targets.js';
import { LOOPBACK_ALLOWED } from '../responder/support.js';
import { REPO_ROOT, RULES_FILE, RUNBOOK_FILE, requireTools } from './tools.js';

const gate = requireTools(['prometheus', 'prometheus-alertmanager']);

const METRICS_JOB = 'ocsp-stapling-exporter';
const PROBE_JOB = 'ocsp-probe';
/** Every rule's `for:` in the e2e copy: long enough that one failed scrape (2 s) cannot fire an alert. */
const SHORT_FOR = '3s';
/** The going-stale staple: thisUpdate 10 s before Prometheus starts, nextUpdate 60 s after → stale from +25 s. */
const STALE_BEFORE_S = 10;
const STALE_AFTER_S = 60;

/** Our own targets beside the demo lab's, in the same `demo_case` label. */
type Case = DemoCase | 'fresh' | 'goes_stale' | 'down' | 'responder_down';

/** What each case must look like in the overview's status column. */
const STATE: Record<Case, StapleState> = {
  good: 'valid',
  no_staple: 'missing',
  expired: 'expired',
  revoked: 'revoked',
  wrong_certificate: 'invalid',
  must_staple_missing: 'missing',
  stale: 'stale',
  no_ocsp_url: 'no_ocsp_url',
  bad_signature: 'invalid',
  fresh: 'valid',
  goes_stale: 'stale',
  down: 'probe_failed',
  responder_down: 'valid',
};

/** The alerts each case must raise (alertname, or alertname/problem); healthy cases raise none. */
const EXPECTED_ALERTS: Record<Case, string[]> = {
  good: [],
  fresh: [],
  no_ocsp_url: [],
  no_staple: ['OcspStapleMissing'],
  expired: ['OcspStapleExpired'],
  revoked: ['OcspCertificateRevoked'],
  wrong_certificate: ['OcspStapleInvalid/wrong_certificate'],
  must_staple_missing: ['OcspStapleMissingMustStaple'],
  stale: ['OcspStapleRefreshStalled'],
  bad_signature: ['OcspStapleInvalid/bad_signature'],
  goes_stale: ['OcspStapleRefreshStalled'],
  down: ['OcspProbeFailing'],
  responder_down: ['OcspResponderDown'],
};
const HEALTHY: Case[] = ['good', 'fresh', 'no_ocsp_url'];
/** The staple files (HAProxy layout, by bundle name) and responder checks, with the alerts each must raise. */
const FILE_ALERTS: Record<string, string[]> = { fresh: [], stalled: ['OcspStapleFileRefreshStalled'], nostaple: ['OcspStapleFileUnreadable'] };
const CHECK_ALERTS: Record<string, string[]> = { fresh: [], stalled: ['OcspResponderCheckDown'], gone: ['OcspResponderCheckCertificateUnreadable'] };
/** Targets the `/probe` job asks for (module default). */
const PROBED_CASES: Case[] = ['fresh', 'goes_stale'];

describe.skipIf(gate.skip)('Prometheus → Alertmanager → webhook against the real exporter', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ocsp-e2e-alerts-'));
  let demo: DemoLab | undefined;
  let pki: ResponderPki | undefined;
  const servers: StapleServer[] = [];
  let exporter: RunningExporter | undefined;
  let webhook: WebhookReceiver | undefined;
  let alertmanager: RunningAlertmanager | undefined;
  let prometheus: RunningPrometheus | undefined;
  /** target → case, for series without the demo_case label (the /probe job). */
  const caseOfTarget = new Map<string, Case>();
  let goesStale: StapleServer;
  let goesStaleTarget = '';
  /** When the going-stale staple passes half its window (Unix ms). */
  let staleFromMs = 0;
  /** Its nextUpdate (Unix ms): from then on it is expired, no longer stale. */
  let expiresAtMs = 0;
  /** ocsp_staple_stale of the going-stale target at the first scrapes, per job. */
  let firstStaleValues: Record<string, string> = {};
  const timings: Record<string, number> = {};
  const t0 = Date.now();

  function caseOf(labels: Record<string, string>): Case | undefined {
    return (labels.demo_case as Case | undefined) ?? caseOfTarget.get(labels.target ?? '');
  }
  /** Which probed case, staple file or responder check a series or alert is about. */
  function subjectOf(labels: Record<string, string>): string {
    if (labels.file) return `file ${path.basename(labels.file, '.pem.ocsp')}`;
    if (labels.certificate && !labels.target) return `check ${path.basename(labels.certificate, '.pem')}`;
    return caseOf(labels) ?? `unknown target ${labels.target}`;
  }

  beforeAll(async () => {
    pki = await startResponderPki();
    const fresh = await startStapleServer(pki.leaf, await pki.staple());
    // Until Prometheus starts nothing probes; the real short-lived staple is put in just before.
    goesStale = await startStapleServer(pki.leaf, await pki.staple());
    servers.push(fresh, goesStale);
    goesStaleTarget = goesStale.target;
    const responderDown = await startStapleServer(pki.leaf, await pki.staple());
    servers.push(responderDown);
    const downPort = await freePort(); // nothing listens: connection refused
    const deadResponderPort = await freePort();

    demo = await startDemoLab();
    const config: Config = { ...demo.config, global: { ...demo.config.global, minProbeIntervalSeconds: 0 }, modules: { ...demo.config.modules } };
    config.modules.default = {
      ...defaultModule('default'),
      caPem: pki.root.pem,
      timeoutSeconds: 5,
      queryResponder: true,
      queryChainResponders: true,
      // The fixture responders listen on loopback, which responder requests reach only when allowlisted.
      responderDestinations: LOOPBACK_ALLOWED,
    };
    // Same server and staple as healthy, but its responder (asked directly) refuses connections.
    config.modules.responder_down = { ...config.modules.default, name: 'responder_down', responderUrl: `http://127.0.0.1:${deadResponderPort}/` };
    const ours: [Case, string, string][] = [
      ['fresh', fresh.target, 'default'],
      ['goes_stale', goesStale.target, 'default'],
      ['down', `127.0.0.1:${downPort}`, 'default'],
      ['responder_down', responderDown.target, 'responder_down'],
    ];
    config.targets = [
      ...demo.config.targets,
      ...ours.map(([name, target, module]) => ({ target, host: '127.0.0.1', port: Number(target.split(':')[1]), module, serverName: null, labels: { demo_case: name } })),
    ];
    for (const t of config.targets) caseOfTarget.set(t.target, t.labels.demo_case as Case);

    // HAProxy's layout: bundles (leaf and chain) with <bundle>.ocsp beside them. The stalled job wrote
    // its last staple 13 h ago (valid 24 h): past its rewrite deadline (12 h), still usable.
    const certDir = path.join(tmp, 'haproxy');
    mkdirSync(certDir);
    for (const name of new Set([...Object.keys(FILE_ALERTS), ...Object.keys(CHECK_ALERTS)])) writeFileSync(path.join(certDir, `${name}.pem`), chainPem(pki.leaf));
    writeFileSync(path.join(certDir, 'fresh.pem.ocsp'), await pki.staple());
    const stalledAtS = Math.floor(Date.now() / 1000) - 13 * 3600;
    writeFileSync(path.join(certDir, 'stalled.pem.ocsp'), await pki.staple({ thisUpdate: new Date(stalledAtS * 1000), nextUpdate: new Date((stalledAtS + 24 * 3600) * 1000) }));
    utimesSync(path.join(certDir, 'stalled.pem.ocsp'), stalledAtS, stalledAtS);
    const sources = parseConfig(
      [
        'modules: { default: {}, responder_down: {} }',
        'staple_files:',
        `  - haproxy: ${certDir}/*.pem`,
        'responder_checks:',
        `  - certificate: ${certDir}/fresh.pem`,
        `  - certificate: ${certDir}/stalled.pem`,
        '    module: responder_down',
        `  - certificate: ${certDir}/gone.pem`,
      ].join('\n'),
      path.join(tmp, 'sources.yaml'),
    );
    // Loaded while it existed, removed since (a Secret's key dropped): the check cannot read it. Out of
    // the staple_files glob too, so that source never sees it.
    rmSync(path.join(certDir, 'gone.pem'));
    config.stapleFiles = sources.stapleFiles;
    config.responderChecks = sources.responderChecks;
    exporter = await startExporter(config);
    timings.labAndExporterMs = Date.now() - t0;

    webhook = await startWebhookReceiver();
    alertmanager = await startAlertmanager(alertmanagerConfig(webhook.baseUrl));

    const rulesCopy = path.join(tmp, 'ocsp-stapling.rules.yml');
    writeFileSync(rulesCopy, shortenForDurations(readFileSync(RULES_FILE, 'utf8'), SHORT_FOR));
    const exporterHost = new URL(exporter.baseUrl).host;
    const promConfig = prometheusConfig({
      exporterHost,
      alertmanagerHost: alertmanager.hostPort,
      rulesFile: rulesCopy,
      probed: PROBED_CASES.map((c) => ours.find(([name]) => name === c)![1]),
    });

    // The short-lived staple: already 10 s old, valid for 70 s, so past half its window 25 s from now.
    const nowS = Math.floor(Date.now() / 1000);
    goesStale.staple = await pki.staple({ thisUpdate: new Date((nowS - STALE_BEFORE_S) * 1000), nextUpdate: new Date((nowS + STALE_AFTER_S) * 1000) });
    staleFromMs = (nowS + (STALE_AFTER_S - STALE_BEFORE_S) / 2) * 1000;
    expiresAtMs = (nowS + STALE_AFTER_S) * 1000;
    const promStarted = Date.now();
    prometheus = await startPrometheus(promConfig);
    timings.prometheusReadyMs = Date.now() - promStarted;

    const expected = config.targets.length + PROBED_CASES.length;
    await waitFor(
      async () => Number((await prometheus!.query('count(ocsp_probe_success)'))[0]?.value[1] ?? 0) === expected,
      30_000,
      { what: `${expected} ocsp_probe_success series`, intervalMs: 250, diagnostics: () => prometheus!.diagnostics() },
    );
    timings.firstScrapesMs = Date.now() - promStarted;
    // Both jobs' first look at the going-stale target, before it crossed half its window.
    const first = await prometheus.query(`ocsp_staple_stale{target="${goesStaleTarget}"}`);
    firstStaleValues = Object.fromEntries(first.map((s) => [s.metric.job!, s.value[1]]));
    timings.firstLookBeforeStaleMs = staleFromMs - Date.now();
  }, 90_000);

  afterAll(async () => {
    const stops: (() => Promise<void>)[] = [
      async () => prometheus?.stop(),
      async () => alertmanager?.stop(),
      async () => webhook?.close(),
      async () => exporter?.close(),
      async () => demo?.close(),
      ...servers.map((s) => () => s.close()),
      async () => pki?.close(),
    ];
    for (const stop of stops) {
      try {
        await stop();
      } catch (error) {
        console.warn(`cleanup: ${(error as Error).message}`);
      }
    }
    rmSync(tmp, { recursive: true, force: true });
    console.info(`e2e-alertmanager timings (ms): ${JSON.stringify({ ...timings, totalMs: Date.now() - t0 })}`);
  });

  const isStaleAlert = (a: DeliveredAlert): boolean => a.status === 'firing' && a.labels.alertname === 'OcspStapleRefreshStalled' && a.labels.target === goesStaleTarget;

  it('delivers OcspStapleRefreshStalled for the staple that went stale, with its labels and annotations', async () => {
    // The staple was fresh when Prometheus first saw it: the alert must come from it ageing.
    expect(firstStaleValues).toEqual({ [METRICS_JOB]: '0', [PROBE_JOB]: '0' });
    const delivered = await waitFor(
      () => {
        const found = webhook!.alerts.filter(isStaleAlert);
        return new Set(found.map((a) => a.labels.job)).size === 2 ? found : null;
      },
      60_000,
      { what: 'OcspStapleRefreshStalled for the going-stale target from both jobs at the webhook', intervalMs: 200, diagnostics: () => `${alertmanager!.diagnostics()}\n${JSON.stringify(webhook!.alerts.map((a) => a.labels))}` },
    );
    timings.staleDeliveredAfterCrossingMs = Math.min(...delivered.map((a) => a.receivedAtMs)) - staleFromMs;
    expect(Math.min(...delivered.map((a) => a.receivedAtMs))).toBeGreaterThanOrEqual(staleFromMs);

    const runbookAnchors = markdownAnchors(readFileSync(RUNBOOK_FILE, 'utf8'));
    const exporterHost = new URL(exporter!.baseUrl).host;
    for (const job of [METRICS_JOB, PROBE_JOB]) {
      const alert = delivered.find((a) => a.labels.job === job)!;
      // The severity route of examples/alertmanager.yml delivered it.
      expect(alert.path).toBe('/alerts/warning');
      expect(alert.receiver).toBe('ocsp-warnings');
      expect(alert.labels).toEqual({
        alertname: 'OcspStapleRefreshStalled',
        severity: 'warning',
        job,
        instance: job === METRICS_JOB ? exporterHost : goesStaleTarget,
        target: goesStaleTarget,
        address: goesStaleTarget,
        module: 'default',
        ...(job === METRICS_JOB ? { demo_case: 'goes_stale' } : {}),
      });
      expect(alert.annotations.summary).toBe(`${goesStaleTarget} (${goesStaleTarget}) has not refreshed its OCSP staple`);
      // $value is the age (> 35 s), the usable window is 70 s (signed by the issuer: thisUpdate to
      // nextUpdate), and it has not expired yet.
      expect(alert.annotations.description).toMatch(
        new RegExp(
          `stapled by ${goesStaleTarget.replace(/\./g, '\\.')} \\(target ${goesStaleTarget.replace(/\./g, '\\.')}\\) was issued (3[5-9]|[4-6]\\d)(\\.\\d+)?s ago, ` +
            'more than half of its 1m 10s usable window: the server\'s refresh has stalled\\. It stops being usable in [\\d.]+s\\.',
        ),
      );
      expect(alert.annotations.runbook_url).toMatch(/\/docs\/runbook\.md#ocspstaplerefreshstalled$/);
      expect(runbookAnchors.has(alert.annotations.runbook_url!.split('#')[1]!)).toBe(true);
    }
  }, 70_000);

  it('healthy targets raise nothing; every other target raises exactly the alert its state calls for', async () => {
    // A few evaluation cycles (1 s) and scrapes (2 s) more after the stale alert arrived.
    await sleep(5000);
    expect(webhook!.rejected).toEqual([]);
    const firing = webhook!.alerts.filter((a) => a.status === 'firing');
    const got = new Set(firing.map((a) => `${subjectOf(a.labels)} ${a.labels.job} ${a.labels.alertname}${a.labels.problem ? `/${a.labels.problem}` : ''}`));
    const expected = new Set<string>();
    for (const [name, alerts] of Object.entries(EXPECTED_ALERTS) as [Case, string[]][]) {
      for (const alert of alerts) {
        expected.add(`${name} ${METRICS_JOB} ${alert}`);
        if (PROBED_CASES.includes(name)) expected.add(`${name} ${PROBE_JOB} ${alert}`);
      }
    }
    // Staple files and responder checks are on /metrics only. The stalled file's staple is also older
    // than half its window: OcspStapleRefreshStalled yields to the file alert.
    for (const [name, alerts] of Object.entries(FILE_ALERTS)) for (const alert of alerts) expected.add(`file ${name} ${METRICS_JOB} ${alert}`);
    for (const [name, alerts] of Object.entries(CHECK_ALERTS)) for (const alert of alerts) expected.add(`check ${name} ${METRICS_JOB} ${alert}`);
    const fileAlert = firing.find((a) => a.labels.alertname === 'OcspStapleFileUnreadable');
    expect(fileAlert?.labels).toMatchObject({ reason: 'missing', severity: 'warning', certificate: expect.stringMatching(/\/nostaple\.pem$/) });
    expect([...got].sort()).toEqual([...expected].sort());
    // Critical alerts went to the critical receiver, warnings to the warning one.
    for (const alert of firing) expect(alert.path, alert.labels.alertname).toBe(`/alerts/${alert.labels.severity}`);

    // Nothing pending or firing in Prometheus, nor held by Alertmanager, for a healthy target.
    const healthy = (labels: Record<string, string>): boolean => HEALTHY.includes(caseOf(labels) as Case);
    expect((await prometheus!.alerts()).filter((a) => healthy(a.labels))).toEqual([]);
    expect((await alertmanager!.alerts()).filter((a) => healthy(a.labels))).toEqual([]);
    expect(firing.filter((a) => healthy(a.labels))).toEqual([]);
  }, 20_000);

  describe('dashboards against the real exporter', () => {
    const dashboards = loadDashboards();
    const overview = dashboards.find((d) => d.dashboard.uid === 'ocsp-stapling-overview')!.dashboard;
    const drill = dashboards.find((d) => d.dashboard.uid === 'ocsp-stapling-target')!.dashboard;
    // "All" targets is the variable's allValue (`.+`: files and checks have no target label).
    const targetAll = (overview.templating.list.find((v) => v.name === 'target') as { allValue?: string }).allValue!;
    const overviewVars = { job: METRICS_JOB, target: targetAll, address: '.*' };

    async function runPanel(panel: Panel, variables: Record<string, string>): Promise<number[]> {
      const counts: number[] = [];
      for (const target of panel.targets ?? []) {
        const expr = interpolate(target.expr, variables);
        const instant = await prometheus!.query(expr);
        if (target.range !== false && !target.instant) await prometheus!.queryRange(expr, 60);
        counts.push(instant.length);
      }
      return counts;
    }

    it('every metric name the dashboards and rules use is in the real exporter\'s /metrics', async () => {
      const texts = [
        ...dashboards.map((d) => d.text),
        ...loadAlertRules().flatMap((r) => [r.expr, ...Object.values(r.annotations ?? {})]),
      ];
      const mentioned = new Set(texts.flatMap((text) => text.match(/\bocsp_[a-z0-9_]+/g) ?? []));
      // Names that are labels, not families (ocsp_cert_info's `ocsp_url`).
      const labelNames = new Set([...Object.values(PROBE_METRICS), ...Object.values(EXPORTER_METRICS)].flatMap((f) => f.labels));
      const families = [...mentioned].filter((name) => !labelNames.has(name)).sort();
      expect([...mentioned].filter((name) => labelNames.has(name)).sort()).toEqual(['ocsp_url']);
      const exposed = familyNames(await exporter!.scrape());
      expect(families.filter((name) => !exposed.has(name))).toEqual([]);
      expect(families.length).toBeGreaterThan(20);
    });

    it.each(allPanels(overview).map((p) => [p.title, p] as const))('overview panel "%s" shows data', async (_title, panel) => {
      const counts = await runPanel(panel, overviewVars);
      for (const [i, count] of counts.entries()) expect(count, `${panel.targets![i]!.refId}: ${panel.targets![i]!.expr}`).toBeGreaterThan(0);
    });

    it('overview counts match the states of the probed servers', async () => {
      const cases = [...caseOfTarget.values()];
      const byState = (...states: StapleState[]): number => cases.filter((c) => states.includes(STATE[c])).length;
      const expected: Record<string, number> = {
        'Addresses probed': cases.length,
        'Valid staple': byState('valid', 'stale', 'revoked'),
        'Missing staple': byState('missing'),
        'Stale staple': byState('stale'),
        'Invalid staple': byState('invalid', 'expired'),
        Revoked: byState('revoked'),
        'Probe failing': byState('probe_failed'),
        'No OCSP URL': byState('no_ocsp_url'),
      };
      const got: Record<string, number> = {};
      for (const title of Object.keys(expected)) {
        const panel = allPanels(overview).find((p) => p.title === title);
        expect(panel, title).toBeDefined();
        got[title] = Number((await prometheus!.query(interpolate(panel!.targets![0]!.expr, overviewVars)))[0]?.value[1]);
      }
      expect(got).toEqual(expected);
    });

    it('the status column gives each probed server its state', async () => {
      const table = allPanels(overview).find((p) => p.title === 'Targets')!;
      const status = table.targets!.find((t) => t.refId === 'A')!;
      const result = await prometheus!.query(interpolate(status.expr, overviewVars));
      const got = Object.fromEntries(result.map((s) => [caseOf(s.metric), Number(s.value[1])]));
      const expected = Object.fromEntries([...caseOfTarget.values()].map((c) => [c, STATUS_VALUE[STATE[c]]]));
      expect(got).toEqual(expected);
      // Still inside the going-stale staple's window: the states above are not about to change.
      expect(Date.now()).toBeLessThan(expiresAtMs);
    });

    it.each(allPanels(drill).map((p) => [p.title, p] as const))('drill-down panel "%s" shows data for some target', async (_title, panel) => {
      const totals = (panel.targets ?? []).map(() => 0);
      for (const target of caseOfTarget.keys()) {
        const counts = await runPanel(panel, { job: '.*', target, address: '.*' });
        counts.forEach((count, i) => (totals[i]! += count));
      }
      for (const [i, total] of totals.entries()) expect(total, `${panel.targets![i]!.refId}: ${panel.targets![i]!.expr}`).toBeGreaterThan(0);
    });
  });
});

/** examples/alertmanager.yml with its webhooks aimed at `webhookBase` and its waits cut to seconds. */
function alertmanagerConfig(webhookBase: string): object {
  const example = parse(readFileSync(path.join(REPO_ROOT, 'examples/alertmanager.yml'), 'utf8')) as {
    route: { group_wait?: string; group_interval?: string; routes?: { group_wait?: string; group_interval?: string }[] };
    receivers: { name: string; webhook_configs?: { url: string }[] }[];
  };
  for (const route of [example.route, ...(example.route.routes ?? [])]) {
    if (route.group_wait !== undefined) route.group_wait = '0s';
    if (route.group_interval !== undefined) route.group_interval = '1s';
  }
  for (const receiver of example.receivers) {
    for (const webhook of receiver.webhook_configs ?? []) {
      const url = new URL(webhook.url);
      webhook.url = `${webhookBase}${url.pathname}`;
    }
  }
  return example;
}

/** examples/prometheus.yml aimed at the exporter and Alertmanager, scraping every 2 s, evaluating every 1 s. */
function prometheusConfig(options: { exporterHost: string; alertmanagerHost: string; rulesFile: string; probed: string[] }): object {
  const example = parse(readFileSync(path.join(REPO_ROOT, 'examples/prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    scrape_configs: { job_name: string; scrape_timeout?: string; static_configs: { targets: string[] }[]; relabel_configs?: { replacement?: string }[] }[];
  };
  // 2 s scrapes give each probe a 1.5 s budget (scrape timeout minus the exporter's 0.5 s offset).
  example.global = { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '1s' };
  example.rule_files = [options.rulesFile];
  example.alerting.alertmanagers[0]!.static_configs[0]!.targets = [options.alertmanagerHost];
  const [metricsJob, probeJob] = example.scrape_configs;
  if (metricsJob?.job_name !== METRICS_JOB || probeJob?.job_name !== PROBE_JOB) throw new Error('examples/prometheus.yml: unexpected jobs');
  metricsJob.static_configs = [{ targets: [options.exporterHost] }];
  probeJob.scrape_timeout = '2s';
  probeJob.static_configs = [{ targets: options.probed }];
  const exporterAddress = probeJob.relabel_configs?.find((r) => r.replacement === 'localhost:9858');
  if (!exporterAddress) throw new Error('examples/prometheus.yml: no __address__ relabelling to the exporter');
  exporterAddress.replacement = options.exporterHost;
  return example;
}
