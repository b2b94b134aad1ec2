/**
 * What the exporter learned about one staple file and its certificate at one scrape: plain data,
 * mapped to series by src/metrics/series.ts (`mapSourcedResult`) and printed by `check --file`.
 */
import type { ParsedOcspResponse } from '../ocsp/types.js';
import type { StapleVerdict } from '../probe/types.js';
import type { CertificateFacts } from '../x509/types.js';
import type { FileProblem } from '../files/read.js';

/** Where the issuer used to judge the staple came from. */
export type FileIssuerSource = 'bundle' | 'issuer_file' | 'ca_file' | 'system';

export interface StapleFileStaple {
  /** False for an empty file: no staple (HAProxy serves none for it). */
  present: boolean;
  sizeBytes: number;
  /** Null when absent. */
  verdict: StapleVerdict | null;
  /** The parsed response, only when asked for (`check --file`). */
  response?: ParsedOcspResponse | null;
}

export interface StapleFileResult {
  /** The staple file, absolute (a pattern for an entry-level problem). */
  file: string;
  /** The certificate (or bundle) file, absolute (a pattern for an entry-level problem). */
  certificate: string;
  labels: Readonly<Record<string, string>>;
  /** Both files read and the certificate parsed. */
  readable: boolean;
  /** The first problem found; null when readable. */
  problem: FileProblem | null;
  /** mtime of the staple file, Unix ms; null when it could not be stat'ed. */
  modifiedAtMs: number | null;
  /** The leaf (first certificate); null when the certificate file could not be read or parsed. */
  leaf: CertificateFacts | null;
  /** Null when the staple file could not be read, or the certificate not (nothing to judge it against). */
  staple: StapleFileStaple | null;
  /** Whether the staple file is missing while the certificate was read: the server has no staple. */
  stapleMissing: boolean;
  issuerSource: FileIssuerSource | null;
  /** From the entry: share of the usable window within which the file must be rewritten. */
  rewriteWithin: number;
}
