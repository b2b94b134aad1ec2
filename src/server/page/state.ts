/**
 * One verdict per probed address for the status page, as an SRE reads it: the worst thing that is
 * true of the last probe, in the words of the alert rules (grafana/alerts/ocsp-stapling.rules.yml).
 * Pure: the result and the time it is judged at in, a state and its facts out.
 */
import { stapleEnd } from '../../ocsp/verify.js';
import type { ProbeResult } from '../../probe/types.js';

/** Worst first: the order of the counts at the top and of the rows. */
export const PAGE_STATES = [
  'revoked',
  'probe_failed',
  'expired',
  'invalid',
  'missing',
  'unknown',
  'expiring_soon',
  'stale',
  'no_ocsp_url',
  'valid',
  'not_probed',
] as const;

export type PageState = (typeof PAGE_STATES)[number];

export function isPageState(text: string): text is PageState {
  return (PAGE_STATES as readonly string[]).includes(text);
}

/** The badge's words and what the state means, for the legend and the detail page. */
export const STATE_WORDS: Record<PageState, { badge: string; meaning: string }> = {
  revoked: { badge: 'revoked', meaning: 'a verified answer (the staple or the CA’s responder) says the certificate is revoked' },
  probe_failed: { badge: 'probe failed', meaning: 'the probe did not get as far as a TLS handshake: nothing is known about the staple' },
  expired: { badge: 'expired', meaning: 'the staple’s nextUpdate (or its signer’s certificate) has passed: clients reject it' },
  invalid: { badge: 'invalid', meaning: 'a staple is sent but fails verification: clients reject it' },
  missing: { badge: 'missing', meaning: 'the certificate names an OCSP responder but the server staples nothing' },
  unknown: { badge: 'unknown', meaning: 'a valid staple whose responder does not know the certificate (status unknown)' },
  expiring_soon: { badge: 'expiring soon', meaning: 'valid, but less than a day (or a quarter of its window) before the staple ends' },
  stale: { badge: 'stale', meaning: 'valid, but past half its validity window: the server’s refresh has stalled' },
  no_ocsp_url: { badge: 'no OCSP URL', meaning: 'the certificate names no OCSP responder: there is nothing to staple' },
  valid: { badge: 'valid', meaning: 'a fresh, verified staple saying good' },
  not_probed: { badge: 'not probed yet', meaning: 'no sweep has finished this target yet (sweeps run when /metrics is scraped)' },
};

/** "Expiring soon" below this much time left (and below a quarter of the responder's window, for short windows). */
const EXPIRING_SOON_MS = 24 * 3_600_000;

export interface AddressVerdict {
  state: PageState;
  /** A Must-Staple certificate: a missing or unusable staple locks clients out (RFC 7633). */
  mustStaple: boolean;
  /** One line under the badge: the problems, the failure reason, the revocation time. */
  summary: string;
  /** When the staple stops being usable (nextUpdate or its signer's notAfter); null without one. */
  endMs: number | null;
  /** The staple's age as a share of its usable window (thisUpdate to end), 0..1 and beyond. */
  ageShare: number | null;
}

function revokedSummary(revocationTime: Date | null, reason: string | null, by: string): string {
  const since = revocationTime ? ` since ${new Date(revocationTime).toISOString().replace(/\.000Z$/, 'Z')}` : '';
  return `${by} says revoked${since}${reason ? ` (${reason})` : ''}`;
}

/** The state of one probed address at `nowMs`. */
export function verdictOf(result: ProbeResult, nowMs: number): AddressVerdict {
  const mustStaple = result.leaf?.mustStaple === true;
  const base = { mustStaple, endMs: null, ageShare: null };
  if (!result.success) return { ...base, state: 'probe_failed', summary: `${result.failureReason ?? 'failed'}: ${result.error ?? ''}` };

  const verdict = result.staple?.present ? result.staple.verdict : null;
  const single = verdict?.single ?? null;
  const end = verdict ? stapleEnd(verdict) : null;
  const endMs = end ? new Date(end).getTime() : null;
  const thisUpdateMs = single ? new Date(single.thisUpdate).getTime() : null;
  const ageShare = endMs !== null && thisUpdateMs !== null && endMs > thisUpdateMs ? (nowMs - thisUpdateMs) / (endMs - thisUpdateMs) : null;
  const timed = { mustStaple, endMs, ageShare };

  // As `check` and ocsp_cert_revoked: a verified answer saying revoked outweighs everything else.
  const responder = result.responder;
  const asked = responder?.up && responder.verdict?.valid ? responder.verdict.single : null;
  if (verdict?.valid && single?.certStatus === 'revoked') return { ...timed, state: 'revoked', summary: revokedSummary(single.revocationTime, single.revocationReason, 'the staple') };
  if (asked?.certStatus === 'revoked') return { ...timed, state: 'revoked', summary: revokedSummary(asked.revocationTime, asked.revocationReason, 'the CA’s responder') };

  if (!result.staple?.present) {
    const hasUrl = (result.leaf?.ocspUrls.length ?? 0) > 0;
    if (!hasUrl && !mustStaple) return { ...base, state: 'no_ocsp_url', summary: 'nothing to staple' };
    return { ...base, state: 'missing', summary: mustStaple ? 'Must-Staple certificate without a staple: clients will refuse this server' : 'no staple sent' };
  }
  if (!verdict) return { ...timed, state: 'invalid', summary: 'the staple could not be judged' };
  const problems = verdict.problems.join(', ');
  if (!verdict.valid) {
    const expired = verdict.problems.includes('expired') || verdict.problems.includes('signer_expired');
    return { ...timed, state: expired ? 'expired' : 'invalid', summary: problems };
  }
  if (single?.certStatus === 'unknown') return { ...timed, state: 'unknown', summary: 'the responder does not know this certificate' };
  const advisory = problems === '' ? '' : ` (${problems})`;
  if (endMs !== null && thisUpdateMs !== null) {
    const leftMs = endMs - nowMs;
    // A quarter of the responder's own window (to nextUpdate), so a short-lived signer still counts as soon.
    const windowMs = (single?.nextUpdate ? new Date(single.nextUpdate).getTime() : endMs) - thisUpdateMs;
    if (leftMs < Math.min(EXPIRING_SOON_MS, windowMs / 4)) return { ...timed, state: 'expiring_soon', summary: `ends soon${advisory}` };
    // Caddy refreshes at half the window; a staple past it means the server's refresh has stalled.
    if (nowMs - thisUpdateMs > (endMs - thisUpdateMs) / 2) return { ...timed, state: 'stale', summary: `past half its window${advisory}` };
  }
  return { ...timed, state: 'valid', summary: `good${advisory}` };
}

/** Rows worst first; within a state Must-Staple first, then the staple that ends soonest, then by name. */
export function worstFirst<T extends { verdict: AddressVerdict; name: string }>(rows: readonly T[]): T[] {
  const rank = (state: PageState) => PAGE_STATES.indexOf(state);
  return [...rows].sort(
    (a, b) =>
      rank(a.verdict.state) - rank(b.verdict.state) ||
      Number(b.verdict.mustStaple) - Number(a.verdict.mustStaple) ||
      (a.verdict.endMs ?? Infinity) - (b.verdict.endMs ?? Infinity) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}
