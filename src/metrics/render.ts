/**
 * Probe results → the text of their per-address families, written directly instead of through
 * prom-client gauges (which cost ~2 s and ~1.5 GB of allocations per scrape at 10,000 targets).
 * Results are plain data that the sweeper reuses, unchanged, while they are younger than
 * `global.min_probe_interval`, so each result's lines are written once and kept in a `WeakMap` keyed
 * by the result object (gone with the result); a scrape then costs only the few lines whose value
 * moves with the clock (a staple's age, time to nextUpdate, staleness) and joining the rest. Families come
 * in the order of names.ts, each with one `# HELP`/`# TYPE` block and all its samples together, as
 * the format requires; a family without samples is left out. Which series a result has, and their
 * values, is decided in series.ts alone.
 */
import { escapeLabelValue, familyHeader, formatLabels, formatValue } from './exposition.js';
import { PROBE_METRICS, type MetricFamily } from './names.js';
import { identityLabels, mapProbeResult, type SeriesSink } from './series.js';
import type { ProbeResult } from '../probe/types.js';

const FAMILIES: readonly MetricFamily[] = Object.values(PROBE_METRICS);
const FAMILY_INDEX: ReadonlyMap<MetricFamily, number> = new Map(FAMILIES.map((family, i) => [family, i]));
const HEADERS: readonly string[] = FAMILIES.map((family) => familyHeader(family));
/** Chunks of about this many characters stay below V8's large-object size, so they die young and cheaply. */
const CHUNK_CHARS = 64 * 1024;

/** A sample whose value is computed at each scrape: its `name{labels} ` and how to get the value. */
interface TimedLine {
  readonly prefix: string;
  readonly valueAt: (nowMs: number) => number;
}

/** One result's lines, by family index: finished text, a time-dependent line, or nothing. */
type Lines = Array<string | TimedLine | undefined>;

interface RenderedResult {
  readonly lines: Lines;
  /**
   * The text of every family but the per-probe ones, timed lines' prefixes included, as one flat
   * string: each of those lines is a slice of it. What a later result of the same address compares.
   */
  readonly steady: string;
}

/**
 * Families whose value is new with every probe: its duration and start time, the responder's
 * duration and fetch time. Their text is kept apart from the rest, so a result that differs from the
 * one it replaces only in these takes over that result's text for everything else.
 */
const PER_PROBE: ReadonlySet<number> = new Set(
  [PROBE_METRICS.probeDuration, PROBE_METRICS.probeTimestamp, PROBE_METRICS.responderDuration, PROBE_METRICS.responderFetchTimestamp].map(
    (family) => FAMILIES.indexOf(family),
  ),
);

const rendered = new WeakMap<ProbeResult, RenderedResult>();

/** Collects one result's samples as text; the sink series.ts maps into. */
class ResultWriter implements SeriesSink {
  readonly lines: Lines = new Array<string | TimedLine | undefined>(FAMILIES.length);

  /** The result's identity labels (never none: target, address, module), escaped once for all its samples. */
  constructor(private readonly identity: string) {}

  sample(family: MetricFamily, value: number, labelValues?: readonly string[]): void {
    let line = `${family.name}{${this.identity}`;
    if (labelValues) {
      for (let i = 0; i < family.labels.length; i++) line += `,${family.labels[i]}="${escapeLabelValue(labelValues[i] ?? '')}"`;
    }
    line += `} ${formatValue(value)}\n`;
    const index = indexOf(family);
    const before = this.lines[index];
    this.lines[index] = typeof before === 'string' ? before + line : line;
  }

  sampleAt(family: MetricFamily, valueAt: (nowMs: number) => number): void {
    this.lines[indexOf(family)] = { prefix: `${family.name}{${this.identity}} `, valueAt };
  }

  /**
   * The lines, each family's text (and each timed line's prefix) now a slice of a flat string: one
   * for the per-probe families, one for the rest. Concatenation leaves V8 "cons" strings (trees of
   * the pieces), which cost more memory (~7 MB at 10,000 results for the prefixes alone) and made
   * every later join 4× slower; join() writes one flat string, and slices of it share that memory.
   * When `previous` (the result this one replaces) had the same text outside the per-probe
   * families, its slices are taken over and the new text is dropped young: a sweep that finds the
   * fleet as it was keeps only the per-probe lines and the result objects of its own, not another
   * 32 MB of text at 10,000 addresses.
   */
  finish(previous: RenderedResult | undefined): RenderedResult {
    const steadyTexts: string[] = [];
    const perProbeTexts: string[] = [];
    for (let f = 0; f < this.lines.length; f++) {
      const entry = this.lines[f];
      if (entry !== undefined) (PER_PROBE.has(f) ? perProbeTexts : steadyTexts).push(typeof entry === 'string' ? entry : entry.prefix);
    }
    const steadyText = steadyTexts.join('');
    const same = previous !== undefined && previous.steady === steadyText && this.sameLayout(previous.lines);
    const steady = same ? previous.steady : steadyText;
    const perProbe = perProbeTexts.join('');
    let steadyOffset = 0;
    let perProbeOffset = 0;
    for (let f = 0; f < this.lines.length; f++) {
      const entry = this.lines[f];
      if (entry === undefined) continue;
      if (same && !PER_PROBE.has(f)) {
        // Timed lines too: what their clock functions read (thisUpdate, nextUpdate) is in the text compared.
        this.lines[f] = previous.lines[f];
        continue;
      }
      const text = typeof entry === 'string' ? entry : entry.prefix;
      let slice: string;
      if (PER_PROBE.has(f)) {
        slice = perProbe.slice(perProbeOffset, perProbeOffset + text.length);
        perProbeOffset += text.length;
      } else {
        slice = steady.slice(steadyOffset, steadyOffset + text.length);
        steadyOffset += text.length;
      }
      this.lines[f] = typeof entry === 'string' ? slice : { prefix: slice, valueAt: entry.valueAt };
    }
    return { lines: this.lines, steady };
  }

