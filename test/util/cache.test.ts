import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/util/cache.js';

describe('BoundedCache', () => {
  it('evicts the least recently used entry past its entry capacity', () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
  });

  it('evicts by weight past its byte budget, and never keeps an entry larger than the budget', () => {
    const cache = new BoundedCache<string, string>(100, 1000);
    cache.set('a', 'x', 400);
    cache.set('b', 'y', 400);
    expect(cache.bytes).toBe(800);
    cache.set('c', 'z', 400);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.bytes).toBe(800);
    cache.set('huge', 'w', 1001);
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('replacing a key re-weighs it; clear forgets everything', () => {
    const cache = new BoundedCache<string, string>(10, 1000);
    cache.set('a', 'x', 900);
    cache.set('a', 'y', 100);
    expect(cache.bytes).toBe(100);
    cache.clear();
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
  });
});
