/**
 * One staple seen through two sources of the same /metrics scrape: a staple file on disk (series
 * labelled `file`, `certificate`) and a probe of the server serving it (`target`, `address`,
 * `module`). `stapleFacts` strips the identity labels and keeps every `ocsp_staple_*` and
 * `ocsp_cert_*` series as `name{other labels} → value`; `compareStapleFacts` lists what differs,
 * with a tolerance for the families that count seconds from "now" (each source reads its own
 * clock, a moment apart). `ocsp_staple_file_*` families belong to the file alone and are left out.
 */
import type { Exposition } from '../../metrics/exposition.js';
import { parseOpensslDate } from '../lab/ocsp.js';

/** Families both sources emit when they judge a staple. */
const SHARED_PREFIXES = ['ocsp_staple_', 'ocsp_cert_'] as const;
/** Families of the file source only. */
const FILE_ONLY_PREFIX = 'ocsp_staple_file_';
/** Labels that say whose series it is, not what it says. */
const IDENTITY_LABELS = new Set(['file', 'certificate', 'target', 'address', 'module', 'job', 'instance']);
/** Families measured against the reader's clock: equal up to the moment between the two reads. */
const CLOCK_RELATIVE = new Set(['ocsp_staple_age_seconds', 'ocsp_staple_seconds_until_next_update', 'ocsp_staple_seconds_until_end']);

/** `name{label="value",...}` without identity labels → value. */
export type StapleFacts = Map<string, number>;

/**
 * The shared-family series whose labels include all of `selector`, keyed without identity labels
 * (and without `extraLabels`, a target's configured labels). Throws when two series collapse onto
 * one key: the selector matched more than one subject.
 */
export function stapleFacts(exposition: Exposition, selector: Record<string, string>, extraLabels: readonly string[] = []): StapleFacts {
  const facts: StapleFacts = new Map();
  for (const sample of exposition.samples) {
    if (!SHARED_PREFIXES.some((prefix) => sample.name.startsWith(prefix)) || sample.name.startsWith(FILE_ONLY_PREFIX)) continue;
    if (!Object.entries(selector).every(([k, v]) => sample.labels[k] === v)) continue;
    const rest = Object.entries(sample.labels)
      .filter(([k]) => !IDENTITY_LABELS.has(k) && !extraLabels.includes(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    const key = rest.length > 0 ? `${sample.name}{${rest.join(',')}}` : sample.name;
    if (facts.has(key)) throw new Error(`several series for ${key} under ${JSON.stringify(selector)}: the selector matches more than one subject`);
    facts.set(key, sample.value);
  }
  return facts;
}

export interface FactsDifference {
  /** Keys (see StapleFacts) on the left only. */
  onlyLeft: string[];
  /** Keys on the right only. */
  onlyRight: string[];
  /** `key: left ≠ right` for every key on both sides whose values differ. */
  differing: string[];
}

/** The family name of a StapleFacts key. */
export function familyOf(key: string): string {
  const brace = key.indexOf('{');
  return brace < 0 ? key : key.slice(0, brace);
}

/**
 * What differs between two fact sets. Values must be equal, except the clock-relative families,
 * which may differ by up to `clockToleranceSeconds`. `ignoreFamilies` are left out on both sides
 * (families only one source can know, e.g. `ocsp_staple_present` of a handshake).
 */
export function compareStapleFacts(
  left: StapleFacts,
  right: StapleFacts,
  options: { clockToleranceSeconds?: number; ignoreFamilies?: readonly string[] } = {},
): FactsDifference {
  const tolerance = options.clockToleranceSeconds ?? 3;
  const ignored = new Set(options.ignoreFamilies ?? []);
  const keep = (key: string): boolean => !ignored.has(familyOf(key));
  const onlyLeft = [...left.keys()].filter((k) => keep(k) && !right.has(k)).sort();
  const onlyRight = [...right.keys()].filter((k) => keep(k) && !left.has(k)).sort();
  const differing: string[] = [];
  for (const [key, value] of left) {
    if (!keep(key) || !right.has(key)) continue;
    const other = right.get(key)!;
    const same = CLOCK_RELATIVE.has(familyOf(key)) ? Math.abs(value - other) <= tolerance : Object.is(value, other);
    if (!same) differing.push(`${key}: ${value} ≠ ${other}`);
  }
  return { onlyLeft, onlyRight, differing: differing.sort() };
}

/** The families present in a fact set, sorted. */
export function familiesOf(facts: StapleFacts): string[] {
  return [...new Set([...facts.keys()].map(familyOf))].sort();
}

/** `Revocation Time:` of `openssl ocsp -resp_text` output (OpenSSL's own reading), Unix seconds; null without one. */
export function opensslRevocationTime(respText: string): number | null {
  const value = /^\s*Revocation Time: (.*)$/m.exec(respText)?.[1]?.trim() ?? null;
  const date = parseOpensslDate(value);
  return date === null ? null : date.getTime() / 1000;
}
