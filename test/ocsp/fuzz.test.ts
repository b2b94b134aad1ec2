/**
 * Property tests: thousands of random byte strings, and single-byte, single-bit and truncation
 * mutations of real openssl-made responses. parseOcspResponse may throw only OcspParseError,
 * verifyOcspResponse never throws, each input finishes quickly, and a mutated response is never
 * judged valid unless the mutation left the signed bytes and the signature intact.
 * Deterministic: a seeded PRNG, so a failure names a reproducible input.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspParseError } from '../../src/ocsp/errors.js';
import { parseOcspResponse } from '../../src/ocsp/parse.js';
import type { OcspVerdict } from '../../src/ocsp/types.js';
import { verifyOcspResponse } from '../../src/ocsp/verify.js';
import { createOpensslPki, opensslOcspResponse, responseLayout, type OpensslPki } from '../helpers/openssl.js';

let dir: string;
let pki: OpensslPki;
let samples: Uint8Array[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ocsp-fuzz-'));
  pki = await createOpensslPki(dir);
  const base = { dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.responder, ndays: 1 };
  samples = await Promise.all([
    opensslOcspResponse(base),
    opensslOcspResponse({ ...base, signer: pki.intermediate, respKeyId: true, noCerts: true, certIdHash: 'sha256' }),
    opensslOcspResponse({ ...base, signer: pki.responderRsa, rsigopt: ['rsa_padding_mode:pss'], certs: [pki.leafRsa, pki.leafEc],
      index: [{ serial: pki.leafEc.serial, status: 'revoked', reason: 'keyCompromise' }], nonce: true }),
  ]);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** mulberry32: small, seeded, good enough for test inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const now = new Date();
/** A typical input takes microseconds; the bound only catches hangs and blow-ups (shared, loaded CI machines pause for GC and scheduling). */
const SLOWEST_ALLOWED_MS = 1000;
let slowest = 0;

function check(input: Uint8Array, label: string): OcspVerdict {
  const t0 = performance.now();
  try {
    parseOcspResponse(input);
  } catch (error) {
    if (!(error instanceof OcspParseError)) throw new Error(`${label}: parse threw ${String(error)}`);
    expect(error.code, label).toMatch(/^ERR_OCSP_(TOO_LARGE|EMPTY|MALFORMED|UNSUPPORTED)$/);
  }
  let verdict: OcspVerdict;
  try {
    verdict = verifyOcspResponse(input, pki.leafEc.der, pki.intermediate.der, { now });
  } catch (error) {
    throw new Error(`${label}: verify threw ${String(error)}`);
  }
  expect(verdict.valid, label).toBe(verdict.problems.every((p) => p === 'no_next_update'));
  slowest = Math.max(slowest, performance.now() - t0);
  return verdict;
}

describe('fuzz', () => {
  it('3000 random byte strings, some with an OCSP-like prefix', () => {
    const random = prng(1);
    for (let i = 0; i < 3000; i++) {
      const length = Math.floor(random() * (i % 10 === 0 ? 5000 : 300));
      const bytes = new Uint8Array(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(random() * 256);
      if (i % 3 === 0 && length > 4) bytes.set([0x30, 0x82, (length - 4) >> 8, (length - 4) & 0xff].slice(0, length));
      check(bytes, `random #${i}`);
    }
    expect(slowest).toBeLessThan(SLOWEST_ALLOWED_MS);
  });

  it('every single-byte change (random value) and truncation of real responses', () => {
    const random = prng(2);
    for (const [s, der] of samples.entries()) {
      const { tbs, signature } = responseLayout(der);
      for (let at = 0; at < der.length; at++) {
        const mutated = der.slice();
        mutated[at] = (mutated[at]! + 1 + Math.floor(random() * 255)) & 0xff;
        const v = check(mutated, `sample ${s} byte ${at}`);
        // A change inside the signed data or the signature can never leave a valid verdict.
        if ((at >= tbs.start && at < tbs.end) || (at >= signature.start && at < signature.end)) {
          expect(v.valid, `sample ${s} byte ${at}`).toBe(false);
        }
        check(der.subarray(0, at), `sample ${s} truncated to ${at}`);
      }
    }
    expect(slowest).toBeLessThan(SLOWEST_ALLOWED_MS);
  });

  it('1000 random single-bit flips and insertions', () => {
    const random = prng(3);
    for (let i = 0; i < 1000; i++) {
      const der = samples[i % samples.length]!;
      const at = Math.floor(random() * der.length);
      const flipped = der.slice();
      flipped[at] = flipped[at]! ^ (1 << Math.floor(random() * 8));
      check(flipped, `flip #${i} at ${at}`);
      const inserted = new Uint8Array(der.length + 1);
      inserted.set(der.subarray(0, at));
      inserted[at] = Math.floor(random() * 256);
      inserted.set(der.subarray(at), at + 1);
      check(inserted, `insert #${i} at ${at}`);
    }
    expect(slowest).toBeLessThan(SLOWEST_ALLOWED_MS);
  });
});
