/**
 * verifyOcspResponse against responses made by the real `openssl ocsp` responder (offline mode):
 * every problem name on a response that has exactly that fault, and OpenSSL's own verdict
 * (`openssl ocsp -respin -issuer -cert -CAfile -verify_other`) agreeing with ours on a sample.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearVerificationCache, verifyOcspResponse } from '../../src/ocsp/verify.js';
import {
  createOpensslPki,
  opensslOcspResponse,
  opensslVerifyResponse,
  resignInPlace,
  responseLayout,
  type OcspResponseOptions,
  type OpensslCert,
  type OpensslPki,
} from '../helpers/openssl.js';

let dir: string;
let pki: OpensslPki;

/** The problems that make `openssl ocsp -verify` fail ("Response Verify Failure"). */
const AUTHORITY_PROBLEMS: readonly string[] = ['bad_signature', 'unauthorized_responder', 'responder_id_mismatch', 'signer_expired', 'signer_not_yet_valid'];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ocsp-verify-'));
  pki = await createOpensslPki(dir);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function respond(options: Partial<OcspResponseOptions> = {}): Promise<Uint8Array> {
  return opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.responder, ndays: 1, ...options });
}

function verify(der: Uint8Array, leaf: OpensslCert | null = pki.leafEc, issuer: OpensslCert | null = pki.intermediate, now = new Date()) {
  return verifyOcspResponse(der, leaf?.der ?? null, issuer?.der ?? null, { now });
}

/** SHA-1 of the subjectPublicKey BIT STRING contents, computed from Node's SPKI export. */
function keyHashOf(cert: OpensslCert): string {
  const spki = new X509Certificate(cert.der).publicKey.export({ format: 'der', type: 'spki' });
  // SPKI = SEQUENCE { AlgorithmIdentifier, BIT STRING }: the BIT STRING is the last element.
  let at = spki[1]! & 0x80 ? 2 + (spki[1]! & 0x7f) : 2;
  const algLen = spki[at + 1]!;
  at += 2 + algLen;
  const lenByte = spki[at + 1]!;
  const contentStart = at + 2 + (lenByte & 0x80 ? lenByte & 0x7f : 0);
  return createHash('sha1').update(spki.subarray(contentStart + 1)).digest('hex');
}

describe('statuses of a well-signed response', () => {
  it('good, from a delegated responder: valid, every check judged', async () => {
    const v = verify(await respond());
    expect(v.problems).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.parseError).toBeNull();
    expect(v.certIdMatchesLeaf).toBe(true);
    expect(v.signatureValid).toBe(true);
    expect(v.matchedIndex).toBe(0);
    expect(v.single?.certStatus).toBe('good');
    expect(v.single?.certId.serialNumber).toBe(pki.leafEc.serial);
    expect(v.signer).toEqual({ kind: 'delegated', subject: 'CN=Test OCSP Responder,O=OCSP Test', notBefore: expect.any(Date), notAfter: expect.any(Date) });
  });

  it('revoked with a reason: valid (the staple is genuine), status and reason reported', async () => {
    const revokedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 3 * 86_400_000);
    const der = await respond({ index: [{ serial: pki.leafEc.serial, status: 'revoked', revokedAt, reason: 'keyCompromise' }] });
    const v = verify(der);
    expect(v.valid).toBe(true);
    expect(v.single?.certStatus).toBe('revoked');
    expect(v.single?.revocationReason).toBe('keyCompromise');
    expect(v.single?.revocationTime?.toISOString()).toBe(revokedAt.toISOString());
  });

  it('revoked without a reason: reason null', async () => {
    const v = verify(await respond({ index: [{ serial: pki.leafEc.serial, status: 'revoked' }] }));
    expect(v.single?.certStatus).toBe('revoked');
    expect(v.single?.revocationReason).toBeNull();
  });

  it('unknown (serial not in the responder database)', async () => {
    const v = verify(await respond({ index: [] }));
    expect(v.valid).toBe(true);
    expect(v.single?.certStatus).toBe('unknown');
  });
});

