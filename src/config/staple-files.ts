/**
 * The `staple_files` section: staple files on disk paired with their certificates (HAProxy's
 * `<crt>.ocsp` beside each bundle, explicit staple/certificate pairs for nginx, lighttpd, Exim).
 */
import type { Walker } from './walker.js';

/** One configured entry of `staple_files`. */
export interface StapleFileEntry {
  /** Placeholder until the section is implemented. */
  readonly path: string;
}

/** Parses the `staple_files` list; problems are reported on `w`. */
export function parseStapleFiles(w: Walker, node: unknown, keyNode: unknown): StapleFileEntry[] {
  void w;
  void node;
  void keyNode;
  return [];
}
