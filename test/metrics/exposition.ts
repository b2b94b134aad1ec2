/**
 * A small parser for the Prometheus text exposition format (version 0.0.4), so tests assert exact
 * values of exact series instead of matching substrings.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** `# TYPE` per family. */
  types: Map<string, string>;
  /** `# HELP` per family. */
  helps: Map<string, string>;
}

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  // prom-client writes "Nan"; Prometheus parses NaN case-insensitively (Go's ParseFloat).
  if (text.toLowerCase() === 'nan') return NaN;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw new Error(`bad sample value "${text}"`);
  return value;
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const space = rest.indexOf(' ');
      helps.set(rest.slice(0, space), rest.slice(space + 1));
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \S+)?$/.exec(line);
    if (!match) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[3] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let m: RegExpExecArray | null;
    let consumed = 0;
    while ((m = labelPattern.exec(body)) !== null) {
      labels[m[1]!] = unescapeLabel(m[2]!);
      consumed = labelPattern.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`unparseable labels in line: ${line}`);
    samples.push({ name: match[1]!, labels, value: parseValue(match[4]!) });
  }
  return { samples, types, helps };
}

/** Samples of `name` whose labels include all of `labels`. */
export function find(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample of `name` matching `labels`; throws when there are none or several. */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = find(exposition, name, labels);
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  }
  return found[0]!.value;
}

/** Names of all families with at least one sample. */
export function familyNames(exposition: Exposition): Set<string> {
  return new Set(exposition.samples.map((s) => s.name));
}
