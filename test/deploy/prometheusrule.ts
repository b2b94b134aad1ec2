/**
 * deploy/kubernetes/prometheusrule.yaml is generated from grafana/alerts/ocsp-stapling.rules.yml
 * (groups copied with their comments), so the operator-managed rules never drift from the rule
 * file that promtool tests. test/deploy/kubernetes.test.ts fails when they differ; regenerate with
 * `node --import tsx test/deploy/prometheusrule.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Document, parseDocument } from 'yaml';

export const RULES_FILE = new URL('../../grafana/alerts/ocsp-stapling.rules.yml', import.meta.url);
export const PROMETHEUS_RULE_FILE = new URL('../../deploy/kubernetes/prometheusrule.yaml', import.meta.url);

export function renderPrometheusRule(rulesText: string): string {
  const rules = parseDocument(rulesText);
  if (rules.errors.length > 0) throw new Error(`rule file is not valid YAML: ${rules.errors[0]!.message}`);
  const doc = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'ocsp-stapling-exporter',
      labels: { 'app.kubernetes.io/name': 'ocsp-stapling-exporter', 'app.kubernetes.io/component': 'exporter' },
    },
    spec: {},
  });
  doc.setIn(['spec', 'groups'], rules.get('groups', true));
  doc.commentBefore =
    ' GENERATED from grafana/alerts/ocsp-stapling.rules.yml by test/deploy/prometheusrule.ts: edit the\n' +
    ' rule file and run `node --import tsx test/deploy/prometheusrule.ts`, never this file.\n' +
    " Your Prometheus' ruleSelector must match these labels (kube-prometheus-stack: add `release: <name>`).";
  return doc.toString({ lineWidth: 0 });
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  writeFileSync(PROMETHEUS_RULE_FILE, renderPrometheusRule(readFileSync(RULES_FILE, 'utf8')));
  process.stdout.write(`wrote ${fileURLToPath(PROMETHEUS_RULE_FILE)}\n`);
}
