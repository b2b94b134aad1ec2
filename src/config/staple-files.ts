/**
 * The `staple_files` section: staple files on disk paired with their certificates, in the layouts
 * refresh jobs write them:
 * - `haproxy: GLOB` — PEM bundles (certificate, chain, often the private key) each with the staple
 *   beside it as `<bundle>.ocsp`, as HAProxy loads it for `crt` (and `set ssl ocsp-response` updates);
 * - `staple:` + `certificate:` — one explicit pair (nginx `ssl_stapling_file`, lighttpd
 *   `ssl.stapling-file`, Exim `tls_ocsp_file`, gnutls-serv `--ocsp-response`);
 * - `directory:` — every `<name><certificate_suffix>` there paired with `<name><staple_suffix>` in
 *   `staple_directory` (default the same directory), for jobs that keep one staple per certificate
 *   under a naming rule.
 * Paths resolve against the config file's directory. Globs are checked here and expanded at each
 * scrape (src/files/glob.ts).
 */
import { isScalar } from 'yaml';
import { globPatternProblem, hasGlobMagic } from '../files/glob.js';
import { parseExtraLabels } from './labels.js';
import type { Fields, Walker } from './walker.js';

/** Where an entry's staple and certificate files are. Every path is absolute. */
export type StapleFileLayout =
  | { readonly kind: 'haproxy'; readonly bundles: string }
  | { readonly kind: 'pair'; readonly staple: string; readonly certificate: string }
  | {
      readonly kind: 'directory';
      readonly directory: string;
      readonly stapleDirectory: string;
      readonly certificateSuffix: string;
      readonly stapleSuffix: string;
    };

/** One configured entry of `staple_files`. */
export interface StapleFileEntry {
  readonly layout: StapleFileLayout;
  /** A file with the issuer certificate (absolute); null → the bundle's other certificates, then the module's trust store. */
  readonly issuer: string | null;
  /** Module whose `ca_file` (issuer source) and `clock_skew` apply. */
  readonly module: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Share of the staple's usable window within which the refresh job must rewrite the file (0 < x ≤ 1). */
  readonly rewriteWithin: number;
}

export const STAPLE_FILE_KEYS = [
  'haproxy',
  'staple',
  'certificate',
  'directory',
  'staple_directory',
  'certificate_suffix',
  'staple_suffix',
  'issuer',
  'module',
  'labels',
  'rewrite_within',
] as const;

/** Caddy refreshes at half the window; a file older than that means the job has stalled. */
export const DEFAULT_REWRITE_WITHIN = 0.5;
export const DEFAULT_CERTIFICATE_SUFFIX = '.pem';
export const DEFAULT_STAPLE_SUFFIX = '.ocsp';

const LAYOUT_KEYS = ['haproxy', 'staple', 'directory'] as const;
const DIRECTORY_ONLY_KEYS = ['staple_directory', 'certificate_suffix', 'staple_suffix'] as const;

/** Parses the `staple_files` list; problems are reported on `w`. */
export function parseStapleFiles(w: Walker, node: unknown, keyNode: unknown, modules: Record<string, unknown>): StapleFileEntry[] {
  const items = w.list(node, 'staple_files', keyNode);
  const entries: StapleFileEntry[] = [];
  for (const [index, item] of (items ?? []).entries()) {
    const entry = parseEntry(w, item, `staple_files[${index}]`, modules, node);
    if (entry) entries.push(entry);
  }
  return entries;
}

function parseEntry(w: Walker, node: unknown, path: string, modules: Record<string, unknown>, parent: unknown): StapleFileEntry | undefined {
  const f = w.fields(node, path, STAPLE_FILE_KEYS, parent);
  if (!f) return undefined;
  const problems = w.problems.length;
  const layout = parseLayout(w, f, path, node);
  const issuerName = f.nonEmptyString('issuer');
  const module = f.has('module') ? f.nonEmptyString('module') : 'default';
  if (module !== undefined && f.has('module') && !Object.hasOwn(modules, module)) {
    f.report('module', `unknown module "${module}" (defined: ${Object.keys(modules).sort().join(', ')})`);
  }
  const labels = f.has('labels') ? parseExtraLabels(w, [...f.entries()].find(([key]) => key === 'labels')![1], f.pathOf('labels')) : {};
  const rewriteWithin = f.has('rewrite_within') ? share(w, f, 'rewrite_within') : DEFAULT_REWRITE_WITHIN;
  if (w.problems.length > problems || !layout || module === undefined || !labels || rewriteWithin === undefined) return undefined;
  return { layout, issuer: issuerName === undefined ? null : w.resolvePath(issuerName), module, labels, rewriteWithin };
}

