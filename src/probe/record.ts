/**
 * What a probe records for its log while it runs (log.ts renders it): a few timed steps, and the
 * presented chain as plain text facts. Kept small on purpose: every probe records them, results
 * cross worker threads and 10,000 of them stay on the main thread, so the log holds only what the
 * result does not (times, local addresses, the staple's first bytes).
 */
import { certificateFacts } from '../x509/certificate.js';
import type { CertificateFacts } from '../x509/types.js';
import { messageOf } from '../util/errors.js';
import type { ProbeLogLine } from './log.js';
import type { PresentedCertificate } from './types.js';

/** Steps a probe records at most; a probe records about eight. */
export const MAX_RECORDED_STEPS = 32;
/** Characters a recorded step keeps at most (a proxy URL or an address is far shorter). */
export const MAX_STEP_CHARS = 1024;
/** How many of the staple's first bytes the log shows, in hex (its size and verdict are in the result). */
export const STAPLE_PREFIX_BYTES = 32;

/** The steps of one probe, timed from its start. */
export class StepRecorder {
  readonly lines: ProbeLogLine[];
  constructor(
    private readonly startedAtMs: number,
    lines: readonly ProbeLogLine[] = [],
  ) {
    this.lines = lines.slice();
  }

  add(text: string): void {
    if (this.lines.length >= MAX_RECORDED_STEPS) return;
    this.lines.push({ atMs: Date.now() - this.startedAtMs, text: text.length > MAX_STEP_CHARS ? `${text.slice(0, MAX_STEP_CHARS)}…` : text });
  }

  /** A recorder for one address, carrying the steps so far (resolution) and timed from the same start. */
  fork(): StepRecorder {
    return new StepRecorder(this.startedAtMs, this.lines);
  }
}

/** The staple as the log shows it: size and its first bytes in hex. */
export function stapleStep(staple: Uint8Array | null): string {
  if (!staple) return 'no staple: the server sent no OCSP status in the handshake';
  const prefix = Buffer.from(staple.buffer, staple.byteOffset, Math.min(staple.length, STAPLE_PREFIX_BYTES)).toString('hex');
  return `staple received: ${staple.length} bytes, starting ${prefix}${staple.length > STAPLE_PREFIX_BYTES ? '…' : ''}`;
}

/** One summary per certificate's facts: they are shared per certificate (cached by bytes), so are these. */
const summaries = new WeakMap<CertificateFacts, PresentedCertificate>();

/**
 * The presented chain, leaf first, as subjects, issuers, serials and validity. The certificates
 * were parsed already (the leaf for the result, the others while the issuer was looked for), so
 * this is a cache lookup each; an unreadable one is said so in place of its subject.
 */
export function presentedCertificates(chainDer: readonly Uint8Array[]): PresentedCertificate[] {
  return chainDer.map((der) => {
    let facts: CertificateFacts;
    try {
      facts = certificateFacts(der);
    } catch (error) {
      return { subject: `(unreadable certificate, ${der.length} bytes: ${messageOf(error)})`, issuer: '', serial: '', notBefore: '', notAfter: '' };
    }
    let summary = summaries.get(facts);
    if (!summary) {
      summary = Object.freeze({
        subject: facts.subject,
        issuer: facts.issuer,
        serial: facts.serialNumber,
        notBefore: isoSeconds(facts.notBefore),
        notAfter: isoSeconds(facts.notAfter),
      });
      summaries.set(facts, summary);
    }
    return summary;
  });
}

function isoSeconds(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'invalid date' : date.toISOString().replace(/\.000Z$/, 'Z');
}
