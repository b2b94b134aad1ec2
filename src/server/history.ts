/**
 * The recent probes, sweeps' and `/probe`'s, each with its result and therefore its log
 * (src/probe/log.ts), for the status page. Kept as blackbox_exporter's prober/history.go keeps
 * them: the last `limit` probes, and beside them up to `limit` failed ones that have left that
 * list, so the last failures stay readable while a busy sweep of healthy targets scrolls by.
 *
 * Memory is bounded twice: by count (at most 2 × `limit` entries), and by an estimate of each
 * entry's size (its log, presented chain and error text counted by length), at most `maxBytes`
 * in all (default {@link HISTORY_MAX_BYTES}); past it the oldest entries go first, healthy ones
 * before failed ones. A flood of probes with huge logs therefore cannot grow the heap past that.
 */
import type { ProbeResult } from '../probe/types.js';

export interface HistoryEntry {
  /** Increasing from 1, never reused while the process runs. */
  id: number;
  source: 'sweep' | 'probe';
  /** Unix ms when the result was recorded. */
  atMs: number;
  result: ProbeResult;
}

/** The default bound on the estimated size of every entry together. */
export const HISTORY_MAX_BYTES = 32 * 1024 * 1024;

/** A result's fixed part on the heap (measured ~2.6 KB with a leaf; rounded up). */
const ENTRY_OVERHEAD_BYTES = 4096;
/** An object and its fields, besides its strings' characters. */
const OBJECT_OVERHEAD_BYTES = 64;

/** The estimated heap size of an entry: the fixed part, plus what grows with what the server sent. */
export function estimatedEntryBytes(result: ProbeResult): number {
  // Two bytes a character: V8 keeps non-Latin-1 strings as UTF-16, and a hostile subject can be.
  let bytes = ENTRY_OVERHEAD_BYTES + 2 * (result.error?.length ?? 0);
  for (const line of result.log ?? []) bytes += OBJECT_OVERHEAD_BYTES + 2 * line.text.length;
  for (const cert of result.presented ?? []) {
    bytes += OBJECT_OVERHEAD_BYTES + 2 * (cert.subject.length + cert.issuer.length + cert.serial.length + cert.notBefore.length + cert.notAfter.length);
  }
  return bytes;
}

/**
 * Whether a result is a failure worth keeping longer: the probe failed, or the staple is anything
 * but present, valid and good where one is expected (the leaf names a responder or demands one).
 */
export function isFailure(result: ProbeResult): boolean {
  if (!result.success) return true;
  const staple = result.staple;
  if (staple?.present) return !(staple.verdict?.valid === true && staple.verdict.single?.certStatus === 'good');
  return (result.leaf?.ocspUrls.length ?? 0) > 0 || result.leaf?.mustStaple === true;
}

interface Kept {
  entry: HistoryEntry;
  bytes: number;
  failed: boolean;
}

export class ProbeHistory {
  readonly limit: number;
  readonly maxBytes: number;
  private nextId = 1;
  /** The last `limit` entries, oldest first. */
  private recent: Kept[] = [];
  /** Failed entries that have left `recent`, oldest first, at most `limit`. */
  private failedKept: Kept[] = [];
  private byId = new Map<number, Kept>();
  private bytes = 0;

  /** `limit` 0 keeps nothing. */
  constructor(limit: number, maxBytes: number = HISTORY_MAX_BYTES) {
    if (!Number.isInteger(limit) || limit < 0) throw new TypeError(`history limit must be a non-negative integer, got ${limit}`);
    if (!(maxBytes > 0)) throw new TypeError(`history maxBytes must be positive, got ${maxBytes}`);
    this.limit = limit;
    this.maxBytes = maxBytes;
  }

  record(source: 'sweep' | 'probe', result: ProbeResult, atMs: number): void {
    if (this.limit === 0) return;
    const kept: Kept = { entry: { id: this.nextId++, source, atMs, result }, bytes: estimatedEntryBytes(result), failed: isFailure(result) };
    this.recent.push(kept);
    this.byId.set(kept.entry.id, kept);
    this.bytes += kept.bytes;
    while (this.recent.length > this.limit) {
      const leaving = this.recent.shift()!;
      if (leaving.failed) {
        this.failedKept.push(leaving);
        if (this.failedKept.length > this.limit) this.forget(this.failedKept.shift()!);
      } else {
        this.forget(leaving);
      }
    }
    while (this.bytes > this.maxBytes && this.byId.size > 1) this.evictOne();
  }

  /** Every entry kept, newest first. */
  list(): readonly HistoryEntry[] {
    // Both lists are in id order; merged newest first.
    const out: HistoryEntry[] = [];
    let r = this.recent.length - 1;
    let f = this.failedKept.length - 1;
    while (r >= 0 || f >= 0) {
      const takeRecent = f < 0 || (r >= 0 && this.recent[r]!.entry.id > this.failedKept[f]!.entry.id);
      out.push(takeRecent ? this.recent[r--]!.entry : this.failedKept[f--]!.entry);
    }
    return out;
  }

  get(id: number): HistoryEntry | undefined {
    return this.byId.get(id)?.entry;
  }

  /** The estimated bytes of every entry kept (see {@link estimatedEntryBytes}). */
  get estimatedBytes(): number {
    return this.bytes;
  }

  /** Over the byte bound: the oldest healthy recent entry, else the oldest kept failure, else the oldest recent one. */
  private evictOne(): void {
    const healthy = this.recent.findIndex((kept) => !kept.failed);
    if (healthy >= 0 && healthy < this.recent.length - 1) this.forget(this.recent.splice(healthy, 1)[0]!);
    else if (this.failedKept.length > 0) this.forget(this.failedKept.shift()!);
    else this.forget(this.recent.shift()!);
  }

  private forget(kept: Kept): void {
    this.byId.delete(kept.entry.id);
    this.bytes -= kept.bytes;
  }
}
