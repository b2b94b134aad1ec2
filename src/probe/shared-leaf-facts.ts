/**
 * Results from a worker arrive as copies. The facts of one leaf are the same for every address that
 * presents it (they derive from its DER alone, keyed by its SHA-256), and in-process results share
 * one frozen object per certificate (`certificateFacts`); this shares them again on arrival, so
 * 10,000 addresses behind a few certificates do not keep 10,000 copies (~1 KB of heap each).
 */
import { BoundedCache } from '../util/cache.js';
import type { CertificateFacts } from '../x509/types.js';
import type { ProbeResult } from './types.js';

const sharedLeafFacts = new BoundedCache<string, CertificateFacts>(4096);

/** `results` with each leaf replaced by the one shared, frozen object of its certificate. */
export function shareLeafFacts(results: ProbeResult[]): ProbeResult[] {
  for (const result of results) {
    const leaf = result.leaf;
    if (!leaf) continue;
    const known = sharedLeafFacts.get(leaf.fingerprintSha256);
    if (known) result.leaf = known;
    else sharedLeafFacts.set(leaf.fingerprintSha256, Object.freeze(leaf));
  }
  return results;
}
