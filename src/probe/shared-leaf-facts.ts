/**
 * Results from a worker arrive as copies. The facts of one leaf are the same for every address that
 * presents it (they derive from its DER alone, keyed by its SHA-256), and in-process results share
 * one frozen object per certificate (`certificateFacts`); this shares them again on arrival, so
 * 10,000 addresses behind a few certificates do not keep 10,000 copies (~1 KB of heap each). The
 * presented chain's summaries (record.ts) likewise.
 */
import { BoundedCache } from '../util/cache.js';
import type { CertificateFacts } from '../x509/types.js';
import type { PresentedCertificate, ProbeResult } from './types.js';

const sharedLeafFacts = new BoundedCache<string, CertificateFacts>(4096);
/**
 * The presented chain's summaries (the log's and the page's), shared the same way: by every field,
 * so two certificates differing in anything stay apart. ~340 bytes each otherwise, per address.
 */
const sharedPresented = new BoundedCache<string, PresentedCertificate>(4096, 8 * 1024 * 1024);

/** `results` with each leaf (and each presented certificate) replaced by the one shared, frozen object of its certificate. */
export function shareLeafFacts(results: ProbeResult[]): ProbeResult[] {
  for (const result of results) {
    if (result.presented) result.presented = result.presented.map(sharedSummary);
    const leaf = result.leaf;
    if (!leaf) continue;
    const known = sharedLeafFacts.get(leaf.fingerprintSha256);
    if (known) result.leaf = known;
    else sharedLeafFacts.set(leaf.fingerprintSha256, Object.freeze(leaf));
  }
  return results;
}

function sharedSummary(cert: PresentedCertificate): PresentedCertificate {
  const key = `${cert.subject}\u0000${cert.issuer}\u0000${cert.serial}\u0000${cert.notBefore}\u0000${cert.notAfter}`;
  const known = sharedPresented.get(key);
  if (known) return known;
  sharedPresented.set(key, Object.freeze(cert), 2 * key.length * 2);
  return cert;
}
