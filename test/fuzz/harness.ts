/**
 * A black-box fuzzer for the OCSP core's parsers: seeded mutations of valid DER (bit flips, length
 * and tag rewrites, truncation, splicing, deep nesting, broken times and OIDs) and random bytes,
 * fed to each entry point with its contract checked. A finding is an input whose call threw
 * something other than the documented error class, returned something malformed (an invalid Date,
 * unsorted problems, a "valid" verdict with problems), or took longer than the per-input limit.
 * Deterministic for a given PRNG seed and seed corpus, so any finding replays exactly and becomes
 * a regression fixture in test/fuzz/corpus/<target>/.
 */
import { OcspParseError } from '../../src/ocsp/errors.js';
import { CertificateParseError } from '../../src/x509/errors.js';
import { decodeOcspResponseInput, parseOcspResponse, verifyOcspResponse } from '../../src/ocsp/index.js';
import { certificateFacts, decodeCertificatesInput } from '../../src/x509/index.js';
import type { OcspProblem } from '../../src/ocsp/types.js';
import type { FuzzSeeds } from './seeds.js';
import { TLS_TARGETS } from './tls-targets.js';

/** mulberry32: small, fast, good enough to pick mutations; same seed → same sequence. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x88, 0x89, 0xff, 0x30, 0xa0, 0x1f, 0x05, 0x06];

/** Offsets where a plausible TLV header starts (a tag followed by a readable length). */
function tlvOffsets(input: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let i = 0; i + 1 < input.length && offsets.length < 512; i++) {
    const tag = input[i]!;
    if ([0x02, 0x03, 0x04, 0x05, 0x06, 0x0a, 0x13, 0x0c, 0x17, 0x18, 0x30, 0x31].includes(tag) || (tag & 0xe0) === 0xa0) offsets.push(i);
  }
  return offsets;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** DER length octets for n. */
function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** `depth` SEQUENCEs wrapped around `inner` (correct lengths: deep, not broken). */
export function nested(depth: number, inner: Uint8Array = Uint8Array.of(0x05, 0x00), tag = 0x30): Uint8Array {
  // Headers from the inside out, then written outside-in once: linear, not quadratic.
  const headers: Uint8Array[] = [];
  let size = inner.length;
  for (let i = 0; i < depth; i++) {
    const header = concat(Uint8Array.of(tag), derLength(size));
    headers.push(header);
    size += header.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = headers.length - 1; i >= 0; i--) {
    out.set(headers[i]!, at);
    at += headers[i]!.length;
  }
  out.set(inner, at);
  return out;
}

type Mutator = (input: Uint8Array, rng: Rng, others: Uint8Array[]) => Uint8Array;

const TIME_JUNK = ['99991231235960Z', '20240230000000Z', '00000000000000Z', '2024', '20240101000000+0100', '20240101000000.123456789Z', 'ZZZZZZZZZZZZZZZ', '991231235959Z', '500101000000Z', '\u0000\u0000\u0000'];

