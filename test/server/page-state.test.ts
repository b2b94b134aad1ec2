/** The status page's verdict per address: every state from hand-built results, judged at NOW_MS. */
import { describe, expect, it } from 'vitest';
import { PAGE_STATES, verdictOf, worstFirst } from '../../src/server/page/state.js';
import { delegatedSigner, failedResult, HOUR_MS, leafFacts, NOW_MS, okResult, single, verdict } from '../metrics/fixtures.js';
import type { ResponderResult } from '../../src/responder/types.js';

const DAY_MS = 24 * HOUR_MS;
const window = (thisUpdateAgoMs: number, nextUpdateInMs: number) => single({ thisUpdate: new Date(NOW_MS - thisUpdateAgoMs), nextUpdate: new Date(NOW_MS + nextUpdateInMs) });

function responder(certStatus: 'good' | 'revoked'): ResponderResult {
  return {
    url: 'http://ocsp.example.test/', urlSource: 'aia', method: 'GET', up: true, source: 'network', durationSeconds: 0.05, fetchedAtMs: NOW_MS - 1000,
    httpStatus: 200, problems: [], error: null,
    verdict: verdict({ single: single({ certStatus, revocationTime: certStatus === 'revoked' ? new Date(NOW_MS - DAY_MS) : null, revocationReason: certStatus === 'revoked' ? 'keyCompromise' : null }) }),
  };
}

describe('verdictOf', () => {
  it('valid: a fresh good staple, with its end and its age as a share of the window', () => {
    const v = verdictOf(okResult({}, verdict({ single: window(DAY_MS, 6 * DAY_MS) })), NOW_MS);
    expect(v).toMatchObject({ state: 'valid', summary: 'good', endMs: NOW_MS + 6 * DAY_MS, mustStaple: false });
    expect(v.ageShare).toBeCloseTo(1 / 7, 6);
  });

  it('stale past half the window; expiring soon under a day (or a quarter of a short window)', () => {
    expect(verdictOf(okResult({}, verdict({ single: window(5 * DAY_MS, 2 * DAY_MS) })), NOW_MS).state).toBe('stale');
    expect(verdictOf(okResult({}, verdict({ single: window(6.5 * DAY_MS, 0.5 * DAY_MS) })), NOW_MS).state).toBe('expiring_soon');
    // A 12-hour window, 5 hours in: not stale, not expiring soon (a quarter is 3 hours).
    expect(verdictOf(okResult({}, verdict({ single: window(5 * HOUR_MS, 7 * HOUR_MS) })), NOW_MS).state).toBe('valid');
    // The signer's certificate ends in 10 hours, long before nextUpdate: its end counts.
    const signerFirst = verdictOf(okResult({}, verdict({ single: window(HOUR_MS, 6 * DAY_MS), problems: ['signer_expires_before_next_update'], signer: delegatedSigner(10) })), NOW_MS);
    expect(signerFirst).toMatchObject({ state: 'expiring_soon', endMs: NOW_MS + 10 * HOUR_MS, summary: 'ends soon (signer_expires_before_next_update)' });
  });

  it('expired and invalid carry their problems', () => {
    expect(verdictOf(okResult({}, verdict({ valid: false, problems: ['expired'], single: window(8 * DAY_MS, -DAY_MS) })), NOW_MS)).toMatchObject({ state: 'expired', summary: 'expired' });
    expect(verdictOf(okResult({}, verdict({ valid: false, problems: ['signer_expired'] })), NOW_MS).state).toBe('expired');
    expect(verdictOf(okResult({}, verdict({ valid: false, problems: ['bad_signature', 'wrong_certificate'] })), NOW_MS)).toMatchObject({
      state: 'invalid',
      summary: 'bad_signature, wrong_certificate',
    });
  });

  it('missing, Must-Staple marked; no OCSP URL is not missing', () => {
    expect(verdictOf(okResult({}, null), NOW_MS)).toMatchObject({ state: 'missing', mustStaple: false });
    expect(verdictOf(okResult({ leaf: leafFacts({ mustStaple: true }) }, null), NOW_MS)).toMatchObject({ state: 'missing', mustStaple: true });
    expect(verdictOf(okResult({ leaf: leafFacts({ ocspUrls: [] }) }, null), NOW_MS)).toMatchObject({ state: 'no_ocsp_url', summary: 'nothing to staple' });
  });

  it('revoked from the staple or from the CA’s responder; unknown; probe failed with its reason', () => {
    const revoked = verdict({ single: single({ certStatus: 'revoked', revocationTime: new Date(Date.UTC(2026, 10, 13)), revocationReason: 'keyCompromise' }) });
    expect(verdictOf(okResult({}, revoked), NOW_MS)).toMatchObject({ state: 'revoked', summary: 'the staple says revoked since 2026-11-13T00:00:00Z (keyCompromise)' });
    expect(verdictOf(okResult({ responder: responder('revoked') }), NOW_MS).state).toBe('revoked');
    expect(verdictOf(okResult({ responder: responder('good') }), NOW_MS).state).toBe('valid');
    expect(verdictOf(okResult({}, verdict({ single: single({ certStatus: 'unknown' }) })), NOW_MS).state).toBe('unknown');
    expect(verdictOf(failedResult('timeout', { error: 'no answer in 5 s' }), NOW_MS)).toMatchObject({ state: 'probe_failed', summary: 'timeout: no answer in 5 s' });
  });
});

describe('worstFirst', () => {
  it('orders by state, then Must-Staple, then the soonest end, then name', () => {
    const row = (name: string, state: (typeof PAGE_STATES)[number], mustStaple = false, endMs: number | null = null) => ({ name, verdict: { state, mustStaple, summary: '', endMs, ageShare: null } });
    const sorted = worstFirst([row('z', 'valid', false, 5), row('a', 'valid', false, 9), row('m', 'missing'), row('b', 'missing', true), row('x', 'revoked'), row('y', 'not_probed')]);
    expect(sorted.map((r) => r.name)).toEqual(['x', 'b', 'm', 'z', 'a', 'y']);
  });
});
