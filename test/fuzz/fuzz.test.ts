/**
 * The bounded, deterministic fuzz run of the suite (fixed PRNG seed, fixed seed corpus, fixed
 * input counts: ~25,000 inputs, a few seconds) and the replay of every saved regression input in
 * test/fuzz/corpus/<target>/. The long run is `npm run fuzz -- --seconds 600`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseOcspResponse, verifyOcspResponse } from '../../src/ocsp/index.js';
import { certificateFacts } from '../../src/x509/index.js';
import { fuzzTarget, nested, replay, Rng, TARGETS, type FuzzTarget } from './harness.js';
import { loadSeeds } from './seeds.js';

const seeds = loadSeeds();
const CORPUS_DIR = new URL('./corpus/', import.meta.url);
const ITERATIONS = 4000;
const SEED = 0x0c5f;

function savedInputs(target: FuzzTarget): { name: string; input: Uint8Array }[] {
  let names: string[];
  try {
    names = readdirSync(new URL(`${target.name}/`, CORPUS_DIR)).filter((n) => n.endsWith('.b64'));
  } catch {
    return [];
  }
  return names.sort().map((name) => ({
    name,
    input: new Uint8Array(Buffer.from(readFileSync(new URL(`${target.name}/${name}`, CORPUS_DIR), 'utf8').trim(), 'base64')),
  }));
}

describe('seed corpus', () => {
  it('every OCSP seed parses and verifies as made (so mutations start from real responses)', () => {
    const now = new Date(seeds.now);
    for (const [name, der] of Object.entries(seeds.ocsp)) {
      expect(() => parseOcspResponse(der), name).not.toThrow();
      const verdict = verifyOcspResponse(der, seeds.leaf, seeds.issuer, { now });
      if (name === 'tampered') expect(verdict.problems).toContain('bad_signature');
      else if (name === 'tryLater') expect(verdict.problems).toEqual(['not_successful']);
      else expect(verdict.valid, `${name}: ${verdict.problems.join()}`).toBe(true);
    }
    for (const [name, der] of Object.entries(seeds.certs)) expect(() => certificateFacts(der), name).not.toThrow();
  });
});

describe.each(TARGETS.map((t) => [t.name, t] as const))('fuzz %s', (_name, target) => {
  const iterations = target.suiteIterations ?? ITERATIONS;
  it(`${iterations} mutated and random inputs keep the contract, none slower than 1 s`, () => {
    const { stats, findings } = fuzzTarget(target, seeds, { seed: SEED, iterations, perInputLimitMs: 1000 });
    const first = findings[0];
    expect(
      first ? `${first.kind}: ${first.message}\ninput (base64): ${Buffer.from(first.input).toString('base64').slice(0, 2000)}` : null,
      'save the input under test/fuzz/corpus/<target>/ and fix the parser',
    ).toBeNull();
    expect(stats.executions).toBe(iterations);
  });

  it('saved regression inputs keep the contract', () => {
    for (const { name, input } of savedInputs(target)) {
      const t0 = performance.now();
      expect(replay(target, input, seeds), name).toBeNull();
      expect(performance.now() - t0, `${name} took too long`).toBeLessThan(1000);
    }
  });
});

describe('findings kept as regression tests', () => {
  it('a negative serial (a flipped top bit found by the fuzzer) reads as OpenSSL prints it', () => {
    const der = new Uint8Array(Buffer.from(readFileSync(new URL('certificateFacts/negative-serial.b64', CORPUS_DIR), 'utf8'), 'base64'));
    // `openssl x509 -inform DER -noout -serial` prints serial=-4F7BCB9996EEC55B29D53797DCE6C76A for this file.
    expect(certificateFacts(der).serialNumber).toBe('-4F7BCB9996EEC55B29D53797DCE6C76A');
  });
});

describe('the harness itself', () => {
  it('is deterministic for a seed', () => {
    const target = TARGETS[0]!;
    const a: string[] = [];
    const b: string[] = [];
    fuzzTarget(target, seeds, { seed: 5, iterations: 200, perInputLimitMs: 1000, beforeEach: (i) => a.push(Buffer.from(i).toString('base64')) });
    fuzzTarget(target, seeds, { seed: 5, iterations: 200, perInputLimitMs: 1000, beforeEach: (i) => b.push(Buffer.from(i).toString('base64')) });
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(150);
  });

  it('reports an escaping exception and a slow input as findings', () => {
    const throwing: FuzzTarget = { name: 't', corpus: () => [Uint8Array.of(1)], run: () => JSON.parse('{') as void };
    expect(fuzzTarget(throwing, seeds, { seed: 1, iterations: 5, perInputLimitMs: 1000 }).findings[0]?.kind).toBe('contract');
    const slow: FuzzTarget = {
      name: 's',
      corpus: () => [Uint8Array.of(1)],
      run: () => {
        const until = performance.now() + 30;
        while (performance.now() < until);
      },
    };
    expect(fuzzTarget(slow, seeds, { seed: 1, iterations: 5, perInputLimitMs: 10 }).findings[0]?.kind).toBe('slow');
  });

  it('builds deep nesting in linear time with correct lengths', () => {
    const deep = nested(12_000);
    expect(deep.length).toBeLessThan(65_536);
    expect(deep[0]).toBe(0x30);
    expect(() => parseOcspResponse(deep)).toThrow(expect.objectContaining({ code: 'ERR_OCSP_MALFORMED' }));
  });

  it('Rng is uniform enough to reach every mutator', () => {
    const rng = new Rng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(rng.int(16));
    expect(seen.size).toBe(16);
  });
});
