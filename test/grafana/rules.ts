/**
 * Reads the alert rule file and the promtool rule tests as data, so the tests can check the rules'
 * contract (labels, annotations, runbook anchors, test coverage) and make mutated copies of them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { RULES_FILE, RULE_TESTS_DIR } from './tools.js';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}

export function loadAlertRules(file: string = RULES_FILE): AlertRule[] {
  const parsed = parse(readFileSync(file, 'utf8')) as RuleFile;
  return parsed.groups.flatMap((group) => group.rules);
}

export interface RuleTestAssertion {
  file: string;
  alertname: string;
  evalTime: string;
  expAlerts: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}

interface RuleTestFile {
  rule_files: string[];
  tests: { alert_rule_test?: { eval_time: string; alertname: string; exp_alerts?: RuleTestAssertion['expAlerts'] | null }[] }[];
}

export function ruleTestFiles(): string[] {
  return readdirSync(RULE_TESTS_DIR)
    .filter((name) => name.endsWith('.yml') || name.endsWith('.yaml'))
    .sort()
    .map((name) => path.join(RULE_TESTS_DIR, name));
}

/** Every alert_rule_test entry of every promtool test file. */
export function loadRuleTestAssertions(): RuleTestAssertion[] {
  return ruleTestFiles().flatMap((file) => {
    const parsed = parse(readFileSync(file, 'utf8')) as RuleTestFile;
    return parsed.tests.flatMap((test) =>
      (test.alert_rule_test ?? []).map((entry) => ({
        file,
        alertname: entry.alertname,
        evalTime: entry.eval_time,
        expAlerts: entry.exp_alerts ?? [],
      })),
    );
  });
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Anchors of all headings in a Markdown text (fenced code skipped). */
export function markdownAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    if (inFence) continue;
    const match = /^#{1,6}\s+(.*)$/.exec(line);
    if (match) anchors.add(githubAnchor(match[1]!));
  }
  return anchors;
}

/**
 * The rule file's text with every `for:` duration replaced by `duration` and nothing else changed:
 * end-to-end runs cannot wait an hour for OcspStapleRefreshStalled, and the `for:` values themselves
 * are checked by the promtool unit tests (grafana/alerts/tests). Throws unless the copy parses to the
 * same rules (expressions, labels, annotations) apart from `for`.
 */
export function shortenForDurations(ruleText: string, duration: string): string {
  const shortened = ruleText.replace(/^(\s+for:\s*)\S+\s*$/gm, `$1${duration}`);
  const strip = (text: string): Omit<AlertRule, 'for'>[] =>
    (parse(text) as RuleFile).groups.flatMap((group) => group.rules).map(({ for: _for, ...rest }) => rest);
  const before = strip(ruleText);
  const after = strip(shortened);
  if (JSON.stringify(before) !== JSON.stringify(after)) throw new Error('shortening `for:` changed more than the durations');
  const fors = (parse(shortened) as RuleFile).groups.flatMap((group) => group.rules).map((rule) => rule.for);
  if (fors.some((value) => value !== undefined && value !== duration)) throw new Error(`a for: duration was not shortened: ${fors.join(', ')}`);
  return shortened;
}
