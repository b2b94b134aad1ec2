/**
 * The `staple_files` series source for /metrics: at each scrape it expands every entry into
 * (staple, certificate) pairs (globs and directories read again each time, bounded), stamps each
 * file and reads it again only when its stamp (device, inode, size, mtime) changed, judges the
 * staple at the scrape time, and hands out the same result object for a pair while neither its
 * files nor its verdict changed, so the writer reuses its text (render.ts). Synchronous, bounded
 * file-system calls on small local files; never throws: every problem is a series.
 */
import { basename, join } from 'node:path';
import type { Config, ModuleConfig } from '../config/schema.js';
import { moduleNamed } from '../config/schema.js';
import type { StapleFileEntry } from '../config/staple-files.js';
import { expandGlob, GlobError } from '../files/glob.js';
import { certificatesOf } from '../files/certificates.js';
import { findFileIssuer, judgeStaple, leafFacts } from './staple-file-judge.js';
import { readStampedFile, stampFile, type FileProblem, type ReadHooks } from '../files/read.js';
import type { FileIssuerSource, StapleFileResult } from './staple-file-result.js';
import type { ResultSource, SourcedResult } from './types.js';
import { messageOf } from '../util/errors.js';

/** A staple is a few KB; RFC 6960 puts no bound on it, servers do (OpenSSL's default is 100 KB for a whole response). */
export const MAX_STAPLE_FILE_BYTES = 64 * 1024;
/** A PEM bundle with a chain and a 4096-bit RSA key is ~10 KB. */
export const MAX_CERTIFICATE_FILE_BYTES = 1024 * 1024;
/** Pairs one entry may expand to; past it the entry is one `too_many_files` series. */
export const MAX_FILES_PER_ENTRY = 1000;

/** Pairs judged between two turns of the event loop (about 20-50 ms of stat calls and reads). */
const YIELD_EVERY_PAIRS = 100;

/** File endings HAProxy itself skips when it loads a `crt` directory: never taken for bundles. */
const HAPROXY_SIDE_FILES = ['.ocsp', '.issuer', '.sctl', '.key'];

export interface StapleFilePair {
  staple: string;
  certificate: string;
  /** HAProxy's `<bundle>.issuer`, looked for beside the bundle. */
  haproxyIssuer: string | null;
}

export type PairExpansion = { ok: true; pairs: StapleFilePair[] } | { ok: false; staple: string; certificate: string; problem: FileProblem };

/** The pairs an entry stands for now. */
export function expandEntry(entry: StapleFileEntry, maxFiles: number = MAX_FILES_PER_ENTRY): PairExpansion {
  const layout = entry.layout;
  if (layout.kind === 'pair') return { ok: true, pairs: [{ staple: layout.staple, certificate: layout.certificate, haproxyIssuer: null }] };
  const [pattern, stapleOf, shown] =
    layout.kind === 'haproxy'
      ? [layout.bundles, (bundle: string) => `${bundle}.ocsp`, { staple: `${layout.bundles}.ocsp`, certificate: layout.bundles }]
      : [
          join(layout.directory, `*${layout.certificateSuffix}`),
          (cert: string) => join(layout.stapleDirectory, basename(cert).slice(0, -layout.certificateSuffix.length) + layout.stapleSuffix),
          { staple: join(layout.stapleDirectory, `*${layout.stapleSuffix}`), certificate: join(layout.directory, `*${layout.certificateSuffix}`) },
        ];
  let paths: string[];
  try {
    const expansion = expandGlob(pattern, maxFiles);
    if (expansion.truncated) {
      return { ok: false, ...shown, problem: { reason: 'too_many_files', message: `${pattern}: more than ${maxFiles} files match (the bound per entry); split the entry` } };
    }
    paths = expansion.paths;
  } catch (error) {
    const message = error instanceof GlobError ? error.message : `${pattern}: ${messageOf(error)}`;
    return { ok: false, ...shown, problem: { reason: 'unreadable', message } };
  }
  if (layout.kind === 'haproxy') paths = paths.filter((path) => !HAPROXY_SIDE_FILES.some((side) => path.endsWith(side)));
  if (paths.length === 0) return { ok: false, ...shown, problem: { reason: 'missing', message: `${pattern}: no file matches` } };
  return {
    ok: true,
    pairs: paths.map((path) => ({ staple: stapleOf(path), certificate: path, haproxyIssuer: layout.kind === 'haproxy' ? `${path}.issuer` : null })),
  };
}

