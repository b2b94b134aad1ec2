/**
 * The alert rules under grafana/alerts/ checked by the real promtool: the rule file is valid, every
 * promtool unit test passes, the harness can fail (a broken expectation and mutated rules make it
 * fail), and every alert carries what an on-call person needs (severity, summary, description, a
 * runbook anchor that exists, unit tests that show it firing and staying silent).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAlertRules, loadRuleTestAssertions, markdownAnchors, ruleTestFiles } from './rules.js';
import { REPO_ROOT, RULES_FILE, RUNBOOK_FILE, requireTools, runTool } from './tools.js';

const gate = requireTools(['promtool']);
const rules = loadAlertRules();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ocsp-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `rulesText` and copies of all rule tests pointing at it into a fresh directory. */
function writeSuite(name: string, rulesText: string, editTests: (text: string, file: string) => string = (t) => t): string[] {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const rulesPath = path.join(dir, 'rules.yml');
  const files: string[] = [];
  for (const file of ruleTestFiles()) {
    const text = readFileSync(file, 'utf8').replace('../ocsp-stapling.rules.yml', rulesPath);
    expect(text).toContain(rulesPath);
    const copy = path.join(dir, path.basename(file));
    files.push(copy);
    writeFileSync(copy, editTests(text, path.basename(file)));
  }
  writeFileSync(rulesPath, rulesText);
  return files;
}

function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  expect(at, `mutation anchor not found: ${from}`).toBeGreaterThanOrEqual(0);
  expect(text.indexOf(from, at + 1), `mutation anchor not unique: ${from}`).toBe(-1);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

