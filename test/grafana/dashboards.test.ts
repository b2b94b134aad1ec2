/**
 * Static checks of the Grafana dashboards and provisioning files: provisionable (a `datasource`
 * variable, never the `${DS_PROMETHEUS}` import placeholder), every panel with the variable as its
 * data source, a unit and a description, thresholds that use the alert rules' numbers, and panel
 * descriptions that name only alerts that exist. The queries themselves run against a real
 * Prometheus in live-prometheus.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allPanels, interpolate, loadDashboards, type Panel } from './dashboards.js';
import { loadAlertRules } from './rules.js';
import { REPO_ROOT } from './tools.js';

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const dashboards = loadDashboards();
const alertNames = new Set(loadAlertRules().map((r) => r.alert));

function thresholdSteps(panel: Panel): [string, number | null][] {
  return (panel.fieldConfig?.defaults?.thresholds?.steps ?? []).map((s) => [s.color, s.value]);
}

describe('dashboards', () => {
  it('ships the fleet overview and the target drill-down', () => {
    expect(dashboards.map((d) => d.dashboard.uid).sort()).toEqual(['ocsp-stapling-overview', 'ocsp-stapling-target']);
  });

  describe.each(dashboards.map((d) => [path.basename(d.file), d] as const))('%s', (_name, { text, dashboard }) => {
    const panels = allPanels(dashboard);

    it('is provisionable: datasource/job/target variables, no DS_PROMETHEUS placeholder', () => {
      expect(text).not.toContain('DS_PROMETHEUS');
      expect(text).not.toContain('__inputs');
      const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
      expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
      for (const name of ['job', 'target']) {
        expect(vars[name], name).toMatchObject({ type: 'query', datasource: DATASOURCE });
      }
      // Variable queries use only variables defined before them.
      const seen: Record<string, string> = {};
      for (const variable of dashboard.templating.list) {
        const query = (variable.query as { query?: string } | undefined)?.query;
        if (query) expect(() => interpolate(query, seen)).not.toThrow();
        seen[variable.name] = '.*';
      }
    });

    it('has unique panel ids and a 24-column grid without overlaps', () => {
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const [i, a] of panels.entries()) {
        expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
        for (const b of panels.slice(i + 1)) {
          const overlap =
            a.gridPos.x < b.gridPos.x + b.gridPos.w &&
            b.gridPos.x < a.gridPos.x + a.gridPos.w &&
            a.gridPos.y < b.gridPos.y + b.gridPos.h &&
            b.gridPos.y < a.gridPos.y + a.gridPos.h;
          expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
        }
      }
    });

    it.each(panels.filter((p) => p.type !== 'row').map((p) => [p.title, p] as const))('panel "%s" has the datasource variable, a unit, a description and queries', (_title, panel) => {
      expect(panel.datasource).toEqual(DATASOURCE);
      expect(panel.fieldConfig?.defaults?.unit, 'fieldConfig.defaults.unit').toMatch(/^\w+$/);
      expect(panel.description?.length ?? 0).toBeGreaterThan(30);
      expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource).toEqual(DATASOURCE);
        expect(target.expr.trim()).not.toBe('');
      }
      for (const mention of panel.description?.match(/\bOcsp[A-Z]\w+/g) ?? []) {
        expect(alertNames.has(mention), `${panel.title} mentions unknown alert ${mention}`).toBe(true);
      }
    });

    it('uses the alert thresholds: time until unusable red below 0, age/usable window orange at 0.5 and red at 1', () => {
      const countdown = panels.filter((p) => p.title === 'Time until unusable');
      const ratio = panels.filter((p) => /Age \/ usable window|age \/ usable window/.test(p.title));
      expect(countdown.length).toBeGreaterThan(0);
      expect(ratio.length).toBeGreaterThan(0);
      for (const p of countdown) expect(thresholdSteps(p)).toEqual([['red', null], ['green', 0]]);
      for (const p of ratio) expect(thresholdSteps(p)).toEqual([['green', null], ['orange', 0.5], ['red', 1]]);
      // They count down to and divide by the staple's end (the earlier of nextUpdate and the delegated
      // signer's notAfter), as the rules judge it, not nextUpdate alone.
      for (const p of countdown) for (const t of p.targets ?? []) expect(t.expr).toMatch(/^ocsp_staple_seconds_until_end\{/);
      for (const p of ratio) {
        for (const t of p.targets ?? []) expect(t.expr).toMatch(/ocsp_staple_age_seconds\{[^}]*\} \/ \(ocsp_staple_end_timestamp_seconds\{[^}]*\} - ocsp_staple_this_update_timestamp_seconds\{[^}]*\}\)/);
      }
      // The same numbers in the rules: stale past half the usable window (ocsp_staple_stale), expired
      // once the countdown to the end is negative.
      const rules = readFileSync(path.join(REPO_ROOT, 'grafana/alerts/ocsp-stapling.rules.yml'), 'utf8');
      expect(rules).toContain('and ocsp_staple_stale == 1\n            and ocsp_staple_seconds_until_end >= 0');
      expect(rules).toContain('-ocsp_staple_seconds_until_end > 0');
    });
  });

  it('the overview has a row for staple files and one for responder checks, each with only its own series', () => {
    const overview = dashboards.find((d) => d.dashboard.uid === 'ocsp-stapling-overview')!.dashboard;
    const rows = overview.panels.filter((p) => p.type === 'row');
    expect(rows.map((r) => r.title)).toEqual(['Staple files', 'Responder checks']);
    // A row owns the panels below it up to the next row; the probe panels come before the first row.
    const [files, checks] = rows as [Panel, Panel];
    const below = (row: Panel, next?: Panel) =>
      overview.panels.filter((p) => p.type !== 'row' && p.gridPos.y > row.gridPos.y && (next === undefined || p.gridPos.y < next.gridPos.y));
    const queries = (ps: Panel[]) => ps.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const fileQueries = queries(below(files, checks));
    const checkQueries = queries(below(checks));
    expect(fileQueries.length).toBeGreaterThan(5);
    expect(checkQueries.length).toBeGreaterThan(5);
    // Every selector in a row picks that source's series: files by `file`, checks by the absence of
    // target and file (or families only checks have); nothing there filters on the probe variables.
    for (const expr of fileQueries) {
      expect(expr).not.toContain('$target');
      for (const selector of expr.match(/ocsp_\w+\{[^}]*\}/g) ?? []) expect(selector, expr).toMatch(/^ocsp_staple_file_\w+\{|file!=""/);
    }
    for (const expr of checkQueries) {
      expect(expr).not.toContain('$target');
      for (const selector of expr.match(/ocsp_\w+\{[^}]*\}/g) ?? []) expect(selector, expr).toMatch(/^ocsp_responder_check_\w+\{|target="",file=""/);
    }
    // Probe panels (above the rows) never see file or check series: "All" targets is `.+`, which an
    // absent target label does not match.
    const target = overview.templating.list.find((v) => v.name === 'target') as { allValue?: string };
    expect(target.allValue).toBe('.+');
    for (const panel of overview.panels.filter((p) => p.gridPos.y < files.gridPos.y && p.type !== 'row')) {
      for (const t of panel.targets ?? []) {
        for (const selector of t.expr.match(/ocsp_(?!exporter_)\w+\{[^}]*\}/g) ?? []) expect(selector, `${panel.title}: ${t.expr}`).toContain('target=~"$target"');
      }
    }
  });

  it('the overview links to the drill-down by uid', () => {
    const overview = dashboards.find((d) => d.dashboard.uid === 'ocsp-stapling-overview')!;
    expect(overview.text).toContain('/d/ocsp-stapling-target/');
    const target = dashboards.find((d) => d.dashboard.uid === 'ocsp-stapling-target')!;
    expect(target.text).toContain('/d/ocsp-stapling-overview/');
  });
});

describe('provisioning files', () => {
  it('provision the dashboards from files', () => {
    const text = readFileSync(path.join(REPO_ROOT, 'grafana/provisioning/dashboards/ocsp-stapling.yaml'), 'utf8');
    const parsed = parse(text) as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
    expect(parsed.apiVersion).toBe(1);
    expect(parsed.providers).toHaveLength(1);
    expect(parsed.providers[0]).toMatchObject({ type: 'file', options: { path: expect.stringMatching(/^\//) } });
  });

  it('provision a Prometheus data source', () => {
    const text = readFileSync(path.join(REPO_ROOT, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8');
    const parsed = parse(text) as { apiVersion: number; datasources: { type: string; url: string; access: string }[] };
    expect(parsed.apiVersion).toBe(1);
    expect(parsed.datasources[0]).toMatchObject({ type: 'prometheus', access: 'proxy', url: expect.stringMatching(/^https?:\/\//) });
  });
});
