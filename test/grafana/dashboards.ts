/**
 * The Grafana dashboards as data: loading, walking every panel and query, and substituting Grafana's
 * template variables the way Grafana does before a query reaches Prometheus, so the tests can run each
 * panel's exact PromQL against a real Prometheus.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DASHBOARDS_DIR } from './tools.js';

export interface DashboardTarget {
  refId: string;
  expr: string;
  datasource?: unknown;
  instant?: boolean;
  range?: boolean;
  format?: string;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: unknown;
  gridPos: { h: number; w: number; x: number; y: number };
  fieldConfig?: {
    defaults?: { unit?: string; thresholds?: { steps: { color: string; value: number | null }[] } };
    overrides?: { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] }[];
  };
  targets?: DashboardTarget[];
  panels?: Panel[];
}

export interface TemplateVariable {
  name: string;
  type: string;
  query?: unknown;
  datasource?: unknown;
  multi?: boolean;
  includeAll?: boolean;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: TemplateVariable[] };
}

export interface LoadedDashboard {
  file: string;
  text: string;
  dashboard: Dashboard;
}

export function loadDashboards(): LoadedDashboard[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const file = path.join(DASHBOARDS_DIR, name);
      const text = readFileSync(file, 'utf8');
      return { file, text, dashboard: JSON.parse(text) as Dashboard };
    });
}

/** Every panel, rows' nested panels included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** Grafana's built-in interval variables, as it would fill them for a 1 h range at 1 s resolution. */
const BUILTINS: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
  __range_s: '3600',
  __interval_ms: '15000',
};

/**
 * Replaces `$name`, `${name}` and `[[name]]` like Grafana does for Prometheus queries. Throws on a
 * variable it was not given, so a typo in a dashboard fails the test rather than reaching Prometheus.
 */
export function interpolate(expr: string, variables: Record<string, string>): string {
  const values = { ...BUILTINS, ...variables };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const value = values[name];
    if (value === undefined) throw new Error(`unknown variable ${whole} in: ${expr}`);
    return value;
  });
}
