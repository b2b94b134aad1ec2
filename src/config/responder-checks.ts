/**
 * The `responder_checks` section: certificates whose OCSP responder the exporter asks directly at
 * scrape time, without a TLS server in between (src/sources/responder-checks.ts). Each entry names a
 * certificate file or a glob of them (the first certificate of a bundle is checked, the rest is its
 * chain), optionally the issuer's file, the module whose responder settings apply and extra labels.
 * Paths resolve against the config file's directory. The files are read now, so a typo or an
 * unreadable file fails the load (a reload keeps the last good config); at each scrape they are
 * read again only when they changed on disk, and globs are expanded again.
 */
import { expandGlob, globPatternProblem, hasGlobMagic } from '../files/glob.js';
import { certificatesOf } from '../files/certificates.js';
import { readStampedFile } from '../files/read.js';
import { messageOf } from '../util/errors.js';
import { parseExtraLabels } from './labels.js';
import type { Fields, Walker } from './walker.js';

/** One configured entry of `responder_checks`. */
export interface ResponderCheckEntry {
  /** The certificate file (absolute); a glob pattern when `glob`. */
  readonly certificate: string;
  readonly glob: boolean;
  /** The issuer's certificate file (absolute); null → the bundle's other certificates, then the module's `ca_file` (or the system store). */
  readonly issuer: string | null;
  /** Module whose responder settings apply (responder_url, timeout, proxy, guard, cache, clock_skew). */
  readonly module: string;
  readonly labels: Readonly<Record<string, string>>;
}

export const RESPONDER_CHECK_KEYS = ['certificate', 'issuer', 'module', 'labels'] as const;

/** Files one glob may match; past it the first ones by name are checked and the rest reported. */
export const MAX_RESPONDER_CHECK_FILES = 1000;

/** A certificate bundle with its chain is a few KiB; 1 MiB leaves room for long chains and a key. */
export const MAX_CERTIFICATE_FILE_BYTES = 1024 * 1024;

/** Unreadable files of one glob named in the load error before "and N more". */
const MAX_FILES_REPORTED = 3;

/** Parses the `responder_checks` list; problems are reported on `w`. */
export function parseResponderChecks(w: Walker, node: unknown, keyNode: unknown, modules: Record<string, unknown>): ResponderCheckEntry[] {
  const items = w.list(node, 'responder_checks', keyNode);
  const entries: ResponderCheckEntry[] = [];
  const seen = new Map<string, string>();
  for (const [index, item] of (items ?? []).entries()) {
    const path = `responder_checks[${index}]`;
    const entry = parseEntry(w, item, path, modules, node);
    if (!entry) continue;
    // Series are identified by the certificate's path alone: the same file twice would give the same series twice.
    const first = seen.get(entry.certificate);
    if (first !== undefined) {
      w.report(item, `${path}.certificate`, `"${entry.certificate}" is already checked by ${first}`);
      continue;
    }
    seen.set(entry.certificate, path);
    entries.push(entry);
  }
  return entries;
}

function parseEntry(w: Walker, node: unknown, path: string, modules: Record<string, unknown>, parent: unknown): ResponderCheckEntry | undefined {
  const f = w.fields(node, path, RESPONDER_CHECK_KEYS, parent);
  if (!f) return undefined;
  const problems = w.problems.length;
  if (!f.has('certificate')) {
    w.report(node, path, 'needs certificate (a certificate file, or a glob of them)', parent);
    return undefined;
  }
  const name = f.nonEmptyString('certificate');
  const certificate = name === undefined ? undefined : w.resolvePath(name);
  const glob = name !== undefined && hasGlobMagic(name);
  if (certificate !== undefined) {
    if (glob) checkGlob(f, certificate);
    else checkCertificateFile(f, 'certificate', certificate);
  }
  const issuerName = f.nonEmptyString('issuer');
  const issuer = issuerName === undefined ? null : w.resolvePath(issuerName);
  if (issuer !== null) {
    if (hasGlobMagic(issuerName!)) f.report('issuer', 'is a single file, not a glob');
    else checkCertificateFile(f, 'issuer', issuer);
  }
  const module = f.has('module') ? f.nonEmptyString('module') : 'default';
  if (module !== undefined && !Object.hasOwn(modules, module)) {
    f.report('module', `unknown module "${module}" (defined: ${Object.keys(modules).sort().join(', ')})`);
  }
  const labelsPair = [...f.entries()].find(([key]) => key === 'labels')?.[1];
  const labels = labelsPair ? parseExtraLabels(w, labelsPair, f.pathOf('labels')) : {};
  if (w.problems.length > problems || certificate === undefined || module === undefined || !labels) return undefined;
  return { certificate, glob, issuer, module, labels };
}

/** Why the certificate file at `path` cannot be used now, or null (the source reads it again at each change). */
function certificateFileProblem(path: string): string | null {
  const file = readStampedFile(path, MAX_CERTIFICATE_FILE_BYTES);
  if (!file.ok) return file.problem.message;
  const decoded = certificatesOf(file.bytes, path);
  // The bundle may hold a private key: its bytes do not outlive the check.
  file.bytes.fill(0);
  return decoded.ok ? null : decoded.problem.message;
}

function checkCertificateFile(f: Fields, key: string, path: string): void {
  const problem = certificateFileProblem(path);
  if (problem) f.reportFile(key, problem);
}

/** The pattern is usable and matches between 1 and MAX_RESPONDER_CHECK_FILES readable certificate files now. */
function checkGlob(f: Fields, pattern: string): void {
  const problem = globPatternProblem(pattern);
  if (problem) {
    f.report('certificate', `invalid glob: ${problem}`);
    return;
  }
  let paths: string[];
  try {
    const expansion = expandGlob(pattern, MAX_RESPONDER_CHECK_FILES);
    if (expansion.truncated) {
      f.report('certificate', `"${pattern}" matches more than ${MAX_RESPONDER_CHECK_FILES} files; narrow it or split it into several entries`);
      return;
    }
    paths = expansion.paths;
  } catch (error) {
    f.reportFile('certificate', messageOf(error));
    return;
  }
  if (paths.length === 0) {
    f.reportFile('certificate', `"${pattern}" matches no file`);
    return;
  }
  const failed = paths.map(certificateFileProblem).filter((problem) => problem !== null);
  if (failed.length === 0) return;
  const more = failed.length > MAX_FILES_REPORTED ? `; and ${failed.length - MAX_FILES_REPORTED} more` : '';
  f.reportFile('certificate', `${failed.length} of the ${paths.length} files "${pattern}" matches cannot be used: ${failed.slice(0, MAX_FILES_REPORTED).join('; ')}${more}`);
}