describe('time window', () => {
  it('no nextUpdate: advisory no_next_update, still valid', async () => {
    const v = verify(await respond({ ndays: undefined }));
    expect(v.problems).toEqual(['no_next_update']);
    expect(v.valid).toBe(true);
    expect(v.single?.nextUpdate).toBeNull();
  });

  it('expired: nextUpdate older than now - 300 s, with the skew boundary exact', async () => {
    const der = await respond({ ndays: undefined, nmin: 10 });
    const next = verify(der).single!.nextUpdate!.getTime();
    expect(verify(der, pki.leafEc, pki.intermediate, new Date(next + 299_000)).problems).toEqual([]);
    const late = verify(der, pki.leafEc, pki.intermediate, new Date(next + 301_000));
    expect(late.problems).toEqual(['expired']);
    expect(late.valid).toBe(false);
    // A custom skew applies.
    expect(verifyOcspResponse(der, pki.leafEc.der, pki.intermediate.der, { now: new Date(next + 299_000), clockSkewSeconds: 0 }).problems).toEqual(['expired']);
  });

  it('expired for real: produced two days ago (faketime) with a one-day window', async () => {
    const at = new Date(Date.now() - 2 * 86_400_000);
    const v = verify(await respond({ at, ndays: 1 }));
    expect(v.problems).toEqual(['expired']);
    expect(Math.abs(v.response!.basic!.producedAt.getTime() - at.getTime())).toBeLessThan(60_000);
  });

  it('not yet valid: produced two hours in the future (faketime)', async () => {
    const at = new Date(Date.now() + 2 * 3_600_000);
    const der = await respond({ at });
    const v = verify(der);
    expect(v.problems).toEqual(['not_yet_valid']);
    const thisUpdate = v.single!.thisUpdate.getTime();
    expect(verify(der, pki.leafEc, pki.intermediate, new Date(thisUpdate - 299_000)).problems).toEqual([]);
    expect(verify(der, pki.leafEc, pki.intermediate, new Date(thisUpdate - 301_000)).problems).toEqual(['not_yet_valid']);
  });

  it('the cached part never freezes time: the same bytes judged at two instants', async () => {
    const der = await respond({ ndays: undefined, nmin: 10 });
    const now = Date.now();
    expect(verify(der, pki.leafEc, pki.intermediate, new Date(now)).valid).toBe(true);
    expect(verify(der, pki.leafEc, pki.intermediate, new Date(now + 3_600_000)).problems).toEqual(['expired']);
    expect(verify(der, pki.leafEc, pki.intermediate, new Date(now)).problems).toEqual([]);
  });
});

describe('CertID', () => {
  it('a response for another certificate: wrong_certificate, the first single reported', async () => {
    const v = verify(await respond({ certs: [pki.leafRsa] }));
    expect(v.problems).toEqual(['wrong_certificate']);
    expect(v.certIdMatchesLeaf).toBe(false);
    expect(v.matchedIndex).toBeNull();
    expect(v.single?.certId.serialNumber).toBe(pki.leafRsa.serial);
    expect(v.signatureValid).toBe(true);
  });

  it('many SingleResponses: the matching one is chosen, not the first', async () => {
    const der = await respond({
      certs: [pki.leafEc, pki.leafRsa, pki.leafMustStaple],
      index: [
        { serial: pki.leafEc.serial, status: 'good' },
        { serial: pki.leafRsa.serial, status: 'revoked', reason: 'superseded' },
        { serial: pki.leafMustStaple.serial, status: 'good' },
      ],
    });
    const rsa = verify(der, pki.leafRsa);
    expect(rsa.valid).toBe(true);
    expect(rsa.matchedIndex).toBe(1);
    expect(rsa.single?.certStatus).toBe('revoked');
    expect(rsa.single?.revocationReason).toBe('superseded');
    const third = verify(der, pki.leafMustStaple);
    expect(third.matchedIndex).toBe(2);
    expect(third.single?.certId.serialNumber).toBe(pki.leafMustStaple.serial);
    expect(verify(der, pki.leafNoOcspUrl).problems).toEqual(['wrong_certificate']);
  });

  it.each(['sha256', 'sha384', 'sha512', 'sha224'] as const)('%s CertIDs match', async (hash) => {
    const v = verify(await respond({ certIdHash: hash }));
    expect(v.problems).toEqual([]);
    expect(v.single?.certId.hashAlgorithm.name).toBe(hash);
  });

  it('an impostor issuer (same name, other key): wrong_certificate and the delegate is not its own', async () => {
    const v = verify(await respond(), pki.leafEc, pki.impostorCa);
    expect(v.problems).toEqual(['unauthorized_responder', 'wrong_certificate']);
    expect(v.signatureVerifies).toBe(true);
    expect(v.signatureValid).toBe(false);
  });
});

