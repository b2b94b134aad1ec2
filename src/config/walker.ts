/**
 * The machinery both YAML files of the exporter are read with (the main config, src/config/load.ts,
 * and `--web.config.file`, src/server/webconfig.ts): a walk over the `yaml` package's Document tree
 * (not plain JS values, so every problem can name the line of the node that caused it) that
 * collects every problem with its file, line and key path instead of stopping at the first, rejects
 * unknown and duplicate keys, reads strings, booleans, integers and Prometheus durations, and reads
 * the files a config names (capped, resolved against the config file's directory). The two files
 * word a few things differently (tests and users rely on both), so the wording is a parameter;
 * the rules are here once.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  YAMLParseError,
  type Alias,
  type Document,
  type Node,
  type Pair,
  type YAMLError,
  type YAMLMap,
} from 'yaml';
import { describeFileError, readTextFileCapped } from '../util/files.js';
import { parseDuration } from './duration.js';
import type { ConfigProblem } from './errors.js';

/** Config files and the PEM files they name are small; refuse to slurp anything huge by mistake. */
export const MAX_CONFIG_FILE_BYTES = 10 * 1024 * 1024;

/** Reads a config file or a file it names as UTF-8 text, at most {@link MAX_CONFIG_FILE_BYTES}. */
export function readConfigFileText(path: string): string {
  return readTextFileCapped(path, MAX_CONFIG_FILE_BYTES);
}

/**
 * YAML documents are parsed on the main thread, at start-up and on every reload, so their cost is
 * bounded before anything is walked. Parsing is linear but not cheap (about 1.6 s per MiB here),
 * hence a document cap below the file cap (the file cap also covers the PEM bundles a config names).
 */
export const MAX_YAML_DOCUMENT_BYTES = 4 * 1024 * 1024;
/** `*alias` references per document (YAML 1.2 §3.2.2.2); hand-written configs use a handful. */
export const MAX_YAML_ALIASES = 1000;
/**
 * Nodes that aliases may add when followed: each alias counts the whole node it names, so
 * "billion laughs" documents (aliases of lists of aliases) are refused before anything expands them.
 */
export const MAX_YAML_ALIAS_EXPANSION = 100_000;

/** Each alias with the node it names, or the problem that stops the document from being walked. */
type AliasIndex = { ok: true; targets: Map<Alias, Node | undefined> } | { ok: false; at: number; message: string };

function childrenOf(node: unknown): unknown[] {
  if (isMap(node)) return node.items.flatMap((pair) => [pair.key, pair.value]);
  if (isSeq(node)) return node.items.flatMap((item) => (isPair(item) ? [item.key, item.value] : [item]));
  return [];
}

/**
 * Resolves every alias once, in one pass, the way the `yaml` package does (the last node with that
 * anchor before the alias, in document order), and measures how much they expand. `Alias.resolve`
 * without a context re-walks the whole document per call: 4,000 aliases in 47 KB took 5.9 s.
 * Iterative, so a deeply nested document cannot overflow the stack here.
 */