function parseLayout(w: Walker, f: Fields, path: string, node: unknown): StapleFileLayout | undefined {
  const given = LAYOUT_KEYS.filter((key) => f.has(key));
  if (given.length !== 1) {
    const message =
      given.length === 0
        ? 'needs one of haproxy (a glob of PEM bundles), staple with certificate (one pair) or directory'
        : `set only one of ${given.join(', ')} (each entry has one layout)`;
    w.report(node, path, message);
    return undefined;
  }
  const layout = given[0]!;
  if (layout !== 'staple' && f.has('certificate')) f.report('certificate', 'goes with staple (the explicit pair); haproxy and directory find certificates themselves');
  if (layout !== 'directory') {
    for (const key of DIRECTORY_ONLY_KEYS) if (f.has(key)) f.report(key, 'applies only to a directory entry');
  }
  if (layout === 'haproxy') {
    const bundles = pathValue(w, f, 'haproxy', true);
    return bundles === undefined ? undefined : { kind: 'haproxy', bundles };
  }
  if (layout === 'staple') {
    if (!f.has('certificate')) {
      f.report('staple', 'needs certificate too (the certificate file the staple is about)');
      return undefined;
    }
    const staple = pathValue(w, f, 'staple', false);
    const certificate = pathValue(w, f, 'certificate', false);
    return staple === undefined || certificate === undefined ? undefined : { kind: 'pair', staple, certificate };
  }
  const directory = pathValue(w, f, 'directory', false);
  const stapleDirectory = f.has('staple_directory') ? pathValue(w, f, 'staple_directory', false) : directory;
  const certificateSuffix = suffix(f, 'certificate_suffix', DEFAULT_CERTIFICATE_SUFFIX);
  const stapleSuffix = suffix(f, 'staple_suffix', DEFAULT_STAPLE_SUFFIX);
  if (directory === undefined || stapleDirectory === undefined || certificateSuffix === undefined || stapleSuffix === undefined) return undefined;
  if (directory === stapleDirectory && stapleSuffix.endsWith(certificateSuffix)) {
    // `a.pem.ocsp` ends with `.ocsp`, not `.pem`; but a staple suffix ending in the certificate suffix would pair staples with themselves.
    f.report('staple_suffix', `"${stapleSuffix}" ends with certificate_suffix "${certificateSuffix}": staple files would be taken for certificates`);
    return undefined;
  }
  return { kind: 'directory', directory, stapleDirectory, certificateSuffix, stapleSuffix };
}

/** A path (resolved); a glob (checked) when `glob`, else a literal path that must not look like one. */
function pathValue(w: Walker, f: Fields, key: string, glob: boolean): string | undefined {
  const name = f.nonEmptyString(key);
  if (name === undefined) return undefined;
  const resolved = w.resolvePath(name);
  if (glob) {
    const problem = globPatternProblem(resolved);
    if (problem) {
      f.report(key, `invalid glob: ${problem}`);
      return undefined;
    }
  } else if (hasGlobMagic(name)) {
    f.report(key, `is a single path, not a glob (for many bundles use haproxy: or directory:)`);
    return undefined;
  }
  return resolved;
}

function suffix(f: Fields, key: string, fallback: string): string | undefined {
  if (!f.has(key)) return fallback;
  const value = f.nonEmptyString(key);
  if (value !== undefined && value.includes('/')) {
    f.report(key, 'is a file name ending, not a path (no "/")');
    return undefined;
  }
  if (value !== undefined && hasGlobMagic(value)) {
    f.report(key, 'is a literal file name ending (no *, ? or [)');
    return undefined;
  }
  return value;
}

/** A number above 0 and at most 1. */
function share(w: Walker, f: Fields, key: string): number | undefined {
  const n = w.deref(f.value(key));
  const value = isScalar(n) ? n.value : undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= 1) return value;
  f.report(key, w.expected('a number above 0 and at most 1 (a share of the staple\'s usable window, e.g. 0.5)', n));
  return undefined;
}