describe('signer and authority', () => {
  it.each([
    ['byName', false],
    ['byKey', true],
  ] as const)('signed by the issuer itself, responderID %s', async (_kind, respKeyId) => {
    for (const noCerts of [false, true]) {
      const v = verify(await respond({ signer: pki.intermediate, respKeyId, noCerts }));
      expect(v.problems).toEqual([]);
      expect(v.signer).toEqual({ kind: 'issuer', subject: 'CN=Test Intermediate CA,O=OCSP Test', notBefore: null, notAfter: null });
      expect(v.response?.basic?.responderId.kind).toBe(_kind);
      expect(v.response?.basic?.certificates.length).toBe(noCerts ? 0 : 1);
    }
  });

  it('responderID byKey is the SHA-1 of the signer key bits', async () => {
    const v = verify(await respond({ respKeyId: true }));
    expect(v.response?.basic?.responderId).toEqual({ kind: 'byKey', value: keyHashOf(pki.responder) });
    expect(v.valid).toBe(true);
  });

  it('the full chain embedded (issuer-signed and delegated)', async () => {
    const direct = verify(await respond({ signer: pki.intermediate, other: [pki.root] }));
    expect(direct.problems).toEqual([]);
    const delegated = verify(await respond({ other: [pki.intermediate, pki.root] }));
    expect(delegated.problems).toEqual([]);
    expect(delegated.signer.kind).toBe('delegated');
    expect(delegated.response?.basic?.certificates.length).toBe(3);
  });

  it('a stranger CA and its responder: unauthorized_responder (signature itself fine)', async () => {
    for (const signer of [pki.strangerCa, pki.strangerResponder]) {
      const v = verify(await respond({ signer }));
      expect(v.problems).toEqual(['unauthorized_responder']);
      expect(v.signatureVerifies).toBe(true);
      // Not "Response verify OK" for OpenSSL either: authority is part of a valid signature.
      expect(v.signatureValid).toBe(false);
      expect(v.signer.subject).toBe(signer.subject);
    }
  });

  it('a stranger without its certificate embedded: nobody we know signed it', async () => {
    const v = verify(await respond({ signer: pki.strangerResponder, noCerts: true }));
    expect(v.problems).toEqual(['responder_id_mismatch', 'unauthorized_responder']);
    expect(v.signer.kind).toBe('unknown');
  });

  it('a delegate without id-kp-OCSPSigning: unauthorized_responder', async () => {
    const v = verify(await respond({ signer: pki.responderNoEku }));
    expect(v.problems).toEqual(['unauthorized_responder']);
    expect(v.signer.kind).toBe('delegated');
  });

  it('a delegate expired now: signer_expired (clients check the signer at the time they verify)', async () => {
    const v = verify(await respond({ signer: pki.responderExpired }));
    expect(v.problems).toEqual(['signer_expired', 'signer_expires_before_next_update']);
    expect(v.valid).toBe(false);
  });

  it('the same expired delegate is authorised for a response produced within its validity', async () => {
    const at = new Date('2020-01-10T00:00:00Z');
    const der = await respond({ signer: pki.responderExpired, at, ndays: 1 });
    expect(verify(der, pki.leafEc, pki.intermediate, new Date('2020-01-10T12:00:00Z')).problems).toEqual([]);
  });

  it('tampered signature (openssl -badsig, delegated): bad_signature', async () => {
    const v = verify(await respond({ badSig: true }));
    expect(v.problems).toEqual(['bad_signature']);
    expect(v.signatureValid).toBe(false);
    expect(v.valid).toBe(false);
  });

  it('tampered signature (a byte flipped inside the BIT STRING, issuer-signed): bad_signature', async () => {
    const der = await respond({ signer: pki.intermediate, noCerts: true });
    const { signature } = responseLayout(der);
    const flipped = der.slice();
    flipped[signature.end - 3] = flipped[signature.end - 3]! ^ 0x01;
    expect(verify(der).valid).toBe(true);
    const v = verify(flipped);
    expect(v.problems).toEqual(['bad_signature']);
    expect(v.signer.kind).toBe('issuer');
  });

  it('tampered data (a byte of tbsResponseData changed): bad_signature', async () => {
    const der = await respond({ signer: pki.responderRsa });
    const { tbs } = responseLayout(der);
    const changed = der.slice();
    // The last byte of thisUpdate/nextUpdate region: inside the signed data, still parseable (a digit).
    const text = Buffer.from(changed.subarray(tbs.start, tbs.end)).toString('latin1');
    const at = tbs.start + text.lastIndexOf('Z') - 1;
    changed[at] = changed[at] === 0x30 ? 0x31 : 0x30;
    expect(verify(changed).problems).toContain('bad_signature');
  });

  it('responderID naming someone else (re-signed with the real key): responder_id_mismatch', async () => {
    const der = await respond({ signer: pki.intermediate, respKeyId: true, noCerts: true });
    const { responderId } = responseLayout(der);
    const patched = der.slice();
    // [2] { OCTET STRING (20) }: overwrite the key hash with the stranger's, then re-sign.
    patched.set(Buffer.from(keyHashOf(pki.strangerCa), 'hex'), responderId.end - 20);
    const resigned = await resignInPlace(patched, pki.intermediate.keyPath);
    const v = verify(resigned);
    expect(v.problems).toEqual(['responder_id_mismatch']);
    expect(v.signatureVerifies).toBe(true);
    expect(v.signatureValid).toBe(false);
    expect(v.signer.kind).toBe('issuer');
  });

  it('RSA PKCS#1 v1.5 and RSASSA-PSS signatures', async () => {
    const pkcs1 = verify(await respond({ signer: pki.responderRsa }));
    expect(pkcs1.problems).toEqual([]);
    expect(pkcs1.response?.basic?.signatureAlgorithm.name).toBe('sha256WithRSAEncryption');
    for (const rsigopt of [['rsa_padding_mode:pss'], ['rsa_padding_mode:pss', 'rsa_pss_saltlen:32'], ['rsa_padding_mode:pss', 'rsa_pss_saltlen:-1']]) {
      const pss = verify(await respond({ signer: pki.responderRsa, rsigopt, rmd: 'sha384' }));
      expect(pss.problems, rsigopt.join(' ')).toEqual([]);
      expect(pss.response?.basic?.signatureAlgorithm.name).toBe('RSASSA-PSS');
    }
  });

  it('ECDSA P-384 with SHA-384', async () => {
    const v = verify(await respond({ signer: pki.responderP384, rmd: 'sha384' }));
    expect(v.problems).toEqual([]);
    expect(v.response?.basic?.signatureAlgorithm.name).toBe('ecdsa-with-SHA384');
  });

  it('SHA-1 signatures still verify (old responders use them)', async () => {
    const v = verify(await respond({ signer: pki.responderRsa, rmd: 'sha1' }));
    expect(v.problems).toEqual([]);
    expect(v.response?.basic?.signatureAlgorithm.name).toBe('sha1WithRSAEncryption');
  });
});

