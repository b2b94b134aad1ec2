/**
 * Reads a Dockerfile into stages and instructions (comments dropped, `\` continuations joined,
 * exec-form JSON arrays decoded), enough to check its shape and to replay its COPY and RUN steps
 * without a Docker engine.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
  line: number;
}

export interface Stage {
  /** `AS name`, or `#<index>` when unnamed. */
  name: string;
  image: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  text: string;
  /** Instructions before the first FROM (global ARGs). */
  preamble: Instruction[];
  stages: Stage[];
}

export function readDockerfile(file: URL | string): Dockerfile {
  const text = readFileSync(file, 'utf8');
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | null = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === null && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending !== null && line.trimStart().startsWith('#')) return; // comments inside continuations
    const continued = line.endsWith('\\');
    const part = continued ? line.slice(0, -1) : line;
    pending = pending ? { text: `${pending.text} ${part.trim()}`, line: pending.line } : { text: part.trim(), line: index + 1 };
    if (!continued) {
      const match = /^(\S+)\s*(.*)$/.exec(pending.text)!;
      instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: pending.line });
      pending = null;
    }
  });
  const preamble: Instruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(/\s+/);
      stages.push({ name: as?.toUpperCase() === 'AS' && name ? name : `#${stages.length}`, image, instructions: [] });
    } else if (stages.length === 0) preamble.push(instruction);
    else stages[stages.length - 1]!.instructions.push(instruction);
  }
  return { text, preamble, stages };
}

/** `["a", "b"]` → ['a', 'b']; null when the instruction is in shell form. */
export function execForm(args: string): string[] | null {
  const trimmed = args.trim();
  if (!trimmed.startsWith('[')) return null;
  const parsed = JSON.parse(trimmed) as unknown;
  return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? (parsed as string[]) : null;
}

/** `KEY=value KEY2="v w"` (LABEL, ENV) → pairs. */
export function keyValues(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  }
  return out;
}
