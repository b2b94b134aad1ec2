/**
 * The `labels:` mapping of a config entry (a target, a responder check): extra labels added to each
 * of its series. Names must be Prometheus label names, not `__`-prefixed (reserved for Prometheus)
 * and not one the exporter sets itself (RESERVED_LABEL_NAMES); values must be strings, so `"8080"`
 * and `"true"` are written quoted rather than changing type silently.
 */
import { isScalar, type Pair } from 'yaml';
import type { Walker } from './walker.js';

/**
 * Label names the exporter sets on its own per-address series (`target`, `address`, `module` and
 * each family's own labels). A target's configured extra label of one of these names would clash,
 * so the loader refuses it and the series writer drops it. Defined here, below both the loader and
 * metrics/, so the config layer does not reach up into metrics; src/metrics/names.ts checks at load
 * that every per-address family's labels are listed, so the two cannot drift apart.
 */
export const RESERVED_LABEL_NAMES: readonly string[] = [
  'target',
  'address',
  'module',
  'reason',
  'problem',
  'status',
  'version',
  'cipher',
  'subject',
  'issuer',
  'serial',
  'fingerprint_sha256',
  'ocsp_url',
  'depth',
  // Identity labels of the staple_files series (src/config/staple-files.ts).
  'file',
  'certificate',
];

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The labels of the `labels:` pair (its key is where a problem with a missing value is reported),
 * problems reported on `w` at `path.NAME`; undefined when any was refused.
 */
export function parseExtraLabels(w: Walker, pair: Pair<unknown, unknown>, path: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  const pairs = w.mapping(pair.value, path, null, pair.key);
  let ok = pairs !== null;
  for (const [name, label] of pairs ?? []) {
    const labelPath = `${path}.${name}`;
    if (!LABEL_NAME.test(name)) {
      w.report(label.key, labelPath, 'invalid label name (use letters, digits and "_", not starting with a digit)');
      ok = false;
    } else if (name.startsWith('__')) {
      w.report(label.key, labelPath, 'label names starting with "__" are reserved for Prometheus');
      ok = false;
    } else if (RESERVED_LABEL_NAMES.includes(name)) {
      w.report(label.key, labelPath, `label "${name}" is set by the exporter itself (reserved: ${RESERVED_LABEL_NAMES.join(', ')})`);
      ok = false;
    }
    const v = w.deref(label.value);
    if (isScalar(v) && (typeof v.value === 'number' || typeof v.value === 'boolean')) {
      w.report(v, labelPath, `label values must be strings (quote it: "${String(v.source ?? v.value)}")`);
      ok = false;
      continue;
    }
    const value = w.string(v, labelPath, label.key);
    if (value === undefined) ok = false;
    else labels[name] = value;
  }
  return ok ? labels : undefined;
}