describe('what cannot be judged', () => {
  it.each([
    [1, 'malformedRequest'],
    [2, 'internalError'],
    [3, 'tryLater'],
    [5, 'sigRequired'],
    [6, 'unauthorized'],
  ])('status %i (%s): not_successful, nothing else', (code, name) => {
    const v = verify(Uint8Array.of(0x30, 0x03, 0x0a, 0x01, code));
    expect(v.problems).toEqual(['not_successful']);
    expect(v.valid).toBe(false);
    expect(v.response?.responseStatus).toBe(name);
    expect(v.response?.basic).toBeNull();
    expect(v.signatureValid).toBeNull();
    expect(v.certIdMatchesLeaf).toBeNull();
    expect(v.single).toBeNull();
  });

  it('unparseable bytes: unparseable with the parse error code', async () => {
    const der = await respond();
    for (const bad of [der.subarray(0, der.length - 1), Uint8Array.of(1, 2, 3), new Uint8Array(0), new Uint8Array(1 << 20)]) {
      const v = verify(bad);
      expect(v.problems).toEqual(['unparseable']);
      expect(v.response).toBeNull();
      expect(v.parseError?.code).toMatch(/^ERR_OCSP_/);
      expect(v.parseError?.message.length).toBeGreaterThan(0);
    }
    expect(verify(new Uint8Array(1 << 20)).parseError?.code).toBe('ERR_OCSP_TOO_LARGE');
    expect(verify(new Uint8Array(0)).parseError?.code).toBe('ERR_OCSP_EMPTY');
  });

  it('no issuer: issuer_unknown, nulls for the checks, dates still judged', async () => {
    const der = await respond({ ndays: undefined, nmin: 10 });
    const later = new Date(Date.now() + 3_600_000);
    const v = verify(der, pki.leafEc, null, later);
    expect(v.problems).toEqual(['expired', 'issuer_unknown']);
    expect(v.signatureValid).toBeNull();
    expect(v.certIdMatchesLeaf).toBeNull();
    expect(v.single?.certId.serialNumber).toBe(pki.leafEc.serial);
    const noLeaf = verify(der, null, pki.intermediate);
    expect(noLeaf.problems).toEqual(['issuer_unknown']);
    expect(noLeaf.certIdMatchesLeaf).toBeNull();
    expect(noLeaf.signatureValid).toBe(true);
    const neither = verify(der, null, null);
    expect(neither.problems).toEqual(['issuer_unknown']);
    expect(neither.signatureValid).toBeNull();
  });

  it('an unreadable leaf or issuer counts as missing, never throws', async () => {
    const der = await respond();
    const v = verifyOcspResponse(der, Uint8Array.of(0x30, 0x00), Uint8Array.of(0xff), { now: new Date() });
    expect(v.problems).toEqual(['issuer_unknown']);
  });

  it('repeated verification is served from the cache and agrees with a cold one', async () => {
    const der = await respond({ signer: pki.responderRsa, rsigopt: ['rsa_padding_mode:pss'] });
    const first = verify(der);
    const second = verify(der);
    clearVerificationCache();
    const cold = verify(der);
    expect(second).toEqual(first);
    expect(cold).toEqual(first);
    expect(first.problems).toEqual([]);
  });
});