describe.skipIf(gate.skip)('alert rules with promtool', () => {
  it('promtool check rules accepts the rule file', async () => {
    const result = await runTool('promtool', ['check', 'rules', RULES_FILE]);
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.exitCode).toBe(0);
  });

  it('promtool test rules passes every unit test file', async () => {
    const files = ruleTestFiles();
    expect(files.length).toBeGreaterThanOrEqual(3);
    const result = await runTool('promtool', ['test', 'rules', ...files]);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output.match(/SUCCESS/g)?.length).toBe(files.length);
    expect(result.output).not.toContain('FAILED');
  });

  it('fails when an expectation is wrong (the harness can fail)', async () => {
    const files = writeSuite('broken-expectation', readFileSync(RULES_FILE, 'utf8'), (text, file) =>
      file === 'staple.test.yml'
        ? replaceOnce(text, 'target: revoked.example.test:443\n              address: 192.0.2.60:443', 'target: revoked.example.test:443\n              address: 192.0.2.99:443')
        : text,
    );
    const result = await runTool('promtool', ['test', 'rules', ...files]);
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toContain('FAILED');
    expect(result.output).toContain('OcspCertificateRevoked');
  });

  // Each mutation weakens one safeguard the issue asks for; the unit tests must notice every one.
  const mutations: { name: string; from: string; to: string; caughtBy: string }[] = [
    {
      name: 'missing alert ignores whether the certificate has an OCSP URL',
      from: 'ocsp_staple_present == 0\n            and ocsp_cert_has_ocsp_url == 1\n            and ocsp_probe_success == 1\n          unless',
      to: 'ocsp_staple_present == 0\n            and ocsp_probe_success == 1\n          unless',
      caughtBy: 'OcspStapleMissing',
    },
    {
      name: 'must-staple alert ignores a failed probe',
      from: 'and ocsp_probe_success == 1\n            and ocsp_cert_must_staple == 1',
      to: 'and ocsp_cert_must_staple == 1',
      caughtBy: 'OcspStapleMissingMustStaple',
    },
    {
      name: 'missing alert does not wait out nginx lazy fetching',
      from: 'unless ocsp_cert_must_staple == 1\n        for: 15m\n',
      to: 'unless ocsp_cert_must_staple == 1\n        for: 1m\n',
      caughtBy: 'OcspStapleMissing',
    },
    {
      name: 'revoked alert waits',
      from: 'expr: ocsp_cert_revoked == 1\n        for: 0m',
      to: 'expr: ocsp_cert_revoked == 1\n        for: 1m',
      caughtBy: 'OcspCertificateRevoked',
    },
    {
      name: 'refresh-stalled judges the validity window instead of the usable window',
      from: 'ocsp_staple_age_seconds\n            and ocsp_staple_stale == 1\n            and ocsp_staple_seconds_until_end >= 0',
      to: 'ocsp_staple_age_seconds > ocsp_staple_validity_seconds / 2\n            and ocsp_staple_seconds_until_next_update >= 0',
      caughtBy: 'OcspStapleRefreshStalled',
    },
    {
      name: 'refresh-stalled keeps firing past the end',
      from: 'and ocsp_staple_stale == 1\n            and ocsp_staple_seconds_until_end >= 0',
      to: 'and ocsp_staple_stale == 1',
      caughtBy: 'OcspStapleRefreshStalled',
    },
    {
      name: 'expired alert waits for nextUpdate when the delegated signer expired first',
      from: '-ocsp_staple_seconds_until_end > 0',
      to: '-ocsp_staple_seconds_until_next_update > 0',
      caughtBy: 'OcspStapleExpired',
    },
    {
      name: 'invalid alert also fires for expired staples',
      from: 'problem!~"expired|signer_expired|no_next_update|signer_expires_before_next_update"',
      to: 'problem!~"signer_expired|no_next_update|signer_expires_before_next_update"',
      caughtBy: 'OcspStapleInvalid',
    },
    {
      name: 'invalid alert also fires for an expired delegated signer',
      from: 'problem!~"expired|signer_expired|no_next_update|signer_expires_before_next_update"',
      to: 'problem!~"expired|no_next_update|signer_expires_before_next_update"',
      caughtBy: 'OcspStapleInvalid',
    },
    {
      name: 'invalid alert also fires for the advisory signer_expires_before_next_update',
      from: 'problem!~"expired|signer_expired|no_next_update|signer_expires_before_next_update"',
      to: 'problem!~"expired|signer_expired|no_next_update"',
      caughtBy: 'OcspStapleInvalid',
    },
    {
      name: 'signer-expires-first alert ignores the one-day horizon',
      from: 'ocsp_staple_seconds_until_end < 86400\n            and ',
      to: '',
      caughtBy: 'OcspStapleSignerExpiresFirst',
    },
    {
      name: 'signer-expires-first alert does not wait for an hourly refresh',
      from: 'signer_expires_before_next_update"} == 1\n            and ocsp_staple_valid == 1\n        for: 1h',
      to: 'signer_expires_before_next_update"} == 1\n            and ocsp_staple_valid == 1\n        for: 5m',
      caughtBy: 'OcspStapleSignerExpiresFirst',
    },
    {
      name: 'staple-good-responder-revoked trusts an invalid staple',
      from: 'ocsp_staple_cert_status{status="good"} == 1\n            and ignoring(status) ocsp_staple_valid == 1\n',
      to: 'ocsp_staple_cert_status{status="good"} == 1\n',
      caughtBy: 'OcspStapleGoodResponderRevoked',
    },
    {
      name: 'responder-down alert fires on a blip',
      from: 'expr: ocsp_responder_up{target!=""} == 0\n        for: 15m',
      to: 'expr: ocsp_responder_up{target!=""} == 0\n        for: 5m',
      caughtBy: 'OcspResponderDown',
    },
    {
      name: 'responder-down alert also fires for responders checked on their own',
      from: 'expr: ocsp_responder_up{target!=""} == 0',
      to: 'expr: ocsp_responder_up == 0',
      caughtBy: 'OcspResponderDown',
    },
    {
      name: 'responder-check-down alert also fires for probed targets',
      from: 'expr: ocsp_responder_up{target=""} == 0',
      to: 'expr: ocsp_responder_up == 0',
      caughtBy: 'OcspResponderCheckDown',
    },
    {
      name: 'responder-check-down alert fires on a blip',
      from: 'expr: ocsp_responder_up{target=""} == 0\n        for: 10m',
      to: 'expr: ocsp_responder_up{target=""} == 0\n        for: 2m',
      caughtBy: 'OcspResponderCheckDown',
    },
    {
      name: 'answer-stale alert judges a quarter of the window instead of half',
      from: 'ocsp_responder_this_update_timestamp_seconds) / 2\n',
      to: 'ocsp_responder_this_update_timestamp_seconds) / 8\n',
      caughtBy: 'OcspResponderCheckAnswerStale',
    },
    {
      name: 'answer-stale alert also fires for probed targets',
      from: 'time() - ocsp_responder_this_update_timestamp_seconds{target=""}',
      to: 'time() - ocsp_responder_this_update_timestamp_seconds',
      caughtBy: 'OcspResponderCheckAnswerStale',
    },
    {
      name: 'answer-stale alert fires without a verified answer now',
      from: '\n            and ocsp_responder_up == 1\n        for: 1h',
      to: '\n        for: 1h',
      caughtBy: 'OcspResponderCheckAnswerStale',
    },
    {
      name: 'file-refresh-stalled alert does not wait for a job running at its deadline',
      from: 'and ocsp_staple_file_readable == 1\n            and ocsp_staple_seconds_until_end >= 0\n        for: 5m',
      to: 'and ocsp_staple_file_readable == 1\n            and ocsp_staple_seconds_until_end >= 0\n        for: 0m',
      caughtBy: 'OcspStapleFileRefreshStalled',
    },
    {
      name: 'file-refresh-stalled alert fires for an unreadable file',
      from: '\n            and ocsp_staple_file_readable == 1\n',
      to: '\n',
      caughtBy: 'OcspStapleFileRefreshStalled',
    },
    {
      name: 'file-refresh-stalled alert keeps firing past the end',
      from: 'and ocsp_staple_file_readable == 1\n            and ocsp_staple_seconds_until_end >= 0\n',
      to: 'and ocsp_staple_file_readable == 1\n',
      caughtBy: 'OcspStapleFileRefreshStalled',
    },
    {
      name: 'refresh-stalled alert does not yield to the file alert for a file past its deadline',
      from: '\n          unless ocsp_staple_file_rewrite_deadline_timestamp_seconds < time()\n',
      to: '\n',
      caughtBy: 'OcspStapleRefreshStalled',
    },
    {
      name: 'file-unreadable alert fires for a certificate without an OCSP URL',
      from: '\n          unless ignoring(reason) ocsp_cert_has_ocsp_url == 0\n',
      to: '\n',
      caughtBy: 'OcspStapleFileUnreadable',
    },
    {
      name: 'file-unreadable alert fires while a job swaps the file',
      from: 'unless ignoring(reason) ocsp_cert_has_ocsp_url == 0\n        for: 5m',
      to: 'unless ignoring(reason) ocsp_cert_has_ocsp_url == 0\n        for: 1m',
      caughtBy: 'OcspStapleFileUnreadable',
    },
    {
      name: 'staple-behind alert ignores the lag threshold',
      from: 'ocsp_staple_this_update_timestamp_seconds > 86400',
      to: 'ocsp_staple_this_update_timestamp_seconds > 3600',
      caughtBy: 'OcspStapleBehindResponder',
    },
    {
      name: 'probe-failing alert fires on a single failed probe',
      from: 'expr: ocsp_probe_success == 0\n        for: 5m',
      to: 'expr: ocsp_probe_success == 0\n        for: 0m',
      caughtBy: 'OcspProbeFailing',
    },
  ];

  it.each(mutations)('catches a weakened rule: $name', async ({ name, from, to, caughtBy }) => {
    const dir = `mutant-${name.replace(/\W+/g, '-')}`;
    const files = writeSuite(dir, replaceOnce(readFileSync(RULES_FILE, 'utf8'), from, to));
    const result = await runTool('promtool', ['test', 'rules', ...files]);
    expect(result.exitCode, `mutant survived:\n${result.output}`).not.toBe(0);
    expect(result.output).toContain(`alertname: ${caughtBy},`);
  });
});