function indexAliases(root: unknown): AliasIndex {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node | undefined>();
  /** Expanded node count of each finished node (aliases followed); absent while a node is open. */
  const sizes = new Map<unknown, number>();
  let nodes = 0;
  const stack: { node: unknown; open: boolean }[] = [{ node: root, open: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const node = top.node;
    if (node === null || typeof node !== 'object') {
      stack.pop();
      continue;
    }
    if (isAlias(node)) {
      stack.pop();
      if (targets.size >= MAX_YAML_ALIASES) {
        return { ok: false, at: node.range?.[0] ?? 0, message: `more than ${MAX_YAML_ALIASES} aliases (*${node.source} is one too many); write the values out or use fewer aliases` };
      }
      targets.set(node, anchors.get(node.source));
      continue;
    }
    if (!top.open) {
      top.open = true;
      nodes += 1;
      // Registered before the children, as in the yaml package, so an alias inside its own anchor finds it (a cycle).
      const anchor = (node as { anchor?: string }).anchor;
      if (anchor) anchors.set(anchor, node as Node);
      const children = childrenOf(node);
      for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i], open: false });
      continue;
    }
    stack.pop();
    let size = 1;
    for (const child of childrenOf(node)) {
      if (child === null || typeof child !== 'object') continue;
      if (isAlias(child)) {
        const target = targets.get(child);
        if (target === undefined) continue; // an undefined anchor: the walk reports it where it matters
        // An alias inside the node it names (a cycle) counts as one node: the walk reads each level
        // only as deep as the schema goes, and reports the wrong type it finds there.
        size += sizes.get(target) ?? 1;
      } else size += sizes.get(child) ?? 0;
    }
    sizes.set(node, size);
  }
  const rootTarget = isAlias(root) ? targets.get(root) : root;
  const expanded = rootTarget === undefined ? 0 : (sizes.get(rootTarget) ?? 0);
  if (expanded - nodes > MAX_YAML_ALIAS_EXPANSION) {
    return { ok: false, at: 0, message: `aliases expand the document by more than ${MAX_YAML_ALIAS_EXPANSION} nodes (a "billion laughs" document?)` };
  }
  return { ok: true, targets };
}

const DURATION_HINT = 'use Prometheus durations like 10s, 1m30s';

/**
 * What a problem is about, for callers that tell them apart by code (the web config does):
 * `syntax` the YAML itself (parse errors, duplicate keys: YAML 1.2 §3.2.1.1 wants keys unique),
 * `file` a file the config names (unreadable, or not the certificate or key it should be),
 * `content` everything else (unknown keys, wrong types, bad values).
 */
export type ProblemKind = 'syntax' | 'content' | 'file';

export interface WalkerProblem extends ConfigProblem {
  kind: ProblemKind;
}

/** The problem without its kind, as `ConfigError` carries it. */
export function withoutKind({ kind: _kind, ...problem }: WalkerProblem): ConfigProblem {
  return problem;
}

/** The sentences that differ between the two files; the rules do not. */
export interface WalkerWording {
  /** A parse error or warning of the YAML package. */
  syntax(error: YAMLError): string;
  /** Where and how to report a key a mapping does not know: `keyPath` is the key's own path, `parentPath` the mapping's. */
  unknownKey(key: string, keyPath: string, parentPath: string, known: readonly string[]): { path: string; message: string };
  /** A file named at `name` (resolved to `resolved`) that cannot be read, `reason` as describeFileError words it. */
  unreadableFile(name: string, resolved: string, reason: string): string;
  /** Whether type problems say what was found ("expected a list, got a mapping") or only what was expected. */
  saysWhatItFound: boolean;
}

/** The main config's wording: "did you mean" suggestions, and type problems that say what they got. */
export const CONFIG_WORDING: WalkerWording = {
  syntax: (error) => `invalid YAML: ${error.code === 'MULTIPLE_DOCS' ? 'the file holds more than one YAML document (remove the extra ---)' : error.message}`,
  unknownKey: (key, keyPath, _parentPath, known) => {
    const suggestion = suggestKey(key, known);
    return { path: keyPath, message: suggestion ? `unknown key (did you mean "${suggestion}"?)` : `unknown key (known keys: ${known.join(', ')})` };
  },
  unreadableFile: (name, resolved, reason) => `cannot read ${resolved === name ? `"${name}"` : `"${name}" (${resolved})`}: ${reason}`,
  saysWhatItFound: true,
};

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known key a typo most likely meant: same letters ignoring case and `_`/`-`, or a small edit away. */
export function suggestKey(key: string, known: readonly string[]): string | null {
  const squash = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const same = known.find((k) => squash(k) === squash(key));
  if (same) return same;
  const limit = key.length >= 5 ? 2 : 1;
  let best: { key: string; distance: number } | null = null;
  for (const k of known) {
    const distance = levenshtein(key.toLowerCase(), k);
    if (distance <= limit && (!best || distance < best.distance)) best = { key: k, distance };
  }
  return best?.key ?? null;
}

export interface WalkerOptions {
  /** Reads a file the document names. Default: {@link readConfigFileText}. */
  readFile?: (path: string) => string;
  /** Relative file names resolve against this. Default: the directory of `file`. */
  baseDir?: string;
  /** Default: {@link CONFIG_WORDING}. */
  wording?: WalkerWording;
}

