/**
 * What one responder check (config `responder_checks`) found at one scrape: plain data, mapped to
 * series by src/metrics/series.ts (`mapSourcedResult`) and printed by `check --responder-check`.
 */
import type { FileProblem } from '../files/read.js';
import type { FileIssuerSource } from './staple-file-result.js';
import type { ResponderResult } from '../responder/types.js';
import type { CertificateFacts } from '../x509/types.js';
import type { CertificateFileReason } from './responder-check-files.js';

export interface ResponderCheckResult {
  /** The certificate file's path (for a glob that matched nothing or too much, the pattern): the `certificate` label. */
  readonly certificate: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly module: string;
  /** Why the certificate (or issuer) file could not be used; null when it could. */
  readonly problem: (Omit<FileProblem, 'reason'> & { readonly reason: CertificateFileReason }) | null;
  /** The checked certificate's facts; null when unreadable. */
  readonly leaf: CertificateFacts | null;
  /** Where its issuer came from; null when not found (the responder is then not asked: issuer_unknown). */
  readonly issuerSource: FileIssuerSource | null;
  /** The responder's answer and its verdict; null when the certificate could not be read. */
  readonly responder: ResponderResult | null;
  /** When the check started, Unix ms. */
  readonly checkedAtMs: number;
}
