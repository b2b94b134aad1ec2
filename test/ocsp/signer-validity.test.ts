/**
 * A delegated responder's certificate is judged at the time of judgment, as OpenSSL does it:
 * `openssl ocsp -verify -attime T` builds the signer's chain at T (OCSP_basic_verify →
 * X509_verify_cert), whatever the response's producedAt. Responses here are signed by `openssl
 * ocsp` itself with responder certificates made under libfaketime: one valid for one day from now
 * that signs a 7-day response, and one that becomes valid only in two days. Our verdict and
 * OpenSSL's must agree at several times before, inside and after each window.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stapleEnd, verifyOcspResponse } from '../../src/ocsp/verify.js';
import {
  createOpensslPki,
  issueOpensslCertificate,
  opensslOcspResponse,
  opensslVerifyResponse,
  RESPONDER_EXT,
  type OpensslCert,
  type OpensslPki,
} from '../helpers/openssl.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let dir: string;
let pki: OpensslPki;
let start: number;
/** Valid from now for one day. */
let shortLived: OpensslCert;
/** Valid from now + 2 days for 10 days. */
let futureDated: OpensslCert;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ocsp-signer-'));
  pki = await createOpensslPki(dir);
  start = Date.now();
  const issue = (name: string, at: Date, days: number) =>
    issueOpensslCertificate(dir, { name, subject: `/O=OCSP Test/CN=${name}`, issuer: pki.intermediate, extensions: RESPONDER_EXT, days, at });
  [shortLived, futureDated] = await Promise.all([issue('Short-lived OCSP Responder', new Date(start), 1), issue('Future OCSP Responder', new Date(start + 2 * DAY), 10)]);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A 7-day response about leafEc, produced now by `openssl ocsp`, signed by `signer`. */
function sevenDayResponse(signer: OpensslCert): Promise<Uint8Array> {
  return opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer, ndays: 7 });
}

async function bothVerdicts(der: Uint8Array, at: Date) {
  const ours = verifyOcspResponse(der, pki.leafEc.der, pki.intermediate.der, { now: at, clockSkewSeconds: 300 });
  const theirs = await opensslVerifyResponse(dir, der, { issuer: pki.intermediate, cert: pki.leafEc, trusted: [pki.root], untrusted: [pki.intermediate], attime: at });
  return { ours, theirs };
}

describe('a delegated signer is valid at the time of judgment, as OpenSSL checks it', () => {
  it('a one-day responder certificate signing a 7-day response: accepted inside its day, rejected after', async () => {
    const der = await sevenDayResponse(shortLived);
    for (const [offset, accepted] of [
      [HOUR, true],
      [20 * HOUR, true],
      [3 * DAY, false],
      [6 * DAY, false],
    ] as const) {
      const at = new Date(start + offset);
      const { ours, theirs } = await bothVerdicts(der, at);
      expect(theirs.verifyOk, `openssl at +${offset / HOUR}h:\n${theirs.output}`).toBe(accepted);
      expect(ours.problems.includes('signer_expired'), `ours at +${offset / HOUR}h: ${ours.problems.join(',')}`).toBe(!accepted);
      expect(ours.problems).toContain('signer_expires_before_next_update');
      if (accepted) expect(ours.valid).toBe(true);
      else expect(ours.valid).toBe(false);
    }
  });

  it('a responder certificate not yet valid at producedAt: rejected before its notBefore, accepted inside, rejected after', async () => {
    const der = await sevenDayResponse(futureDated);
    for (const [offset, expected] of [
      [HOUR, 'signer_not_yet_valid'],
      [DAY, 'signer_not_yet_valid'],
      [3 * DAY, null],
      [6 * DAY, null],
      [13 * DAY, 'signer_expired'],
    ] as const) {
      const at = new Date(start + offset);
      const { ours, theirs } = await bothVerdicts(der, at);
      expect(theirs.verifyOk, `openssl at +${offset / HOUR}h:\n${theirs.output}`).toBe(expected === null);
      const signerProblems = ours.problems.filter((p) => p.startsWith('signer_') && p !== 'signer_expires_before_next_update');
      expect(signerProblems, `ours at +${offset / HOUR}h`).toEqual(expected === null ? [] : [expected]);
    }
  });

  it('the staple ends at the earlier of nextUpdate and the delegated signer notAfter', async () => {
    const short = verifyOcspResponse(await sevenDayResponse(shortLived), pki.leafEc.der, pki.intermediate.der, { now: new Date(start + HOUR) });
    expect(stapleEnd(short)?.getTime()).toBe(short.signer.notAfter?.getTime());
    expect(short.signer.notAfter!.getTime()).toBeLessThan(short.single!.nextUpdate!.getTime());

    const long = verifyOcspResponse(await sevenDayResponse(pki.responder), pki.leafEc.der, pki.intermediate.der, { now: new Date(start + HOUR) });
    expect(long.problems).toEqual([]);
    expect(stapleEnd(long)?.getTime()).toBe(long.single!.nextUpdate!.getTime());

    const byIssuer = verifyOcspResponse(await sevenDayResponse(pki.intermediate), pki.leafEc.der, pki.intermediate.der, { now: new Date(start + HOUR) });
    expect(byIssuer.signer).toMatchObject({ kind: 'issuer', notAfter: null });
    expect(stapleEnd(byIssuer)?.getTime()).toBe(byIssuer.single!.nextUpdate!.getTime());
  });

  it('the clock skew applies to the signer window as to the response window', async () => {
    const der = await sevenDayResponse(shortLived);
    const notAfter = verifyOcspResponse(der, pki.leafEc.der, pki.intermediate.der, { now: new Date(start) }).signer.notAfter!.getTime();
    const at = (ms: number, skew: number) => verifyOcspResponse(der, pki.leafEc.der, pki.intermediate.der, { now: new Date(ms), clockSkewSeconds: skew }).problems;
    expect(at(notAfter + 60_000, 300)).not.toContain('signer_expired');
    expect(at(notAfter + 60_000, 0)).toContain('signer_expired');
  });
});