  /** Whether `other` has the same kind of entry, of the same length, in every family outside the per-probe ones. */
  private sameLayout(other: Lines): boolean {
    for (let f = 0; f < this.lines.length; f++) {
      if (PER_PROBE.has(f)) continue;
      const mine = this.lines[f];
      const theirs = other[f];
      if (mine === undefined || theirs === undefined) {
        if (mine !== theirs) return false;
      } else if (typeof mine === 'string') {
        if (typeof theirs !== 'string' || theirs.length !== mine.length) return false;
      } else if (typeof theirs === 'string' || theirs.prefix.length !== mine.prefix.length) {
        return false;
      }
    }
    return true;
  }
}

function indexOf(family: MetricFamily): number {
  const index = FAMILY_INDEX.get(family);
  if (index === undefined) throw new TypeError(`not a per-address family: ${family.name}`);
  return index;
}

function linesOf(result: ProbeResult, previous?: ProbeResult): Lines {
  let entry = rendered.get(result);
  if (!entry) {
    const writer = new ResultWriter(formatLabels(identityLabels(result)));
    mapProbeResult(result, writer);
    entry = writer.finish(previous && rendered.get(previous));
    rendered.set(result, entry);
  }
  return entry.lines;
}

/**
 * Writes the lines of freshly measured `results` now, as each probe finishes, rather than at the
 * end of the sweep: `replaced` are the results they replace (same target and module), whose text is
 * taken over per address where only the per-probe values changed. The sweeper lets the replaced
 * results go right after (src/scheduler/sweep.ts), so this is their last chance to be compared.
 */
export function writeProbeMetrics(results: readonly ProbeResult[], replaced: readonly ProbeResult[]): void {
  for (const result of results) linesOf(result, replaced.find((old) => old.address === result.address));
}

/**
 * The exposition text of the per-address families for `results`, judged at `nowMs` (Unix ms, the
 * scrape time), in chunks of about 64 K characters (a family may span several); nothing for no
 * results. Results not written before are written now, before the first chunk, so a failure is
 * thrown here and not halfway through a response. `results` must be treated as immutable once
 * rendered: a result object is written once and its text reused for as long as the object lives.
 * Streaming the chunks keeps the whole text (32 MB at 10,000 addresses) from being held at once,
 * as a string and again encoded.
 */
export function probeMetricsChunks(results: readonly ProbeResult[], nowMs: number): Iterable<string> {
  const all = results.map((result) => linesOf(result));
  return (function* chunks() {
    let parts: string[] = [];
    let length = 0;
    for (let f = 0; f < FAMILIES.length; f++) {
      let opened = false;
      for (const lines of all) {
        const entry = lines[f];
        if (entry === undefined) continue;
        if (!opened) {
          parts.push(HEADERS[f]!);
          opened = true;
        }
        if (typeof entry === 'string') {
          parts.push(entry);
          length += entry.length;
        } else {
          parts.push(entry.prefix, formatValue(entry.valueAt(nowMs)), '\n');
          length += entry.prefix.length + 24;
        }
        if (length >= CHUNK_CHARS) {
          yield parts.join('');
          parts = [];
          length = 0;
        }
      }
    }
    if (parts.length > 0) yield parts.join('');
  })();
}

/** The same text as `probeMetricsChunks`, as one string; empty for no results. */
export function renderProbeMetrics(results: readonly ProbeResult[], nowMs: number): string {
  const all = results.map((result) => linesOf(result));
  const parts: string[] = [];
  for (let f = 0; f < FAMILIES.length; f++) writeFamily(f, all, nowMs, parts);
  return parts.join('');
}

/** Appends family `f` of every result to `parts`: its header, then its lines; nothing without lines. */
function writeFamily(f: number, all: readonly Lines[], nowMs: number, parts: string[]): void {
  let opened = false;
  for (const lines of all) {
    const entry = lines[f];
    if (entry === undefined) continue;
    if (!opened) {
      parts.push(HEADERS[f]!);
      opened = true;
    }
    if (typeof entry === 'string') parts.push(entry);
    else parts.push(entry.prefix, formatValue(entry.valueAt(nowMs)), '\n');
  }
}
