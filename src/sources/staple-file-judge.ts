/**
 * Judging a staple file against its certificate with the same verifier as a probed staple
 * (ocsp/verify.ts): the leaf is the first certificate of the certificate file (or HAProxy bundle),
 * its issuer the first that really issued it (name and signature, `findIssuer`) among, in order,
 * the bundle's other certificates, HAProxy's `<bundle>.issuer`, the entry's `issuer:` file and the
 * module's trust store (`ca_file`, else the system's), as a probe finds it in the presented chain
 * and then the trust anchors.
 *
 * A bundle may hold the private key: its certificates come from certificates.ts, which looks at
 * `CERTIFICATE` blocks only, and the caller zeroes the file's bytes afterwards.
 */
import { certificateFacts, findIssuer } from '../x509/certificate.js';
import { trustAnchorsOf } from '../probe/trust.js';
import { stapleEnd, verifyOcspResponse } from '../ocsp/verify.js';
import { stapleVerdictOf } from '../probe/types.js';
import type { ModuleConfig } from '../config/schema.js';
import { messageOf } from '../util/errors.js';
import type { FileProblem } from '../files/read.js';
import type { FileIssuerSource, StapleFileResult, StapleFileStaple } from './staple-file-result.js';

export interface IssuerCandidates {
  /** The certificate file's certificates after the leaf. */
  bundle: readonly Uint8Array[];
  /** HAProxy's `<bundle>.issuer`, when there is one. */
  haproxyIssuer: readonly Uint8Array[];
  /** The entry's `issuer:` file. */
  issuerFile: readonly Uint8Array[];
}

/** The leaf's issuer and where it came from; null when none of the candidates issued it. */
export function findFileIssuer(leafDer: Uint8Array, candidates: IssuerCandidates, module: ModuleConfig): { issuerDer: Uint8Array | null; source: FileIssuerSource | null } {
  const inBundle = findIssuer(leafDer, [...candidates.bundle, ...candidates.haproxyIssuer]);
  if (inBundle) return { issuerDer: inBundle, source: 'bundle' };
  const fromFile = findIssuer(leafDer, candidates.issuerFile);
  if (fromFile) return { issuerDer: fromFile, source: 'issuer_file' };
  const trust = trustAnchorsOf(module);
  const anchored = findIssuer(leafDer, trust.anchors);
  return anchored ? { issuerDer: anchored, source: trust.source } : { issuerDer: null, source: null };
}

/** The leaf's facts, or the problem that it is not a readable certificate. */
export function leafFacts(leafDer: Uint8Array, path: string): { ok: true; facts: ReturnType<typeof certificateFacts> } | { ok: false; problem: FileProblem } {
  try {
    return { ok: true, facts: certificateFacts(leafDer) };
  } catch (error) {
    return { ok: false, problem: { reason: 'bad_certificate', message: `${path}: ${messageOf(error)}` } };
  }
}

/** The staple's bytes judged at `nowMs` as a probe judges what a server stapled; empty bytes → no staple. */
export function judgeStaple(
  stapleBytes: Uint8Array,
  leafDer: Uint8Array,
  issuerDer: Uint8Array | null,
  module: ModuleConfig,
  nowMs: number,
  keepResponse = false,
): StapleFileStaple {
  if (stapleBytes.length === 0) return { present: false, sizeBytes: 0, verdict: null };
  const verdict = verifyOcspResponse(stapleBytes, leafDer, issuerDer, { now: new Date(nowMs), clockSkewSeconds: module.clockSkewSeconds });
  const staple: StapleFileStaple = { present: true, sizeBytes: stapleBytes.length, verdict: stapleVerdictOf(verdict) };
  if (keepResponse) staple.response = verdict.response;
  return staple;
}

/**
 * When the refresh job should have rewritten the staple file by (Unix ms): its mtime plus
 * `rewriteWithin` times the staple's usable window (thisUpdate to the earlier of nextUpdate and
 * the delegated signer's notAfter, `stapleEnd`); null without a parsed staple with an end.
 */
export function rewriteDeadlineMs(result: Pick<StapleFileResult, 'modifiedAtMs' | 'staple' | 'rewriteWithin'>): number | null {
  const verdict = result.staple?.verdict;
  const end = verdict ? stapleEnd(verdict) : null;
  if (!verdict?.single || !end || result.modifiedAtMs === null) return null;
  const windowMs = new Date(end).getTime() - new Date(verdict.single.thisUpdate).getTime();
  return result.modifiedAtMs + result.rewriteWithin * windowMs;
}