type Loaded<T> = { ok: true; value: T; stampKey: string; mtimeMs: number } | { ok: false; problem: FileProblem; stampKey: string };

interface FileCacheEntry<T> {
  stampKey: string;
  loaded: Loaded<T>;
}

/** What was last read of each path, by kind; entries not seen in a scrape are dropped after it. */
class FileCache<T> {
  private entries = new Map<string, FileCacheEntry<T>>();
  private seen = new Set<string>();

  constructor(
    private readonly maxBytes: number,
    private readonly parse: (bytes: Buffer, path: string) => { ok: true; value: T } | { ok: false; problem: FileProblem },
    private readonly onRead: (path: string) => void,
    private readonly hooks: ReadHooks,
  ) {}

  load(path: string): Loaded<T> {
    this.seen.add(path);
    const stamped = stampFile(path);
    if (!stamped.ok) return { ok: false, problem: stamped.problem, stampKey: `!${stamped.problem.reason}:${stamped.problem.message}` };
    const cached = this.entries.get(path);
    if (cached && cached.stampKey === stamped.stamp.key) return cached.loaded;
    this.onRead(path);
    const read = readStampedFile(path, this.maxBytes, this.hooks);
    let loaded: Loaded<T>;
    if (!read.ok) loaded = { ok: false, problem: read.problem, stampKey: `!${read.problem.reason}:${read.problem.message}` };
    else {
      const parsed = this.parse(read.bytes, path);
      loaded = parsed.ok
        ? { ok: true, value: parsed.value, stampKey: read.stamp.key, mtimeMs: read.stamp.mtimeMs }
        : { ok: false, problem: parsed.problem, stampKey: read.stamp.key };
    }
    // A failed read is not cached: the next scrape tries again (the file may be mid-rename).
    if (read.ok) this.entries.set(path, { stampKey: read.stamp.key, loaded });
    return loaded;
  }

  endScrape(): void {
    for (const path of this.entries.keys()) if (!this.seen.has(path)) this.entries.delete(path);
    this.seen.clear();
  }
}

interface PairState {
  key: string;
  sourced: SourcedResult;
  problemMessage: string | null;
}

export interface StapleFileSourceOptions {
  /** Clock, Unix ms. Default `Date.now`. */
  now?: () => number;
  /** Told once each time a pair's problem appears or changes (never file content). */
  warn?: (fields: { file: string; certificate: string; reason: string }, message: string) => void;
  /** Called before each read of a file (tests count reads). */
  onRead?: (path: string) => void;
  maxFilesPerEntry?: number;
  /** Test hooks of the reader. */
  readHooks?: ReadHooks;
}

/** Reads one pair's files (through the caches) and judges them at `nowMs`. */
export interface PairJudge {
  judgePair(entry: StapleFileEntry, pair: StapleFilePair, module: ModuleConfig, nowMs: number, keepResponse?: boolean): { result: StapleFileResult; stampKey: string };
  endScrape(): void;
}

