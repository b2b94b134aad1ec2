/**
 * The shipped dashboards conform to Grafana's dashboard schema (@grafana/schema's types, generated
 * from Grafana's CUE schema, judged by the TypeScript compiler): the dashboard model itself and each
 * panel's plugin options and custom field options. Deliberately broken copies must be rejected, so
 * the check is known to bite.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA_EXTRAS, checkDashboardsAgainstSchema, schemaExtras, type SchemaProblem } from './dashboard-schema.js';
import { loadDashboards } from './dashboards.js';

const dashboards = loadDashboards();
const format = (problems: SchemaProblem[]): string => problems.map((p) => `${p.where}: ${p.message}`).join('\n');

type Json = Record<string, unknown>;

/** A deep copy of the overview with `mutate` applied. */
function brokenOverview(mutate: (dashboard: Json & { panels: (Json & { options: Json; fieldConfig: { defaults: Json } })[] }) => void): Map<string, unknown> {
  const overview = dashboards.find((d) => d.dashboard.uid === 'ocsp-stapling-overview')!;
  const copy = JSON.parse(overview.text) as Parameters<typeof mutate>[0];
  mutate(copy);
  return new Map([['broken.json', copy]]);
}

function firstOfType(dashboard: Parameters<Parameters<typeof brokenOverview>[0]>[0], type: string): Json & { options: Json; fieldConfig: { defaults: Json & { custom?: Json } } } {
  const panel = dashboard.panels.find((p) => p.type === type);
  if (!panel) throw new Error(`no ${type} panel in the overview`);
  return panel as ReturnType<typeof firstOfType>;
}

describe('dashboards against Grafana\'s dashboard schema (@grafana/schema)', () => {
  it('every dashboard, panel option and custom field option conforms', () => {
    const problems = checkDashboardsAgainstSchema(new Map(dashboards.map((d) => [path.basename(d.file), d.dashboard])));
    expect(problems, format(problems)).toEqual([]);
  }, 60_000);

  it('uses no keys outside the schema but the listed ones Grafana itself writes', () => {
    for (const { dashboard } of dashboards) for (const extra of schemaExtras(dashboard)) expect(SCHEMA_EXTRAS).toContain(extra);
  });

  it.each([
    ['a misspelled dashboard key', (d: Json) => (d.refesh = '1m'), /refesh/],
    ['a wrong type (schemaVersion as a string)', (d: Json) => (d.schemaVersion = '39'), /schemaVersion|not assignable/],
    [
      'an unknown thresholds mode',
      (d: Parameters<Parameters<typeof brokenOverview>[0]>[0]) => ((firstOfType(d, 'stat').fieldConfig.defaults.thresholds as Json).mode = 'absolut'),
      /absolut/,
    ],
    [
      'stat reduceOptions.calcs as a string instead of a list',
      (d: Parameters<Parameters<typeof brokenOverview>[0]>[0]) => ((firstOfType(d, 'stat').options.reduceOptions as Json).calcs = 'lastNotNull'),
      /calcs|not assignable/,
    ],
    [
      'a misspelled timeseries custom field option',
      (d: Parameters<Parameters<typeof brokenOverview>[0]>[0]) => ((firstOfType(d, 'timeseries').fieldConfig.defaults.custom ??= {}).lineWidht = 2),
      /lineWidht/,
    ],
    [
      'a misspelled template variable key next to the tolerated `definition`',
      (d: Json) => (((d.templating as { list: Json[] }).list[0]!).refesh = 1),
      /refesh/,
    ],
  ] as const)('rejects %s', (_what, mutate, message) => {
    const problems = checkDashboardsAgainstSchema(brokenOverview(mutate as (d: Json) => void));
    expect(problems.length, 'the broken copy must not pass').toBeGreaterThan(0);
    expect(format(problems)).toMatch(message);
    expect(problems.every((p) => p.where.startsWith('broken.json'))).toBe(true);
  }, 60_000);

  it('rejects a panel type it has no schema for', () => {
    const problems = checkDashboardsAgainstSchema(brokenOverview((d) => (d.panels[0]!.type = 'graph')));
    expect(format(problems)).toMatch(/no schema known for panel type "graph"/);
  }, 60_000);
});
