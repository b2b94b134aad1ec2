/**
 * Checks dashboard JSON against Grafana's own dashboard schema as shipped on npm: `@grafana/schema`,
 * the TypeScript types Grafana generates from its CUE schema (the JSON-schema rendering of the same
 * schema lives only in a GitHub repository, not in any package). It is pinned to 11.5.3, the last
 * release whose dashboard model is schemaVersion 39, the version the shipped dashboards declare
 * (newer Grafana migrates them forward on load). Each dashboard, and each panel's `options` and
 * `fieldConfig.defaults.custom` against its panel plugin's `Options`/`FieldConfig`, is written into a
 * generated TypeScript file as an object literal assigned to the schema type, and the real TypeScript
 * compiler judges it: wrong types, unknown enum values and misspelled keys (excess property checks)
 * become problems naming the dashboard and panel.
 *
 * `Loose<T>` adapts the generated types to JSON: every string enum becomes the union of its values
 * (JSON cannot hold `ThresholdsMode.Absolute`, only "absolute"), and every key is optional, because
 * the generator marks fields that have a schema default as required (they are always present once
 * Grafana applies its defaults) without saying which ones those are. Which keys the dashboards must
 * carry is checked in dashboards.test.ts.
 */
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from './tools.js';

/** Panel plugin id → the @grafana/schema module holding its `Options` (and `FieldConfig` when it has custom field options). */
export const PANEL_SCHEMAS: Readonly<Record<string, { module: string; fieldConfig: boolean }>> = {
  stat: { module: '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen.js', fieldConfig: false },
  table: { module: '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen.js', fieldConfig: true },
  timeseries: { module: '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen.js', fieldConfig: true },
  'state-timeline': {
    module: '@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen.js',
    fieldConfig: true,
  },
};

/**
 * Keys Grafana itself writes that its schema does not describe, removed before the check (and
 * reported by `schemaExtras`, so the list stays explicit):
 * - `__requires` on the dashboard: the "export for sharing externally" header naming the minimum
 *   Grafana and plugin versions; import reads it, the dashboard model does not keep it.
 * - `definition` on a query variable: the human-readable query the Prometheus variable editor saves
 *   next to `query`; typed in @grafana/data's QueryVariableModel, absent from the CUE schema.
 */
export const SCHEMA_EXTRAS = ['dashboard.__requires', 'templating.list[].definition'] as const;

export interface SchemaProblem {
  /** e.g. `ocsp-stapling-overview.json: panel "Targets" options`. */
  where: string;
  message: string;
}

interface JsonPanel {
  type?: unknown;
  title?: unknown;
  options?: unknown;
  fieldConfig?: { defaults?: { custom?: unknown } };
  panels?: JsonPanel[];
}

const LOOSE = `
type IsAny<T> = 0 extends 1 & T ? true : false;
/** T with each string enum replaced by the union of its values (what JSON can hold); otherwise unchanged. */
type Loose<T> = IsAny<T> extends true
  ? T
  : T extends string
    ? \`\${T}\`
    : T extends number | boolean | null | undefined
      ? T
      : T extends readonly (infer U)[]
        ? Loose<U>[]
        : T extends object
          ? { [K in keyof T]?: Loose<T[K]> }
          : T;
`;

/**
 * Type-checks `dashboards` (file name → parsed JSON) against @grafana/schema; returns every problem
 * found (empty when all conform). Panels of a type without a known schema are problems too.
 */
export function checkDashboardsAgainstSchema(dashboards: ReadonlyMap<string, unknown>): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const lines: string[] = ["import type { Dashboard } from '@grafana/schema';"];
  const imported = new Set<string>();
  const where: string[] = [];
  const typeName = (pluginId: string): string => `P_${pluginId.replace(/\W/g, '_')}`;
  for (const [pluginId, schema] of Object.entries(PANEL_SCHEMAS)) {
    lines.push(`import type * as ${typeName(pluginId)} from '${schema.module}';`);
    imported.add(pluginId);
  }
  lines.push(...LOOSE.split('\n'));

  // Each checked value on its own line, so a diagnostic's line says what it is about.
  const declare = (label: string, type: string, value: unknown): void => {
    where[lines.length] = label;
    lines.push(`export const v${lines.length}: ${type} = ${JSON.stringify(value)};`);
  };
  for (const [file, original] of dashboards) {
    const dashboard = withoutExtras(original);
    declare(`${file}: dashboard`, 'Loose<Dashboard>', dashboard);
    const panels = ((dashboard as { panels?: JsonPanel[] }).panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
    for (const panel of panels) {
      const pluginId = String(panel.type);
      if (pluginId === 'row') continue; // rows have no options; the Dashboard type checks them
      const schema = PANEL_SCHEMAS[pluginId];
      const label = `${file}: panel "${String(panel.title)}" (${pluginId})`;
      if (!schema) {
        problems.push({ where: label, message: `no schema known for panel type "${pluginId}": add it to PANEL_SCHEMAS` });
        continue;
      }
      declare(`${label} options`, `Loose<${typeName(pluginId)}.Options>`, panel.options ?? {});
      const custom = panel.fieldConfig?.defaults?.custom;
      if (custom !== undefined) {
        if (!schema.fieldConfig) problems.push({ where: `${label} fieldConfig.defaults.custom`, message: `panel type "${pluginId}" has no custom field options` });
        else declare(`${label} fieldConfig.defaults.custom`, `Loose<${typeName(pluginId)}.FieldConfig>`, custom);
      }
    }
  }

  // A virtual file inside the repository, so '@grafana/schema' resolves from its node_modules.
  const fileName = path.join(REPO_ROOT, 'test/grafana/__dashboard_schema_check__.ts');
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) =>
    name === fileName ? ts.createSourceFile(name, text, languageVersion, true) : getSourceFile(name, languageVersion, onError, shouldCreate);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === fileName ? text : readFile(name));
  const program = ts.createProgram([fileName], options, host);
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (diagnostic.file?.fileName !== fileName || diagnostic.start === undefined) {
      problems.push({ where: diagnostic.file?.fileName ?? '(compiler)', message });
      continue;
    }
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const source = lines[line] ?? '';
    problems.push({ where: where[line] ?? `generated line ${line + 1}`, message: `${message}\n  at: ${source.slice(Math.max(0, character - 60), character + 80)}` });
  }
  return problems;
}

/** Which of SCHEMA_EXTRAS a dashboard uses. */
export function schemaExtras(dashboard: unknown): string[] {
  const d = dashboard as { __requires?: unknown; templating?: { list?: Record<string, unknown>[] } };
  const found: string[] = [];
  if (d.__requires !== undefined) found.push('dashboard.__requires');
  if (d.templating?.list?.some((v) => 'definition' in v)) found.push('templating.list[].definition');
  return found;
}

function withoutExtras(dashboard: unknown): unknown {
  const { __requires: _requires, ...rest } = structuredClone(dashboard) as { __requires?: unknown; templating?: { list?: Record<string, unknown>[] } };
  for (const variable of rest.templating?.list ?? []) {
    if (typeof variable.definition === 'string') delete variable.definition;
  }
  return rest;
}