/** The file caches and the judging of a pair, shared by the source and `check --file`. */
export function createPairJudge(options: Pick<StapleFileSourceOptions, 'onRead' | 'readHooks'> = {}): PairJudge {
  const onRead = options.onRead ?? (() => {});
  const hooks = options.readHooks ?? {};
  const staples = new FileCache<Buffer>(MAX_STAPLE_FILE_BYTES, (bytes) => ({ ok: true, value: bytes }), onRead, hooks);
  const certificates = new FileCache<Uint8Array[]>(
    MAX_CERTIFICATE_FILE_BYTES,
    (bytes, path) => {
      const found = certificatesOf(bytes, path);
      // The bundle may hold the private key: its bytes do not outlive this call.
      bytes.fill(0);
      return found.ok ? { ok: true, value: found.certificates } : found;
    },
    onRead,
    hooks,
  );
  const prepared = new Map<string, PreparedPair>();
  const seenPairs = new Set<string>();
  return {
    judgePair(entry, pair, module, nowMs, keepResponse = false) {
      const staple = staples.load(pair.staple);
      const certificate = certificates.load(pair.certificate);
      const haproxyIssuer = pair.haproxyIssuer ? certificates.load(pair.haproxyIssuer) : null;
      const issuerFile = entry.issuer ? certificates.load(entry.issuer) : null;
      const stampKey = [staple.stampKey, certificate.stampKey, haproxyIssuer?.stampKey ?? '', issuerFile?.stampKey ?? ''].join('|');
      const id = `${pair.staple}\0${pair.certificate}\0${entry.issuer ?? ''}`;
      seenPairs.add(id);
      let ready = prepared.get(id);
      if (!ready || ready.stampKey !== stampKey || ready.module !== module || ready.entry !== entry) {
        ready = prepare(entry, pair, module, stampKey, staple, certificate, haproxyIssuer, issuerFile);
        prepared.set(id, ready);
      }
      // Only the verdict's time checks change while the files do not (verify.ts caches the rest).
      const judged = ready.stapleBytes && ready.leafDer ? judgeStaple(ready.stapleBytes, ready.leafDer, ready.issuerDer, module, nowMs, keepResponse) : null;
      return { result: { ...ready.base, staple: judged }, stampKey };
    },
    endScrape() {
      staples.endScrape();
      certificates.endScrape();
      for (const id of prepared.keys()) if (!seenPairs.has(id)) prepared.delete(id);
      seenPairs.clear();
    },
  };
}

/** A pair's files as last read: everything of its result but the staple's verdict, and what judging it takes. */
interface PreparedPair {
  stampKey: string;
  module: ModuleConfig;
  entry: StapleFileEntry;
  base: Omit<StapleFileResult, 'staple'>;
  stapleBytes: Buffer | null;
  leafDer: Uint8Array | null;
  issuerDer: Uint8Array | null;
}

function prepare(
  entry: StapleFileEntry,
  pair: StapleFilePair,
  module: ModuleConfig,
  stampKey: string,
  staple: Loaded<Buffer>,
  certificate: Loaded<Uint8Array[]>,
  haproxyIssuer: Loaded<Uint8Array[]> | null,
  issuerFile: Loaded<Uint8Array[]> | null,
): PreparedPair {
  const base: Omit<StapleFileResult, 'staple'> = {
    file: pair.staple,
    certificate: pair.certificate,
    labels: entry.labels,
    readable: false,
    problem: null,
    modifiedAtMs: staple.ok ? staple.mtimeMs : null,
    leaf: null,
    stapleMissing: false,
    issuerSource: null,
    rewriteWithin: entry.rewriteWithin,
  };
  let leafDer: Uint8Array | null = null;
  if (!certificate.ok) base.problem = certificate.problem;
  else {
    const facts = leafFacts(certificate.value[0]!, pair.certificate);
    if (facts.ok) {
      leafDer = certificate.value[0]!;
      base.leaf = facts.facts;
    } else base.problem = facts.problem;
  }
  // A missing `<bundle>.issuer` is the usual case; any other problem with it, or with `issuer:`, is the pair's.
  const issuerProblem = issuerFile && !issuerFile.ok ? issuerFile.problem : haproxyIssuer && !haproxyIssuer.ok && haproxyIssuer.problem.reason !== 'missing' ? haproxyIssuer.problem : null;
  base.problem ??= staple.ok ? issuerProblem : staple.problem;
  base.problem ??= issuerProblem;
  if (!staple.ok && staple.problem.reason === 'missing' && leafDer) base.stapleMissing = true;
  let issuerDer: Uint8Array | null = null;
  if (staple.ok && leafDer) {
    // The issuer is looked for even when `issuer:` is unreadable: the bundle may have it.
    const found = findFileIssuer(
      leafDer,
      {
        bundle: certificate.ok ? certificate.value.slice(1) : [],
        haproxyIssuer: haproxyIssuer?.ok ? haproxyIssuer.value : [],
        issuerFile: issuerFile?.ok ? issuerFile.value : [],
      },
      module,
    );
    issuerDer = found.issuerDer;
    base.issuerSource = found.source as FileIssuerSource | null;
  }
  base.readable = base.problem === null;
  return { stampKey, module, entry, base, stapleBytes: staple.ok && leafDer ? staple.value : null, leafDer, issuerDer };
}