export const MUTATORS: Record<string, Mutator> = {
  flipBit(input, rng) {
    if (input.length === 0) return input;
    const out = input.slice();
    const i = rng.int(out.length);
    out[i]! ^= 1 << rng.int(8);
    return out;
  },
  setByte(input, rng) {
    if (input.length === 0) return Uint8Array.of(rng.pick(INTERESTING_BYTES));
    const out = input.slice();
    out[rng.int(out.length)] = rng.next() < 0.5 ? rng.pick(INTERESTING_BYTES) : rng.int(256);
    return out;
  },
  insertBytes(input, rng) {
    const at = rng.int(input.length + 1);
    return concat(input.subarray(0, at), rng.bytes(1 + rng.int(8)), input.subarray(at));
  },
  deleteRange(input, rng) {
    if (input.length < 2) return input;
    const at = rng.int(input.length);
    const n = 1 + rng.int(Math.min(64, input.length - at));
    return concat(input.subarray(0, at), input.subarray(at + n));
  },
  duplicateRange(input, rng) {
    if (input.length < 2) return input;
    const from = rng.int(input.length);
    const n = 1 + rng.int(Math.min(256, input.length - from));
    const at = rng.int(input.length + 1);
    return concat(input.subarray(0, at), input.subarray(from, from + n), input.subarray(at));
  },
  truncate(input, rng) {
    return input.subarray(0, rng.int(input.length + 1));
  },
  splice(input, rng, others) {
    const other = rng.pick(others);
    return concat(input.subarray(0, rng.int(input.length + 1)), other.subarray(rng.int(other.length + 1)));
  },
  rewriteLength(input, rng) {
    const offsets = tlvOffsets(input);
    if (offsets.length === 0) return input;
    const at = rng.pick(offsets) + 1;
    const choice = rng.int(7);
    const replacement =
      choice === 0 ? Uint8Array.of(0x80) // indefinite (BER, not DER)
      : choice === 1 ? Uint8Array.of(0x84, 0xff, 0xff, 0xff, 0xff)
      : choice === 2 ? Uint8Array.of(0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0)
      : choice === 3 ? Uint8Array.of(0x00)
      : choice === 4 ? Uint8Array.of(0x81, 0x05) // non-minimal
      : choice === 5 ? Uint8Array.of(((input[at] ?? 0) + 1) & 0x7f)
      : Uint8Array.of(((input[at] ?? 1) - 1) & 0x7f);
    const oldLen = (input[at] ?? 0) & 0x80 ? 1 + ((input[at] ?? 0) & 0x7f) : 1;
    return concat(input.subarray(0, at), replacement, input.subarray(Math.min(input.length, at + oldLen)));
  },
  rewriteTag(input, rng) {
    const offsets = tlvOffsets(input);
    if (offsets.length === 0) return input;
    const at = rng.pick(offsets);
    const out = input.slice();
    out[at] = rng.pick([0x1f, 0x3f, 0xbf, 0x00, 0x30, 0x31, 0xa0, 0xa1, 0xa2, 0x80, 0x04, 0x24, 0x02, 0x18, 0x17, rng.int(256)]);
    return out;
  },
  nestDeep(input, rng) {
    const depth = rng.pick([64, 1000, 5000, 12000]);
    if (rng.next() < 0.5) return nested(depth, input.length > 0 ? input : undefined, rng.pick([0x30, 0xa0, 0x31]));
    // Indefinite-length nesting, never closed.
    const out = new Uint8Array(depth * 2);
    for (let i = 0; i < depth; i++) out.set([0x30, 0x80], i * 2);
    return concat(input.subarray(0, rng.int(input.length + 1)), out);
  },
  breakTime(input, rng) {
    const offsets: number[] = [];
    for (let i = 0; i + 2 < input.length; i++) if ((input[i] === 0x18 && input[i + 1] === 0x0f) || (input[i] === 0x17 && input[i + 1] === 0x0d)) offsets.push(i);
    if (offsets.length === 0) return input;
    const at = rng.pick(offsets);
    const oldLen = input[at + 1]!;
    const junk = new Uint8Array(Buffer.from(rng.pick(TIME_JUNK), 'latin1'));
    return concat(input.subarray(0, at + 1), derLength(junk.length), junk, input.subarray(at + 2 + oldLen));
  },
  breakOid(input, rng) {
    const offsets: number[] = [];
    for (let i = 0; i + 2 < input.length; i++) if (input[i] === 0x06 && input[i + 1]! < 0x40) offsets.push(i);
    if (offsets.length === 0) return input;
    const at = rng.pick(offsets);
    const oldLen = input[at + 1]!;
    const junk = rng.pick([Uint8Array.of(), Uint8Array.of(0x80), new Uint8Array(40).fill(0xff), Uint8Array.of(0x2b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), rng.bytes(1 + rng.int(12))]);
    return concat(input.subarray(0, at + 1), derLength(junk.length), junk, input.subarray(at + 2 + oldLen));
  },
  hugeInteger(input, rng) {
    const offsets: number[] = [];
    for (let i = 0; i + 2 < input.length; i++) if (input[i] === 0x02 && input[i + 1]! < 0x80) offsets.push(i);
    if (offsets.length === 0) return input;
    const at = rng.pick(offsets);
    const oldLen = input[at + 1]!;
    const junk = rng.pick([Uint8Array.of(), new Uint8Array(300).fill(0x7f), Uint8Array.of(0x00, 0x00, 0x01), Uint8Array.of(0xff), Uint8Array.of(0x80, 0, 0, 0, 0, 0, 0, 0, 0)]);
    return concat(input.subarray(0, at + 1), derLength(junk.length), junk, input.subarray(at + 2 + oldLen));
  },
  random(_input, rng) {
    const size = rng.pick([0, 1, 2, 16, 200, 2000, rng.int(70_000)]);
    const out = rng.bytes(size);
    if (size > 0 && rng.next() < 0.5) out[0] = 0x30;
    return out;
  },
};

const MUTATOR_NAMES = Object.keys(MUTATORS);

