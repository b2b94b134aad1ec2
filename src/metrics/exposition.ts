/**
 * The pieces of Prometheus' text exposition format (version 0.0.4) the exporter writes itself:
 * escaped label values and help texts, sample values formatted the way Prometheus' Go client and
 * parser spell them, and the `# HELP` / `# TYPE` lines that open a family. No I/O and no state;
 * render.ts assembles these into the `/metrics` and `/probe` bodies.
 */
import type { MetricFamily } from './names.js';

const LABEL_VALUE_SPECIAL = /[\\"\n]/;
const HELP_SPECIAL = /[\\\n]/;

/** A label value between double quotes: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  if (!LABEL_VALUE_SPECIAL.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A `# HELP` text: backslash and line feed are escaped (double quotes are not, per the format). */
export function escapeHelp(text: string): string {
  if (!HELP_SPECIAL.test(text)) return text;
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value: `+Inf`, `-Inf` and `NaN` as Prometheus spells them, else JavaScript's shortest round-trip form. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** `name="value"` pairs joined by commas, values escaped; empty for no labels. */
export function formatLabels(labels: ReadonlyArray<readonly [name: string, value: string]>): string {
  let text = '';
  for (const [name, value] of labels) text += `${text === '' ? '' : ','}${name}="${escapeLabelValue(value)}"`;
  return text;
}

/** The `# HELP` and `# TYPE` lines that open `family`, each ending in a line feed. */
export function familyHeader(family: MetricFamily, type: 'gauge' = 'gauge'): string {
  return `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${type}\n`;
}