/** What of a result decides its series besides the files' stamps: the time-dependent parts of the verdict. */
function verdictKey(result: StapleFileResult): string {
  const verdict = result.staple?.verdict;
  return verdict ? `${verdict.valid}:${verdict.problems.join(',')}` : '-';
}

/** The `staple_files` source for /metrics. */
export function createStapleFileSource(options: StapleFileSourceOptions = {}): ResultSource {
  const now = options.now ?? Date.now;
  const judge = createPairJudge(options);
  let states = new Map<string, PairState>();
  let lastConfig: Config | null = null;

  const sourcedFor = (key: string, result: StapleFileResult): SourcedResult => {
    const previous = states.get(`${result.file}\0${result.certificate}`);
    if (previous && previous.key === key) return previous.sourced;
    return { kind: 'staple_file', result };
  };

  const collectNow = async (config: Config): Promise<readonly SourcedResult[]> => {
    // A reload may change modules (trust store, skew): every result is handed out afresh.
    if (config !== lastConfig) states = new Map();
    lastConfig = config;
    const nowMs = now();
    const next = new Map<string, PairState>();
    const handedOut: SourcedResult[] = [];
    let judged = 0;
    const keep = (result: StapleFileResult, key: string): void => {
      const id = `${result.file}\0${result.certificate}`;
      if (next.has(id)) return; // two entries naming the same pair: the first one's labels
      const sourced = sourcedFor(key, result);
      const previous = states.get(id);
      const problemMessage = result.problem?.message ?? null;
      if (problemMessage !== null && problemMessage !== previous?.problemMessage) {
        options.warn?.({ file: result.file, certificate: result.certificate, reason: result.problem!.reason }, problemMessage);
      }
      next.set(id, { key, sourced, problemMessage });
      handedOut.push(sourced);
    };
    for (const entry of config.stapleFiles ?? []) {
      const module = moduleNamed(config, entry.module) ?? moduleNamed(config, 'default')!;
      const expansion = expandEntry(entry, options.maxFilesPerEntry);
      if (!expansion.ok) {
        const result: StapleFileResult = {
          file: expansion.staple,
          certificate: expansion.certificate,
          labels: entry.labels,
          readable: false,
          problem: expansion.problem,
          modifiedAtMs: null,
          leaf: null,
          staple: null,
          stapleMissing: false,
          issuerSource: null,
          rewriteWithin: entry.rewriteWithin,
        };
        keep(result, `!${expansion.problem.reason}:${expansion.problem.message}`);
        continue;
      }
      for (const pair of expansion.pairs) {
        // The file-system calls are synchronous: let the sweep's sockets be served now and then.
        if (++judged % YIELD_EVERY_PAIRS === 0) await new Promise((resolve) => setImmediate(resolve));
        const { result, stampKey } = judge.judgePair(entry, pair, module, nowMs);
        keep(result, `${stampKey}#${verdictKey(result)}`);
      }
    }
    judge.endScrape();
    states = next;
    return handedOut;
  };

  // One collection at a time (it yields to the event loop): a scrape arriving meanwhile waits and
  // then finds the files' stamps unchanged, instead of both sharing half-updated caches.
  let running: Promise<unknown> = Promise.resolve();
  return {
    collect(config) {
      const run = running.then(() => collectNow(config));
      running = run.catch(() => {});
      return run;
    },
  };
}