/** 1–4 stacked mutations of a random corpus entry (mostly one, so most inputs stay nearly valid). */
export function mutate(corpus: Uint8Array[], rng: Rng): Uint8Array {
  let input = rng.pick(corpus);
  const rounds = rng.next() < 0.6 ? 1 : 2 + rng.int(3);
  for (let i = 0; i < rounds; i++) input = MUTATORS[rng.pick(MUTATOR_NAMES)]!(input, rng, corpus);
  return input;
}

// ---------------------------------------------------------------------------------------------
// Targets and their contracts.

export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}

/** Every Date reachable from `value` is a real instant; no BigInt or cycles (JSON-safe). */
function checkPlainData(value: unknown, where: string, depth = 0): void {
  if (depth > 64) throw new ContractViolation(`${where}: nested deeper than 64`);
  if (value instanceof Date) {
    if (!Number.isFinite(value.getTime())) throw new ContractViolation(`${where}: Invalid Date`);
    return;
  }
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') throw new ContractViolation(`${where}: ${typeof value}`);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new ContractViolation(`${where}: non-finite number`);
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) checkPlainData(child, `${where}.${key}`, depth + 1);
}

const OCSP_CODES = new Set(['ERR_OCSP_TOO_LARGE', 'ERR_OCSP_EMPTY', 'ERR_OCSP_MALFORMED', 'ERR_OCSP_UNSUPPORTED']);
const CERT_CODES = new Set(['ERR_CERT_MALFORMED', 'ERR_CERT_TOO_LARGE']);

function expectOnly(error: unknown, cls: typeof OcspParseError | typeof CertificateParseError, codes: Set<string>): void {
  if (!(error instanceof cls)) {
    const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new ContractViolation(`escaped ${what} (only ${cls.name} is allowed)`);
  }
  if (!codes.has(error.code)) throw new ContractViolation(`${cls.name} with unknown code ${error.code}`);
}

const ADVISORY: OcspProblem[] = ['no_next_update'];

export interface FuzzTarget {
  name: string;
  /** Inputs to mutate, from the seeds. */
  corpus(seeds: FuzzSeeds): Uint8Array[];
  /** Inputs in the suite's bounded run (fuzz.test.ts) when fewer than its default: a whole TLS handshake per input costs milliseconds. */
  suiteIterations?: number;
  /** Runs the target on `input`; throws ContractViolation when its contract is broken. */
  run(input: Uint8Array, seeds: FuzzSeeds, rng: Rng): void;
}

export const TARGETS: FuzzTarget[] = [
  {
    name: 'parseOcspResponse',
    corpus: (s) => Object.values(s.ocsp),
    run(input) {
      let parsed;
      try {
        parsed = parseOcspResponse(input);
      } catch (error) {
        expectOnly(error, OcspParseError, OCSP_CODES);
        return;
      }
      checkPlainData(parsed, 'response');
      if (parsed.size !== input.length) throw new ContractViolation(`size ${parsed.size} != input length ${input.length}`);
      if (parsed.responseStatus === 'successful' && parsed.responseType === '1.3.6.1.5.5.7.48.1.1' && !parsed.basic) {
        throw new ContractViolation('successful basic response without basic info');
      }
    },
  },
  {
    name: 'verifyOcspResponse',
    corpus: (s) => Object.values(s.ocsp),
    run(input, seeds, rng) {
      // Mostly the response is mutated; sometimes the leaf or issuer instead (or are absent).
      const roll = rng.next();
      const leaf = roll < 0.05 ? null : roll < 0.1 ? MUTATORS.flipBit!(seeds.leaf, rng, []) : seeds.leaf;
      const issuer = roll > 0.95 ? null : roll > 0.9 ? MUTATORS.truncate!(seeds.issuer, rng, []) : seeds.issuer;
      let verdict;
      try {
        verdict = verifyOcspResponse(input, leaf, issuer, { now: new Date(seeds.now) });
      } catch (error) {
        throw new ContractViolation(`threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} (must never throw)`);
      }
      checkPlainData(verdict, 'verdict');
      const sorted = [...new Set(verdict.problems)].sort();
      if (sorted.join() !== verdict.problems.join()) throw new ContractViolation(`problems not sorted and unique: ${verdict.problems.join()}`);
      if (verdict.valid && verdict.problems.some((p) => !ADVISORY.includes(p))) throw new ContractViolation(`valid with problems ${verdict.problems.join()}`);
      if (verdict.valid && (verdict.signatureValid !== true || verdict.certIdMatchesLeaf !== true)) throw new ContractViolation('valid without a verified signature and CertID');
      if (verdict.response === null && !verdict.problems.includes('unparseable')) throw new ContractViolation('no response but not unparseable');
    },
  },
  {
    name: 'certificateFacts',
    corpus: (s) => Object.values(s.certs),
    run(input) {
      let facts;
      try {
        facts = certificateFacts(input);
      } catch (error) {
        expectOnly(error, CertificateParseError, CERT_CODES);
        return;
      }
      checkPlainData(facts, 'facts');
      if (!/^[0-9a-f]{64}$/.test(facts.fingerprintSha256)) throw new ContractViolation(`bad fingerprint ${facts.fingerprintSha256}`);
      if (!/^-?[0-9A-F]+$/.test(facts.serialNumber)) throw new ContractViolation(`bad serial ${facts.serialNumber}`);
    },
  },
  {
    name: 'decodeOcspResponseInput',
    corpus: (s) => [...Object.values(s.ocsp), s.text.ocspPem!, s.text.ocspBase64!],
    run(input) {
      let der;
      try {
        der = decodeOcspResponseInput(input);
      } catch (error) {
        expectOnly(error, OcspParseError, OCSP_CODES);
        return;
      }
      if (!(der instanceof Uint8Array) || der.length === 0) throw new ContractViolation('decoded to no bytes');
    },
  },
  {
    name: 'decodeCertificatesInput',
    corpus: (s) => [...Object.values(s.certs), s.text.chainPem!, s.text.certAndKeyPem!, s.text.concatenatedDer!],
    run(input) {
      let certs;
      try {
        certs = decodeCertificatesInput(input);
      } catch (error) {
        expectOnly(error, CertificateParseError, CERT_CODES);
        return;
      }
      if (!Array.isArray(certs) || certs.length === 0 || certs.some((c) => !(c instanceof Uint8Array) || c.length === 0)) {
        throw new ContractViolation('decoded to no certificates');
      }
    },
  },
  // The native TLS client's record layer and handshake parsers (tls-targets.ts).
  ...TLS_TARGETS,
];

