/**
 * What the sources besides the sweep (staple files on disk, responders checked on their own) hand
 * to /metrics: plain results tagged with their kind, which src/metrics/series.ts maps to series.
 * The writer keeps each handed-out object's text for as long as the object lives, so a source
 * hands out the same object again while nothing changed, and a new one when anything did.
 */
import type { Config } from '../config/schema.js';
import type { ResponderCheckResult } from './responder-check-result.js';
import type { StapleFileResult } from './staple-file-result.js';

export type SourcedResult =
  | { readonly kind: 'staple_file'; readonly result: StapleFileResult }
  | { readonly kind: 'responder_check'; readonly result: ResponderCheckResult };

/**
 * `collect` runs at each scrape alongside the sweep, within the same deadline (Unix ms; Infinity
 * without a scrape timeout), and never rejects: its failures are results of their own.
 */
export interface ResultSource {
  collect(config: Config, deadlineMs: number): Promise<readonly SourcedResult[]>;
}