describe('alert rule contract', () => {
  const runbookAnchors = markdownAnchors(readFileSync(RUNBOOK_FILE, 'utf8'));
  const assertions = loadRuleTestAssertions();
  const rawRules = readFileSync(RULES_FILE, 'utf8');

  it('has the alerts the issue asks for', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'OcspCertificateRevoked',
        'OcspExporterConfigReloadFailed',
        'OcspProbeFailing',
        'OcspStapleExpired',
        'OcspStapleInvalid',
        'OcspStapleMissing',
        'OcspStapleMissingMustStaple',
        'OcspStapleRefreshStalled',
        'OcspStapleSignerExpiresFirst',
        'OcspStapleStatusUnknown',
        'OcspStapleGoodResponderRevoked',
        'OcspStapleBehindResponder',
        'OcspResponderDown',
        'OcspIntermediateRevoked',
        'OcspStapleFileRefreshStalled',
        'OcspStapleFileUnreadable',
        'OcspResponderCheckDown',
        'OcspResponderCheckCertificateUnreadable',
        'OcspResponderCheckAnswerStale',
      ].sort(),
    );
    const severity = Object.fromEntries(rules.map((r) => [r.alert, r.labels?.severity]));
    expect(severity).toMatchObject({
      OcspStapleMissing: 'warning',
      OcspStapleMissingMustStaple: 'critical',
      OcspStapleExpired: 'critical',
      OcspStapleRefreshStalled: 'warning',
      OcspStapleSignerExpiresFirst: 'warning',
      OcspCertificateRevoked: 'critical',
      OcspStapleGoodResponderRevoked: 'critical',
      OcspStapleBehindResponder: 'warning',
      OcspResponderDown: 'warning',
      OcspIntermediateRevoked: 'critical',
      OcspStapleFileRefreshStalled: 'warning',
      OcspStapleFileUnreadable: 'warning',
      OcspResponderCheckDown: 'warning',
      OcspResponderCheckCertificateUnreadable: 'warning',
      OcspResponderCheckAnswerStale: 'warning',
    });
    expect(rules.find((r) => r.alert === 'OcspCertificateRevoked')?.for).toBe('0m');
  });

  it.each(rules.map((r) => [r.alert, r] as const))('%s has severity, summary, description, runbook and a reasoned for:', (name, rule) => {
    expect(['warning', 'critical']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary?.length).toBeGreaterThan(20);
    expect(rule.annotations?.description?.length).toBeGreaterThan(60);
    expect(rule.for).toMatch(/^\d+[smh]$/);
    const url = rule.annotations?.runbook_url ?? '';
    const match = /\/docs\/runbook\.md#([a-z0-9-]+)$/.exec(url);
    expect(match, `runbook_url ${url}`).not.toBeNull();
    expect(runbookAnchors.has(match![1]!), `docs/runbook.md has no heading for #${match![1]}`).toBe(true);
    // The comment block right above the rule explains its `for:` duration.
    const at = rawRules.indexOf(`- alert: ${name}\n`);
    const before = rawRules.slice(0, at).split('\n').slice(-12).join('\n');
    expect(before).toContain(`# for: ${rule.for}`);
  });

  it.each(rules.map((r) => r.alert))('%s has unit tests that see it fire and stay silent', (name) => {
    const mine = assertions.filter((a) => a.alertname === name);
    const firing = mine.filter((a) => a.expAlerts.length > 0);
    expect(firing.length, `${name}: no test where it fires`).toBeGreaterThan(0);
    expect(mine.some((a) => a.expAlerts.length === 0), `${name}: no test where it stays silent`).toBe(true);
    for (const assertion of firing) {
      for (const alert of assertion.expAlerts) {
        expect(alert.exp_labels?.severity).toBeDefined();
        expect(Object.keys(alert.exp_annotations ?? {}).sort()).toEqual(['description', 'runbook_url', 'summary']);
      }
    }
  });

  // Staple files (labels file, certificate) and responder checks (certificate, no target) share the
  // families: the alerts on a staple's content must fire for files and say which file, not an empty
  // target; the alerts on a handshake must need one.
  const FILE_ALERTS = [
    'OcspStapleInvalid',
    'OcspStapleExpired',
    'OcspStapleRefreshStalled',
    'OcspStapleSignerExpiresFirst',
    'OcspCertificateRevoked',
    'OcspStapleStatusUnknown',
    'OcspStapleFileRefreshStalled',
    'OcspStapleFileUnreadable',
  ];
  const CHECK_ALERTS = ['OcspResponderCheckDown', 'OcspResponderCheckCertificateUnreadable', 'OcspResponderCheckAnswerStale', 'OcspCertificateRevoked'];

  it.each(FILE_ALERTS)('%s fires on a staple file in a unit test, naming the file and its certificate', (name) => {
    const onFiles = assertions.filter((a) => a.alertname === name).flatMap((a) => a.expAlerts).filter((e) => e.exp_labels?.file);
    expect(onFiles.length, `${name}: no test where it fires for a file`).toBeGreaterThan(0);
    for (const alert of onFiles) {
      expect(alert.exp_labels?.target).toBeUndefined();
      expect(alert.exp_annotations?.summary).toContain(alert.exp_labels!.file);
      expect(alert.exp_annotations?.description).toContain(alert.exp_labels!.file);
      expect(alert.exp_annotations?.description).toContain(alert.exp_labels!.certificate);
      expect(alert.exp_annotations?.description).not.toMatch(/\(\)|target \)|\btarget\b/);
    }
  });

  it.each(CHECK_ALERTS)('%s fires on a responder check in a unit test, naming the certificate', (name) => {
    const onChecks = assertions
      .filter((a) => a.alertname === name)
      .flatMap((a) => a.expAlerts)
      .filter((e) => e.exp_labels?.certificate && !e.exp_labels.file && !e.exp_labels.target);
    expect(onChecks.length, `${name}: no test where it fires for a responder check`).toBeGreaterThan(0);
    for (const alert of onChecks) {
      expect(alert.exp_annotations?.summary).toContain(alert.exp_labels!.certificate);
      expect(alert.exp_annotations?.description).toContain(alert.exp_labels!.certificate);
      expect(alert.exp_annotations?.description).not.toMatch(/\(\)|\btarget\b/);
    }
  });

  it('alerts about a server sending no staple need a handshake, which a file never has', () => {
    for (const name of ['OcspStapleMissing', 'OcspStapleMissingMustStaple']) {
      expect(rules.find((r) => r.alert === name)?.expr).toContain('and ocsp_probe_success == 1');
      const silentForFiles = assertions.filter((a) => a.alertname === name && a.expAlerts.length === 0 && a.file.endsWith('files.test.yml'));
      expect(silentForFiles.length, `${name}: files.test.yml shows it silent for a file without a staple`).toBeGreaterThan(0);
    }
  });

  it('the README lists every alert', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const section = /<!-- section:grafana -->([\s\S]*?)<!-- \/section:grafana -->/.exec(readme)?.[1] ?? '';
    for (const rule of rules) expect(section, rule.alert).toContain(`| ${rule.alert} |`);
  });
});