/** Collects problems while walking one document; every check reports and carries on. */
export class Walker {
  readonly problems: WalkerProblem[] = [];
  readonly doc: Document.Parsed;
  private readonly lines = new LineCounter();
  private readonly aliasTargets: Map<Alias, Node | undefined> = new Map();
  private readonly readFile: (path: string) => string;
  private readonly baseDir: string;
  readonly wording: WalkerWording;

  /** Parses `text`; YAML errors and warnings are the first problems (check `problems` before walking). */
  constructor(
    readonly file: string,
    text: string,
    options: WalkerOptions = {},
  ) {
    this.readFile = options.readFile ?? readConfigFileText;
    this.baseDir = options.baseDir ?? dirname(resolve(file));
    this.wording = options.wording ?? CONFIG_WORDING;
    if (Buffer.byteLength(text, 'utf8') > MAX_YAML_DOCUMENT_BYTES) {
      this.doc = parseDocument('', { lineCounter: this.lines });
      const message = `the document is larger than ${MAX_YAML_DOCUMENT_BYTES / 1024 / 1024} MiB`;
      this.problems.push({ file, line: null, path: '', message: this.wording.syntax(new YAMLParseError([0, 0], 'RESOURCE_EXHAUSTION', message)), kind: 'syntax' });
      return;
    }
    // uniqueKeys off: duplicate keys are reported by `mapping` with their key path, not as a bare parse error.
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: false });
    for (const error of [...this.doc.errors, ...this.doc.warnings]) {
      this.problems.push({ file, line: this.lineAt(error.pos[0]), path: '', message: this.wording.syntax(error), kind: 'syntax' });
    }
    if (this.problems.length > 0) return;
    const aliases = indexAliases(this.doc.contents);
    if (aliases.ok) this.aliasTargets = aliases.targets;
    else {
      const error = new YAMLParseError([aliases.at, aliases.at], 'RESOURCE_EXHAUSTION', aliases.message);
      this.problems.push({ file, line: this.lineAt(aliases.at), path: '', message: this.wording.syntax(error), kind: 'syntax' });
    }
  }

  private lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  lineOf(node: unknown): number | null {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? this.lineAt(range[0]) : null;
  }

  /** Records a problem at `node`'s line (or `fallback`'s, when `node` has none, e.g. a missing value). */
  report(node: unknown, path: string, message: string, fallback?: unknown, kind: ProblemKind = 'content'): void {
    this.problems.push({ file: this.file, line: this.lineOf(node) ?? this.lineOf(fallback), path, message, kind });
  }

  /** A problem with a file the document names (unreadable, or not what it should hold). */
  reportFile(node: unknown, path: string, message: string, fallback?: unknown): void {
    this.report(node, path, message, fallback, 'file');
  }

  /** Every problem in line order; problems on the same line (or without one) keep the order they were found in. */
  sortedProblems(): WalkerProblem[] {
    return this.problems
      .map((problem, order) => ({ problem, order }))
      .sort((a, b) => (a.problem.line ?? Infinity) - (b.problem.line ?? Infinity) || a.order - b.order)
      .map(({ problem }) => problem);
  }

  /** Follows `*alias` references so anchors can be used anywhere (resolved once, at parse). */
  deref(node: unknown): unknown {
    return isAlias(node) ? this.aliasTargets.get(node) : node;
  }

  /** A human name for what a node is, for "expected X, got Y". */
  describe(node: unknown): string {
    const n = this.deref(node);
    if (n === null || n === undefined) return 'nothing';
    if (isMap(n)) return 'a mapping';
    if (isSeq(n)) return 'a list';
    if (isScalar(n)) {
      const v = n.value;
      if (v === null) return 'nothing';
      if (typeof v === 'string') return `a string (${JSON.stringify(v)})`;
      if (typeof v === 'number' || typeof v === 'bigint') return `a number (${String(n.source ?? v)})`;
      if (typeof v === 'boolean') return `a boolean (${v})`;
      return v instanceof Uint8Array ? 'binary data' : 'a value of another type';
    }
    return 'something else';
  }

  /** `expected WHAT`, and what was found when the wording says so. */
  expected(what: string, node: unknown): string {
    return this.wording.saysWhatItFound ? `expected ${what}, got ${this.describe(node)}` : `expected ${what}`;
  }

  isNull(node: unknown): boolean {
    const n = this.deref(node);
    return n === null || n === undefined || (isScalar(n) && n.value === null);
  }

  isMapping(node: unknown): boolean {
    return isMap(this.deref(node));
  }

  /**
   * The pairs of a mapping, after rejecting unknown and duplicate keys (`known` null: any key). A
   * missing or empty value (`global:` with nothing under it) counts as an empty mapping. Null when
   * the node is not a mapping.
   */
  mapping(node: unknown, path: string, known: readonly string[] | null, fallback?: unknown): Map<string, Pair<unknown, unknown>> | null {
    const n = this.deref(node);
    if (this.isNull(n)) return new Map();
    if (!isMap(n)) {
      this.report(n, path, this.expected('a mapping', n), fallback);
      return null;
    }
    const pairs = new Map<string, Pair<unknown, unknown>>();
    for (const pair of (n as YAMLMap<unknown, unknown>).items) {
      const keyNode = this.deref(pair.key);
      const key = isScalar(keyNode) && (typeof keyNode.value === 'string' || typeof keyNode.value === 'number') ? String(keyNode.value) : null;
      const keyPath = path === '' ? (key ?? '?') : `${path}.${key ?? '?'}`;
      if (key === null) {
        this.report(keyNode, path, this.wording.saysWhatItFound ? `keys must be plain strings, got ${this.describe(keyNode)}` : 'keys must be plain strings', n);
        continue;
      }
      const first = pairs.get(key);
      if (first) {
        this.report(keyNode, keyPath, `duplicate key (first at line ${this.lineOf(first.key)})`, n, 'syntax');
        continue;
      }
      if (known && !known.includes(key)) {
        const unknown = this.wording.unknownKey(key, keyPath, path, known);
        this.report(keyNode, unknown.path, unknown.message, n);
        continue;
      }
      pairs.set(key, pair);
    }
    return pairs;
  }

  /** {@link mapping} with the accessors of {@link Fields}; null when the node is not a mapping. */
  fields(node: unknown, path: string, known: readonly string[] | null, fallback?: unknown): Fields | null {
    const pairs = this.mapping(node, path, known, fallback);
    return pairs && new Fields(this, pairs, path, this.deref(node));
  }

  /** Items of a list; null (empty) counts as an empty list. */
  list(node: unknown, path: string, fallback?: unknown): unknown[] | null {
    const n = this.deref(node);
    if (this.isNull(n)) return [];
    if (!isSeq(n)) {
      this.report(n, path, this.expected('a list', n), fallback);
      return null;
    }
    return n.items;
  }

  string(node: unknown, path: string, fallback?: unknown): string | undefined {
    const n = this.deref(node);
    if (isScalar(n) && typeof n.value === 'string') return n.value;
    this.report(n, path, this.expected('a string', n), fallback);
    return undefined;
  }

  nonEmptyString(node: unknown, path: string, fallback?: unknown): string | undefined {
    const n = this.deref(node);
    if (isScalar(n) && typeof n.value === 'string' && n.value !== '') return n.value;
    this.report(n, path, this.expected('a non-empty string', n), fallback);
    return undefined;
  }

  boolean(node: unknown, path: string, fallback?: unknown): boolean | undefined {
    const n = this.deref(node);
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.report(n, path, this.expected('true or false', n), fallback);
    return undefined;
  }

  integer(node: unknown, path: string, min: number, max: number, fallback?: unknown): number | undefined {
    const n = this.deref(node);
    const value = isScalar(n) ? n.value : undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    const what = `an integer from ${min} to ${max}`;
    if (typeof value === 'number' && this.wording.saysWhatItFound) {
      this.report(n, path, `expected ${what}, got ${String(isScalar(n) ? (n.source ?? value) : value)}`, fallback);
    } else this.report(n, path, this.expected(what, n), fallback);
    return undefined;
  }

  /** Prometheus duration in seconds. A bare `0` is fine; other bare numbers need a unit. */
  duration(node: unknown, path: string, fallback?: unknown): number | undefined {
    const n = this.deref(node);
    const value = isScalar(n) ? n.value : undefined;
    if (value === 0) return 0;
    if (typeof value === 'string') {
      try {
        return parseDuration(value);
      } catch (error) {
        const outOfRange = error instanceof Error && error.message.includes('out of range');
        this.report(n, path, outOfRange ? `duration "${value}" is too large` : `invalid duration "${value}" (${DURATION_HINT})`, fallback);
        return undefined;
      }
    }
    if (typeof value === 'number') {
      this.report(n, path, `invalid duration ${String((n as { source?: string }).source ?? value)}: a number needs a unit (${DURATION_HINT})`, fallback);
      return undefined;
    }
    this.report(n, path, this.expected(`a duration (${DURATION_HINT})`, n), fallback);
    return undefined;
  }

  /** A file name of the document as an absolute path: relative names resolve against the document's directory. */
  resolvePath(name: string): string {
    return isAbsolute(name) ? name : resolve(this.baseDir, name);
  }

  /** Reads a file named in the document; relative names resolve against the document's directory. */
  readReferencedFile(node: unknown, path: string, name: string): { resolved: string; text: string } | undefined {
    const resolved = this.resolvePath(name);
    try {
      return { resolved, text: this.readFile(resolved) };
    } catch (error) {
      this.reportFile(node, path, this.wording.unreadableFile(name, resolved, describeFileError(error)));
      return undefined;
    }
  }
}

