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
type RenderedResult = Array<string | TimedLine | undefined>;

const rendered = new WeakMap<ProbeResult, RenderedResult>();

/** Collects one result's samples as text; the sink series.ts maps into. */
class ResultWriter implements SeriesSink {
  readonly lines: RenderedResult = new Array<string | TimedLine | undefined>(FAMILIES.length);

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
   * The lines, each family's text (and each timed line's prefix) now a slice of one flat string.
   * Concatenation leaves V8 "cons" strings (trees of the pieces), which cost more memory (~7 MB at
   * 10,000 results for the prefixes alone) and made every later join 4× slower; join() writes one
   * flat string, and slices of it share that memory.
   */
  finish(): RenderedResult {
    const texts: string[] = [];
    for (const entry of this.lines) if (entry !== undefined) texts.push(typeof entry === 'string' ? entry : entry.prefix);
    const whole = texts.join('');
    let offset = 0;
    for (let f = 0; f < this.lines.length; f++) {
      const entry = this.lines[f];
      if (entry === undefined) continue;
      const text = typeof entry === 'string' ? entry : entry.prefix;
      const slice = whole.slice(offset, offset + text.length);
      this.lines[f] = typeof entry === 'string' ? slice : { prefix: slice, valueAt: entry.valueAt };
      offset += text.length;
    }
    return this.lines;
  }
}

function indexOf(family: MetricFamily): number {
  const index = FAMILY_INDEX.get(family);
  if (index === undefined) throw new TypeError(`not a per-address family: ${family.name}`);
  return index;
}

function linesOf(result: ProbeResult): RenderedResult {
  let lines = rendered.get(result);
  if (!lines) {
    const writer = new ResultWriter(formatLabels(identityLabels(result)));
    mapProbeResult(result, writer);
    lines = writer.finish();
    rendered.set(result, lines);
  }
  return lines;
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
  const all = results.map(linesOf);
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
  const all = results.map(linesOf);
  const parts: string[] = [];
  for (let f = 0; f < FAMILIES.length; f++) writeFamily(f, all, nowMs, parts);
  return parts.join('');
}

/** Appends family `f` of every result to `parts`: its header, then its lines; nothing without lines. */
function writeFamily(f: number, all: readonly RenderedResult[], nowMs: number, parts: string[]): void {
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