describe('agreement with OpenSSL (openssl ocsp -verify)', () => {
  const cases: Array<[string, () => Partial<OcspResponseOptions>, () => OpensslCert]> = [
    ['good, delegated', () => ({}), () => pki.leafEc],
    ['revoked', () => ({ index: [{ serial: pki.leafEc.serial, status: 'revoked', reason: 'cessationOfOperation' }] }), () => pki.leafEc],
    ['unknown', () => ({ index: [] }), () => pki.leafEc],
    ['three singles, RSA leaf', () => ({ certs: [pki.leafEc, pki.leafMustStaple, pki.leafRsa] }), () => pki.leafRsa],
    ['SHA-256 CertID', () => ({ certIdHash: 'sha256' }), () => pki.leafEc],
    ['issuer-signed byKey, no certs', () => ({ signer: pki.intermediate, respKeyId: true, noCerts: true }), () => pki.leafEc],
    ['RSA-PSS', () => ({ signer: pki.responderRsa, rsigopt: ['rsa_padding_mode:pss'] }), () => pki.leafEc],
    ['P-384 SHA-384', () => ({ signer: pki.responderP384, rmd: 'sha384' }), () => pki.leafEc],
    ['stranger responder', () => ({ signer: pki.strangerResponder }), () => pki.leafEc],
    ['delegate without OCSPSigning', () => ({ signer: pki.responderNoEku }), () => pki.leafEc],
    ['expired delegate', () => ({ signer: pki.responderExpired }), () => pki.leafEc],
    ['bad signature', () => ({ badSig: true }), () => pki.leafEc],
    ['wrong certificate', () => ({ certs: [pki.leafRsa] }), () => pki.leafEc],
    ['expired response', () => ({ at: new Date(Date.now() - 3 * 86_400_000), ndays: 1 }), () => pki.leafEc],
    ['future response', () => ({ at: new Date(Date.now() + 3 * 3_600_000) }), () => pki.leafEc],
  ];

  it.each(cases)('%s', async (_name, options, leafOf) => {
    const leaf = leafOf();
    const der = await respond(options());
    const ours = verify(der, leaf);
    const opts = options();
    const theirs = await opensslVerifyResponse(dir, der, {
      certIdHash: opts.certIdHash,
      issuer: pki.intermediate,
      cert: leaf,
      trusted: [pki.root],
      untrusted: [pki.intermediate],
    });
    const authorityOk = !ours.problems.some((p) => AUTHORITY_PROBLEMS.includes(p));
    expect(authorityOk, theirs.output).toBe(theirs.verifyOk);
    expect(ours.problems.includes('wrong_certificate'), theirs.output).toBe(theirs.noStatus);
    if (!theirs.noStatus) {
      expect(ours.single?.certStatus, theirs.output).toBe(theirs.certStatus);
      expect(ours.problems.includes('expired') || ours.problems.includes('not_yet_valid'), theirs.output).toBe(theirs.timesInvalid);
    }
  });
});
