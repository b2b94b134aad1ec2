/**
 * File name patterns a config names (`/etc/haproxy/certs/*.pem`), expanded by reading directories,
 * never by a shell: `*` (any run of characters but `/`), `?` (one character) and `[...]` classes
 * (`[!...]` or `[^...]` negated) in any path segment, as POSIX glob(3) has them; no `**`, no braces.
 * As in a shell, `*` and `?` do not match a leading `.` unless the segment starts with one.
 * Bounded: at most `maxMatches` paths are returned (the first by name, with `truncated` set) and at
 * most {@link MAX_GLOB_DIRECTORY_ENTRIES} directory entries are looked at, so a pattern over a huge
 * directory costs a bounded time on the thread that expands it.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { isAbsolute, join, parse, sep } from 'node:path';
import { CodedError } from '../util/errors.js';
import { describeFileError } from '../util/files.js';

/** Directory entries one expansion may look at, all directories together. */
export const MAX_GLOB_DIRECTORY_ENTRIES = 100_000;

export class GlobError extends CodedError<'ERR_GLOB'> {
  override readonly name = 'GlobError';
  constructor(message: string) {
    super('ERR_GLOB', message);
  }
}

/** A pattern that cannot be used (`**`, an unclosed class); thrown before any directory is read. */
export class GlobPatternError extends CodedError<'ERR_GLOB_PATTERN'> {
  override readonly name = 'GlobPatternError';
  constructor(message: string) {
    super('ERR_GLOB_PATTERN', message);
  }
}

export interface GlobExpansion {
  /** Matching paths (absolute when the pattern is), sorted by name; at most `maxMatches` of them. */
  paths: string[];
  /** More paths matched than `maxMatches`: `paths` holds the first ones by name. */
  truncated: boolean;
}

/** Whether `pattern` has any of the characters {@link expandGlob} treats as a pattern. */
export function hasGlobMagic(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** Same as {@link hasGlobMagic}. */
export const hasWildcard = hasGlobMagic;

/** A checked pattern, expanded at each call of `expand`. Throws {@link GlobPatternError} for a bad one. */
export function compileGlob(pattern: string): { readonly pattern: string; expand(maxMatches: number): GlobExpansion } {
  const problem = globPatternProblem(pattern);
  if (problem) throw new GlobPatternError(problem);
  return { pattern, expand: (maxMatches) => expandGlob(pattern, maxMatches) };
}

/** A problem with the pattern itself (`**`, an unclosed class), or null when it is usable. */
export function globPatternProblem(pattern: string): string | null {
  for (const segment of pattern.split(sep)) {
    if (segment.includes('**')) return `"**" is not supported (a pattern matches within one directory level: use * per level)`;
    if (hasGlobMagic(segment) && segmentRegExp(segment) === null) return `unclosed "[" in "${segment}"`;
  }
  return null;
}

/** `segment` as an anchored regular expression; null for an unclosed class. */
function segmentRegExp(segment: string): RegExp | null {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) return null;
      let body = segment.slice(i + 1, close);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      source += `[${negated ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else source += c.replace(/[.+^${}()|\\]/g, (m) => `\\${m}`);
  }
  try {
    return new RegExp(`^${source}$`);
  } catch {
    return null;
  }
}

/**
 * The existing paths `pattern` matches. A pattern without magic characters matches itself when
 * it exists. A directory on the way that does not exist matches nothing; one that cannot be read
 * (permission denied) is a {@link GlobError}, as is an expansion that would look at more than
 * {@link MAX_GLOB_DIRECTORY_ENTRIES} entries; a bad pattern is a {@link GlobPatternError}.
 */
export function expandGlob(pattern: string, maxMatches: number): GlobExpansion {
  const problem = globPatternProblem(pattern);
  if (problem) throw new GlobPatternError(problem);
  const root = isAbsolute(pattern) ? parse(pattern).root : '';
  const segments = pattern.slice(root.length).split(sep).filter((s) => s !== '');
  let candidates = [root];
  let entriesSeen = 0;
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    const next: string[] = [];
    if (!hasGlobMagic(segment)) {
      for (const base of candidates) next.push(base === '' ? segment : join(base, segment));
    } else {
      const matcher = segmentRegExp(segment)!;
      const dotAllowed = segment.startsWith('.');
      for (const base of candidates) {
        let entries: Dirent[];
        try {
          entries = readdirSync(base === '' ? '.' : base, { withFileTypes: true });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR') continue;
          throw new GlobError(`cannot read directory "${base}" while expanding "${pattern}": ${describeFileError(error)}`);
        }
        entriesSeen += entries.length;
        if (entriesSeen > MAX_GLOB_DIRECTORY_ENTRIES) {
          throw new GlobError(`expanding "${pattern}" looks at more than ${MAX_GLOB_DIRECTORY_ENTRIES} directory entries; narrow the pattern`);
        }
        for (const entry of entries) {
          if (entry.name.startsWith('.') && !dotAllowed) continue;
          if (!matcher.test(entry.name)) continue;
          next.push(base === '' ? entry.name : join(base, entry.name));
        }
      }
    }
    // Only directories lead on; the last segment names the files (whatever they are: readers judge them).
    candidates = last ? next.filter(exists) : next.filter(isDirectory);
  }
  const paths = [...new Set(candidates)].sort();
  return { paths: paths.slice(0, maxMatches), truncated: paths.length > maxMatches };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    // A dangling symbolic link or a loop still names a file a reader should report on.
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ELOOP' || code === 'EACCES';
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
