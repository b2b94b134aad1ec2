/**
 * The `responder_checks` section: certificates whose OCSP responder the exporter asks directly at
 * scrape time, without a TLS server in between.
 */
import type { Walker } from './walker.js';

/** One configured entry of `responder_checks`. */
export interface ResponderCheckEntry {
  /** Placeholder until the section is implemented. */
  readonly certificate: string;
}

/** Parses the `responder_checks` list; problems are reported on `w`. */
export function parseResponderChecks(w: Walker, node: unknown, keyNode: unknown, modules: Record<string, unknown>): ResponderCheckEntry[] {
  void w;
  void node;
  void keyNode;
  void modules;
  return [];
}
