/**
 * The answer cache's rules with an injected clock: lifetime (nextUpdate capped by max age, short
 * for failures), single-flight, per-lookup max age, LRU bounds by entries and bytes.
 */
import { describe, expect, it } from 'vitest';
import { AnswerCache, answerExpiry, DEFAULT_FAILURE_TTL_MS, type Fetched } from '../../src/responder/index.js';

const HOUR = 3_600_000;

describe('answerExpiry', () => {
  it('serves a valid answer until nextUpdate, capped by the max age', () => {
    expect(answerExpiry({ fetchedAtMs: 1000, valid: true, nextUpdateMs: 1000 + 10 * 60_000, maxAgeMs: HOUR })).toBe(1000 + 10 * 60_000);
    expect(answerExpiry({ fetchedAtMs: 1000, valid: true, nextUpdateMs: 1000 + 24 * HOUR, maxAgeMs: HOUR })).toBe(1000 + HOUR);
    expect(answerExpiry({ fetchedAtMs: 1000, valid: true, nextUpdateMs: null, maxAgeMs: HOUR })).toBe(1000 + HOUR);
  });

  it('serves failures and invalid answers for the failure TTL only, never past the max age', () => {
    expect(answerExpiry({ fetchedAtMs: 0, valid: false, nextUpdateMs: 24 * HOUR, maxAgeMs: HOUR })).toBe(DEFAULT_FAILURE_TTL_MS);
    expect(answerExpiry({ fetchedAtMs: 0, valid: false, nextUpdateMs: null, maxAgeMs: 5000 })).toBe(5000);
    expect(answerExpiry({ fetchedAtMs: 0, valid: false, nextUpdateMs: null, maxAgeMs: HOUR, failureTtlMs: 1000 })).toBe(1000);
    expect(answerExpiry({ fetchedAtMs: 0, valid: true, nextUpdateMs: null, maxAgeMs: 0 })).toBe(0);
  });
});

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function fetched(value: string, at: number, lifetimeMs: number, sizeBytes = 10): () => Promise<Fetched<string>> {
  return async () => ({ value, fetchedAtMs: at, expiresAtMs: at + lifetimeMs, sizeBytes });
}

describe('AnswerCache', () => {
  it('answers from the cache until the entry expires, then fetches again', async () => {
    const c = clock();
    const cache = new AnswerCache<string>();
    const first = cache.lookup('k', HOUR, c.now(), fetched('a', c.now(), 60_000));
    expect(first.source).toBe('network');
    expect((await first.entry).value).toBe('a');
    c.advance(59_999);
    const hit = cache.lookup('k', HOUR, c.now(), fetched('b', c.now(), 60_000));
    expect(hit.source).toBe('cache');
    expect((await hit.entry).value).toBe('a');
    c.advance(1);
    const again = cache.lookup('k', HOUR, c.now(), fetched('b', c.now(), 60_000));
    expect(again.source).toBe('network');
    expect((await again.entry).value).toBe('b');
    expect(cache.stats()).toMatchObject({ hits: 1, fetches: 2, shared: 0, entries: 1 });
  });

  it('lets concurrent lookups of one key share a single fetch', async () => {
    const c = clock();
    const cache = new AnswerCache<string>();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const fetch = async (): Promise<Fetched<string>> => {
      calls++;
      await gate;
      return { value: 'one', fetchedAtMs: Date.now(), expiresAtMs: Date.now() + HOUR, sizeBytes: 1 };
    };
    const lookups = Array.from({ length: 50 }, () => cache.lookup('k', HOUR, c.now(), fetch));
    expect(lookups.map((l) => l.source)).toEqual(['network', ...Array(49).fill('shared')]);
    release();
    const values = await Promise.all(lookups.map((l) => l.entry.then((e) => e.value)));
    expect(new Set(values)).toEqual(new Set(['one']));
    expect(calls).toBe(1);
    expect(cache.lookup('k', HOUR, c.now(), fetch).source).toBe('cache');
    expect(cache.stats()).toMatchObject({ fetches: 1, shared: 49, hits: 1 });
  });

  it('passes a throwing fetch to every waiter, caches nothing and lets the next lookup fetch', async () => {
    const c = clock();
    const cache = new AnswerCache<string>();
    const fail = async (): Promise<Fetched<string>> => {
      throw new Error('boom');
    };
    const a = cache.lookup('k', HOUR, c.now(), fail);
    const b = cache.lookup('k', HOUR, c.now(), fail);
    await expect(a.entry).rejects.toThrow('boom');
    await expect(b.entry).rejects.toThrow('boom');
    expect(cache.lookup('k', HOUR, c.now(), fetched('ok', Date.now(), HOUR)).source).toBe('network');
  });

  it("honours a lookup's own, shorter max age", async () => {
    const c = clock();
    const cache = new AnswerCache<string>();
    await cache.lookup('k', HOUR, c.now(), fetched('a', c.now(), HOUR)).entry;
    c.advance(10 * 60_000);
    expect(cache.lookup('k', 5 * 60_000, c.now(), fetched('b', c.now(), HOUR)).source).toBe('network');
  });

  it('does not keep entries that are already expired (max age 0)', async () => {
    const c = clock();
    const cache = new AnswerCache<string>();
    await cache.lookup('k', 0, c.now(), fetched('a', c.now(), 0)).entry;
    expect(cache.stats().entries).toBe(0);
    expect(cache.lookup('k', 0, c.now(), fetched('a', c.now(), 0)).source).toBe('network');
  });

  it('evicts the least recently used entries beyond its entry and byte bounds', async () => {
    const c = clock();
    const cache = new AnswerCache<string>({ maxEntries: 3, maxBytes: 100 });
    for (const key of ['a', 'b', 'c']) await cache.lookup(key, HOUR, c.now(), fetched(key, c.now(), HOUR)).entry;
    expect(cache.lookup('a', HOUR, c.now(), fetched('x', c.now(), HOUR)).source).toBe('cache'); // a is now most recent
    await cache.lookup('d', HOUR, c.now(), fetched('d', c.now(), HOUR)).entry; // evicts b
    expect(cache.fresh('b', HOUR, c.now())).toBeNull();
    expect(cache.fresh('a', HOUR, c.now())?.value).toBe('a');
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: 30, evictions: 1 });

    await cache.lookup('big', HOUR, c.now(), fetched('big', c.now(), HOUR, 80)).entry; // 110 bytes > 100: drop LRU until it fits
    expect(cache.stats().bytes).toBeLessThanOrEqual(100);
    expect(cache.fresh('big', HOUR, c.now())?.value).toBe('big');
    await cache.lookup('huge', HOUR, c.now(), fetched('huge', c.now(), HOUR, 101)).entry; // larger than the bound: not kept
    expect(cache.fresh('huge', HOUR, c.now())).toBeNull();
    expect(cache.fresh('big', HOUR, c.now())?.value).toBe('big');
  });
});