/**
 * The checked pairs of one mapping, with the value readers bound to each key's path and line: a
 * problem with a missing value is reported at the key.
 */
export class Fields {
  constructor(
    private readonly w: Walker,
    private readonly pairs: Map<string, Pair<unknown, unknown>>,
    /** The mapping's own key path. */
    readonly path: string,
    /** The mapping node, for problems about the mapping as a whole (a required key missing). */
    readonly node: unknown,
  ) {}

  has(key: string): boolean {
    return this.pairs.has(key);
  }

  /** The value node of `key` (undefined when absent). */
  value(key: string): unknown {
    return this.pairs.get(key)?.value;
  }

  /** The key node of `key`, where problems of a missing value are reported. */
  keyNode(key: string): unknown {
    return this.pairs.get(key)?.key;
  }

  pathOf(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  entries(): IterableIterator<[string, Pair<unknown, unknown>]> {
    return this.pairs.entries();
  }

  /** Reports `message` about `key`'s value. */
  report(key: string, message: string): void {
    this.w.report(this.value(key), this.pathOf(key), message, this.keyNode(key));
  }

  reportFile(key: string, message: string): void {
    this.w.reportFile(this.value(key), this.pathOf(key), message, this.keyNode(key));
  }

  string(key: string): string | undefined {
    return this.has(key) ? this.w.string(this.value(key), this.pathOf(key), this.keyNode(key)) : undefined;
  }

  nonEmptyString(key: string): string | undefined {
    return this.has(key) ? this.w.nonEmptyString(this.value(key), this.pathOf(key), this.keyNode(key)) : undefined;
  }

  boolean(key: string): boolean | undefined {
    return this.has(key) ? this.w.boolean(this.value(key), this.pathOf(key), this.keyNode(key)) : undefined;
  }

  duration(key: string): number | undefined {
    return this.has(key) ? this.w.duration(this.value(key), this.pathOf(key), this.keyNode(key)) : undefined;
  }

  integer(key: string, min: number, max: number): number | undefined {
    return this.has(key) ? this.w.integer(this.value(key), this.pathOf(key), min, max, this.keyNode(key)) : undefined;
  }

  /** Reads the file `key` names (read with `name` as the string read from it). */
  readFile(key: string, name: string): { resolved: string; text: string } | undefined {
    return this.w.readReferencedFile(this.value(key), this.pathOf(key), name);
  }
}
