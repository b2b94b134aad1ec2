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
import { PROBE_METRICS, RESPONDER_CHECK_METRICS, STAPLE_FILE_METRICS, type MetricFamily } from './names.js';
import { identityLabels, mapProbeResult, mapSourcedResult, sourcedIdentity, type SeriesSink } from './series.js';
import type { ProbeResult } from '../probe/types.js';
import type { SourcedResult } from '../sources/types.js';

const FAMILIES: readonly MetricFamily[] = [PROBE_METRICS, STAPLE_FILE_METRICS, RESPONDER_CHECK_METRICS].flatMap((group: Record<string, MetricFamily>) => Object.values(group));
const FAMILY_INDEX: ReadonlyMap<MetricFamily, number> = new Map(FAMILIES.map((family, i) => [family, i]));
const HEADERS: readonly string[] = FAMILIES.map((family) => familyHeader(family));
/** Chunks of about this many characters stay below V8's large-object size, so they die young and cheaply. */
const CHUNK_CHARS = 64 * 1024;

/** A sample whose value is computed at each scrape: its `name{labels} ` and how to get the value. */
interface TimedLine {
  readonly prefix: string;
  readonly valueAt: (nowMs: number) => number;
}

/**
 * One result's text, kept as compactly as it can be read back: every family's lines (a timed
 * line's prefix only) in one flat string, in family order, and where each family starts. A slice
 * per family, as kept before, cost 32 bytes of heap each, ~8 MB at 10,000 results; slicing at each
 * scrape makes short-lived strings instead, which die young.
 */
interface RenderedResult {
  readonly text: string;
  /** Family f is `text.slice(offsets[f], offsets[f + 1])`; absent when that is empty. */
  readonly offsets: readonly number[];
  /** Timed lines' clocks as [family index, valueAt] pairs, flat; few (three at most today). */
  readonly clocks: ReadonlyArray<number | ((nowMs: number) => number)> | null;
}

const rendered = new WeakMap<ProbeResult | SourcedResult, RenderedResult>();

/** Collects one result's samples as text; the sink series.ts maps into. */
class ResultWriter implements SeriesSink {
  private readonly lines = new Array<string | TimedLine | undefined>(FAMILIES.length);

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
   * The text as one flat string. Concatenation leaves V8 "cons" strings (trees of the pieces), which
   * cost more memory and made every later join 4× slower; join() writes one flat string.
   */
  finish(): RenderedResult {
    const texts: string[] = [];
    const offsets: number[] = [0];
    let clocks: Array<number | ((nowMs: number) => number)> | null = null;
    let length = 0;
    for (let f = 0; f < this.lines.length; f++) {
      const entry = this.lines[f];
      if (typeof entry === 'string') {
        texts.push(entry);
        length += entry.length;
      } else if (entry !== undefined) {
        texts.push(entry.prefix);
        length += entry.prefix.length;
        (clocks ??= []).push(f, entry.valueAt);
      }
      offsets.push(length);
    }
    return { text: texts.join(''), offsets, clocks };
  }
}

/** The clock of family `f`'s timed line in `result`, if that family is a timed one there. */
function clockOf(result: RenderedResult, f: number): ((nowMs: number) => number) | undefined {
  const clocks = result.clocks;
  if (clocks === null) return undefined;
  for (let i = 0; i < clocks.length; i += 2) if (clocks[i] === f) return clocks[i + 1] as (nowMs: number) => number;
  return undefined;
}

function indexOf(family: MetricFamily): number {
  const index = FAMILY_INDEX.get(family);
  if (index === undefined) throw new TypeError(`not a family of names.ts: ${family.name}`);
  return index;
}

function renderedOf(result: ProbeResult): RenderedResult {
  let entry = rendered.get(result);
  if (!entry) {
    const writer = new ResultWriter(formatLabels(identityLabels(result)));
    mapProbeResult(result, writer);
    entry = writer.finish();
    rendered.set(result, entry);
  }
  return entry;
}

function renderedSourcedOf(sourced: SourcedResult): RenderedResult {
  let entry = rendered.get(sourced);
  if (!entry) {
    const writer = new ResultWriter(formatLabels(sourcedIdentity(sourced)));
    mapSourcedResult(sourced, writer);
    entry = writer.finish();
    rendered.set(sourced, entry);
  }
  return entry;
}

/**
 * The exposition text of the per-address families for `results`, judged at `nowMs` (Unix ms, the
 * scrape time), then those of `sourced` (staple files, responder checks) in the same family
 * blocks, in chunks of about 64 K characters (a family may span several); nothing for no
 * results. Results not written before are written now, before the first chunk, so a failure is
 * thrown here and not halfway through a response. `results` must be treated as immutable once
 * rendered: a result object is written once and its text reused for as long as the object lives.
 * Streaming the chunks keeps the whole text (32 MB at 10,000 addresses) from being held at once,
 * as a string and again encoded.
 */
export function probeMetricsChunks(results: readonly ProbeResult[], nowMs: number, sourced: readonly SourcedResult[] = []): Iterable<string> {
  const all = [...results.map(renderedOf), ...sourced.map(renderedSourcedOf)];
  return (function* chunks() {
    let parts: string[] = [];
    let length = 0;
    for (let f = 0; f < FAMILIES.length; f++) {
      let opened = false;
      for (const result of all) {
        if (result.offsets[f] === result.offsets[f + 1]) continue;
        if (!opened) {
          parts.push(HEADERS[f]!);
          opened = true;
        }
        length += appendFamily(result, f, nowMs, parts);
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
export function renderProbeMetrics(results: readonly ProbeResult[], nowMs: number, sourced: readonly SourcedResult[] = []): string {
  return [...probeMetricsChunks(results, nowMs, sourced)].join('');
}

/** Appends the lines of family `f` of `result` (which has some) to `parts`; returns about how many characters. */
function appendFamily(result: RenderedResult, f: number, nowMs: number, parts: string[]): number {
  const start = result.offsets[f]!;
  const end = result.offsets[f + 1]!;
  const text = result.text.slice(start, end);
  const clock = clockOf(result, f);
  if (clock === undefined) {
    parts.push(text);
    return end - start;
  }
  parts.push(text, formatValue(clock(nowMs)), '\n');
  return end - start + 24;
}
