/**
 * The one bounded least-recently-used map. Every cache of the exporter (parsed certificates, issuer
 * checks, time-independent verdict parts, presented chains, responder answers, verified
 * credentials) is one of these, so a daemon probing thousands of targets, or fed a stream of
 * distinct staples, keeps a fixed memory ceiling. Bounded twice: by
 * entries, and by the bytes the entries hold as their owners estimate them, because a hostile
 * server can send a fresh 60 KB staple or certificate on every handshake (an entry bound alone
 * let ~300 MiB accumulate; test/hardening/cache-bounds.test.ts).
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, { value: V; bytes: number }>();
  private totalBytes = 0;
  private evicted = 0;

  constructor(
    readonly capacity: number,
    readonly maxBytes = Infinity,
  ) {}

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry !== undefined) {
      // Re-insert to mark as most recently used (Map iterates in insertion order).
      this.map.delete(key);
      this.map.set(key, entry);
    }
    return entry?.value;
  }

  /** The value without marking it used. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** `bytes`: what keeping `value` costs, roughly; entries larger than the whole budget are not kept. */
  set(key: K, value: V, bytes = 0): void {
    this.delete(key);
    if (bytes > this.maxBytes) return;
    this.map.set(key, { value, bytes });
    this.totalBytes += bytes;
    while (this.map.size > this.capacity || this.totalBytes > this.maxBytes) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
      this.evicted++;
    }
  }

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Entries dropped to stay within the bounds (not those deleted or replaced). */
  get evictions(): number {
    return this.evicted;
  }

  /** Least recently used first. */
  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  clear(): void {
    this.map.clear();
    this.totalBytes = 0;
    this.evicted = 0;
  }

  delete(key: K): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.totalBytes -= entry.bytes;
    this.map.delete(key);
  }
}
