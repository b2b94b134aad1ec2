/**
 * The answer cache in front of OCSP responders, so a thousand servers sharing one certificate cost
 * the CA one request per answer lifetime, not one per probe. Entries are keyed by responder URL and
 * CertID (issuer key hash, serial); a good answer lives until its nextUpdate (RFC 5019 §6: clients
 * may cache until then), capped by the module's `responder_cache_max_age` so a revocation shows
 * within that time; a failure or an invalid answer lives briefly (30 s), so a down responder is not
 * hammered by every probe. Concurrent lookups of a key with no fresh entry share one request
 * (single-flight). The cache is bounded by entry count and by bytes, least recently used first
 * (util/cache.ts).
 * Time is passed in with every lookup (no clock inside); the lifetime rule is the pure function
 * {@link answerExpiry}.
 */
import { BoundedCache } from '../util/cache.js';

/** How long a failed exchange or an invalid answer is remembered, ms (capped by the max age). */
export const DEFAULT_FAILURE_TTL_MS = 30_000;
export const DEFAULT_CACHE_MAX_ENTRIES = 4096;
/** Real answers are 0.3–3 KiB; 16 MiB holds thousands while bounding a hostile responder's padding. */
export const DEFAULT_CACHE_MAX_BYTES = 16 * 1024 * 1024;

export interface ExpiryInput {
  fetchedAtMs: number;
  /** A verified answer (verifyOcspResponse valid) at fetch time. */
  valid: boolean;
  /** nextUpdate of the verified answer, Unix ms; null when it has none (RFC 6960 §4.2.2.1). */
  nextUpdateMs: number | null;
  maxAgeMs: number;
  failureTtlMs?: number;
}

/**
 * When an answer stops being served from the cache: a valid one at min(nextUpdate, fetched + max
 * age) — no nextUpdate means "newer information is always available", so only the max age bounds
 * it — and anything else after the failure TTL (never longer than the max age).
 */
export function answerExpiry(input: ExpiryInput): number {
  const maxAgeMs = Math.max(0, input.maxAgeMs);
  if (!input.valid) return input.fetchedAtMs + Math.min(input.failureTtlMs ?? DEFAULT_FAILURE_TTL_MS, maxAgeMs);
  const capped = input.fetchedAtMs + maxAgeMs;
  return input.nextUpdateMs === null ? capped : Math.min(capped, input.nextUpdateMs);
}

export interface CacheEntry<V> {
  value: V;
  fetchedAtMs: number;
  expiresAtMs: number;
  /** Counted against the byte bound. */
  sizeBytes: number;
}

export interface AnswerCacheOptions {
  maxEntries?: number;
  maxBytes?: number;
}

export interface AnswerCacheStats {
  entries: number;
  bytes: number;
  /** Lookups answered by a fresh entry. */
  hits: number;
  /** Lookups that joined a request already in flight. */
  shared: number;
  /** Requests made (lookups that found nothing fresh and nothing in flight). */
  fetches: number;
  evictions: number;
}

export interface Lookup<V> {
  entry: CacheEntry<V>;
  source: 'network' | 'cache' | 'shared';
}

/** What a fetch produced and how long it may be served. */
export interface Fetched<V> {
  value: V;
  fetchedAtMs: number;
  expiresAtMs: number;
  sizeBytes: number;
}

export class AnswerCache<V> {
  private readonly entries: BoundedCache<string, CacheEntry<V>>;
  private readonly inflight = new Map<string, Promise<CacheEntry<V>>>();
  private counts = { hits: 0, shared: 0, fetches: 0 };

  constructor(options: AnswerCacheOptions = {}) {
    this.entries = new BoundedCache(Math.max(1, options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES), Math.max(1, options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES));
  }

  /**
   * The entry for `key` fresh at `nowMs` (younger than `maxAgeMs` and before its expiry), else the
   * request in flight for it, else a new request made with `fetch` (which should not throw; if it
   * does, the error reaches every waiter and nothing is cached).
   */
  lookup(
    key: string,
    maxAgeMs: number,
    nowMs: number,
    fetch: () => Promise<Fetched<V>>,
  ): { source: Lookup<V>['source']; entry: Promise<CacheEntry<V>> } {
    const fresh = this.fresh(key, maxAgeMs, nowMs);
    if (fresh) {
      this.counts.hits++;
      return { source: 'cache', entry: Promise.resolve(fresh) };
    }
    const pending = this.inflight.get(key);
    if (pending) {
      this.counts.shared++;
      return { source: 'shared', entry: pending };
    }
    this.counts.fetches++;
    const request = fetch()
      .then((fetched) => {
        const entry: CacheEntry<V> = {
          value: fetched.value,
          fetchedAtMs: fetched.fetchedAtMs,
          expiresAtMs: fetched.expiresAtMs,
          sizeBytes: fetched.sizeBytes,
        };
        this.store(key, entry);
        return entry;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, request);
    return { source: 'network', entry: request };
  }

  /** The entry for `key` if still servable at `nowMs` under `maxAgeMs`; drops it when expired. */
  fresh(key: string, maxAgeMs: number, nowMs: number): CacheEntry<V> | null {
    const entry = this.entries.peek(key);
    if (!entry) return null;
    if (nowMs >= entry.expiresAtMs) {
      this.entries.delete(key);
      return null;
    }
    // Another module may allow a shorter age than the one that stored the entry.
    if (nowMs - entry.fetchedAtMs >= maxAgeMs) return null;
    this.entries.get(key); // marks it most recently used
    return entry;
  }

  stats(): AnswerCacheStats {
    return { entries: this.entries.size, bytes: this.entries.bytes, ...this.counts, evictions: this.entries.evictions };
  }

  clear(): void {
    this.entries.clear();
    this.counts = { hits: 0, shared: 0, fetches: 0 };
  }

  private store(key: string, entry: CacheEntry<V>): void {
    if (entry.expiresAtMs <= entry.fetchedAtMs) {
      this.entries.delete(key);
      return;
    }
    this.entries.set(key, entry, entry.sizeBytes);
  }
}