export interface Finding {
  target: string;
  kind: 'contract' | 'slow';
  message: string;
  input: Uint8Array;
}

export interface FuzzStats {
  target: string;
  executions: number;
  seconds: number;
  /** Slowest single input, ms. */
  slowestMs: number;
}

export interface FuzzOptions {
  seed: number;
  /** Stop after this many inputs (deterministic runs). */
  iterations?: number;
  /** Or after this long, ms. */
  durationMs?: number;
  /** An input slower than this is a finding (a hang in the making), ms. */
  perInputLimitMs: number;
  /** Stop at the first finding; default true. */
  stopOnFinding?: boolean;
  /** Called before each input (the out-of-process watchdog records the current input). */
  beforeEach?: (input: Uint8Array) => void;
}

/** Fuzzes one target; returns its stats and findings. Never throws for a finding. */
export function fuzzTarget(target: FuzzTarget, seeds: FuzzSeeds, options: FuzzOptions): { stats: FuzzStats; findings: Finding[] } {
  const rng = new Rng(options.seed);
  const corpus = target.corpus(seeds);
  const findings: Finding[] = [];
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs;
  const maxIterations = options.iterations ?? Infinity;
  let executions = 0;
  let slowestMs = 0;
  while (executions < maxIterations && (executions & 63 || performance.now() < deadline)) {
    const input = mutate(corpus, rng);
    options.beforeEach?.(input);
    const t0 = performance.now();
    let violation: string | null = null;
    try {
      target.run(input, seeds, rng);
    } catch (error) {
      violation = error instanceof ContractViolation ? error.message : `harness: ${error instanceof Error ? error.stack : String(error)}`;
    }
    const ms = performance.now() - t0;
    executions++;
    if (ms > slowestMs) slowestMs = ms;
    if (violation !== null) findings.push({ target: target.name, kind: 'contract', message: violation, input });
    else if (ms > options.perInputLimitMs) findings.push({ target: target.name, kind: 'slow', message: `took ${ms.toFixed(0)} ms (limit ${options.perInputLimitMs} ms)`, input });
    if (findings.length > 0 && (options.stopOnFinding ?? true)) break;
  }
  return { stats: { target: target.name, executions, seconds: (performance.now() - started) / 1000, slowestMs }, findings };
}

/** Replays one saved input against its target's contract: null when it holds, else the violation. */
export function replay(target: FuzzTarget, input: Uint8Array, seeds: FuzzSeeds): string | null {
  try {
    target.run(input, seeds, new Rng(1));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
