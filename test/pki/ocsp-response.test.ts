/**
 * Crafted OCSP responses judged by `openssl ocsp`: what `-resp_text` reads from them, whether
 * OpenSSL's verifier accepts the good ones (issuer-signed, delegated, RSA, RSA-PSS) and rejects
 * the broken ones, CertIDs equal to the ones OpenSSL computes itself, and canonical DER (OpenSSL
 * re-encodes the parsed response to the very same bytes).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseStatus, RevocationReason } from '../../src/ocsp/types.js';
import { createOcspResponse, PkiError, type HashName } from '../../src/pki/index.js';
import { makeTestPki, stapleFor, type StapleOverrides, type TestPki } from '../helpers/pki.js';
import { makeTempDir, openssl, opensslDate, serialHex, type TempDir } from './support.js';

let pki: TestPki;
let dir: TempDir;
let counter = 0;
const paths: Record<string, string> = {};

beforeAll(async () => {
  [pki, dir] = await Promise.all([makeTestPki(), makeTempDir('pki-ocsp-')]);
  for (const name of ['root', 'intermediate', 'leafEcdsa', 'leafRsa', 'responder', 'responderRsa', 'strangerCa'] as const) {
    paths[name] = await dir.write(`${name}.pem`, pki[name].pem);
  }
});
afterAll(() => dir?.remove());

async function responseFile(der: Uint8Array): Promise<string> {
  counter += 1;
  return dir.write(`response-${counter}.der`, der);
}

async function respText(der: Uint8Array): Promise<string> {
  const result = await openssl(['ocsp', '-respin', await responseFile(der), '-resp_text', '-noverify']);
  expect(result.code, result.output).toBe(0);
  return result.stdout;
}

/** OpenSSL's full check: signature, responder authority, chain to `root`, CertID of the leaf. */
async function opensslVerify(
  der: Uint8Array,
  options: { leaf?: string; certIdHash?: HashName; extra?: string[] } = {},
): Promise<{ code: number; output: string }> {
  const digestFlag = options.certIdHash ? [`-${options.certIdHash.replace('-', '').toLowerCase()}`] : [];
  return openssl([
    'ocsp',
    '-respin',
    await responseFile(der),
    '-issuer',
    paths.intermediate!,
    ...digestFlag,
    '-cert',
    options.leaf ?? paths.leafEcdsa!,
    '-CAfile',
    paths.root!,
    '-verify_other',
    paths.intermediate!,
    '-no_nonce',
    ...(options.extra ?? []),
  ]);
}

const staple = (overrides: StapleOverrides = {}) => stapleFor(pki, pki.leafEcdsa, overrides);

describe('openssl ocsp -resp_text', () => {
  it('reads a good response: dates, serial, SHA-1 CertID, responderID by key', async () => {
    const thisUpdate = new Date('2026-05-06T07:08:09.500Z');
    const nextUpdate = new Date('2026-05-13T07:08:09Z');
    const producedAt = new Date('2026-05-06T07:30:00Z');
    const out = await respText(await staple({ thisUpdate, nextUpdate, producedAt }));
    expect(out).toContain('OCSP Response Status: successful (0x0)');
    expect(out).toContain('Response Type: Basic OCSP Response');
    expect(out).toContain('Version: 1 (0x0)');
    expect(out).toContain(`Produced At: ${opensslDate(producedAt)}`);
    expect(out).toContain('Hash Algorithm: sha1');
    expect(out).toContain(`Serial Number: ${serialHex(pki.leafEcdsa.serialNumber)}`);
    expect(out).toContain('Cert Status: good');
    expect(out).toContain('This Update: May  6 07:08:09 2026 GMT');
    expect(out).toContain('Next Update: May 13 07:08:09 2026 GMT');
    expect(out).toContain('Signature Algorithm: ecdsa-with-SHA256');
    // byKey: SHA-1 of the issuer's key bits, which is also its subject key identifier.
    const ski = await openssl(['x509', '-in', paths.intermediate!, '-noout', '-ext', 'subjectKeyIdentifier']);
    const keyId = /\n\s+([0-9A-F:]+)/.exec(ski.stdout)?.[1]?.replaceAll(':', '');
    expect(keyId).toHaveLength(40);
    expect(out).toContain(`Responder Id: ${keyId}`);
    expect(out).toContain(`Issuer Key Hash: ${keyId}`);
    expect(out).not.toContain('Certificate:');
  });

  it('reads revoked with time and reason, revoked without reason, and unknown', async () => {
    const revocationTime = new Date('2026-01-02T03:04:05.678Z');
    const reasons: RevocationReason[] = ['keyCompromise', 'cACompromise', 'superseded', 'cessationOfOperation', 'removeFromCRL'];
    for (const revocationReason of reasons) {
      const out = await respText(await staple({ status: 'revoked', revocationTime, revocationReason }));
      expect(out).toContain('Cert Status: revoked');
      expect(out).toContain('Revocation Time: Jan  2 03:04:05 2026 GMT');
      expect(out).toMatch(new RegExp(`Revocation Reason: ${revocationReason} \\(0x[0-9a-f]+\\)`));
    }
    const noReason = await respText(await staple({ status: 'revoked', revocationTime }));
    expect(noReason).toContain('Cert Status: revoked');
    expect(noReason).toContain('Revocation Time: Jan  2 03:04:05 2026 GMT');
    expect(noReason).not.toContain('Revocation Reason');
    expect(await respText(await staple({ status: 'unknown' }))).toContain('Cert Status: unknown');
  });

  it('prints no Next Update line when nextUpdate is null', async () => {
    const out = await respText(await staple({ nextUpdate: null }));
    expect(out).toContain('This Update:');
    expect(out).not.toContain('Next Update');
  });

  it('names the responder byName, embeds a delegated signer, and carries a nonce', async () => {
    const out = await respText(
      await staple({ signer: pki.responder, responderIdKind: 'byName', nonce: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) }),
    );
    expect(out).toContain('Responder Id: CN = Test OCSP Responder');
    expect(out).toMatch(/OCSP Nonce:\s*\n\s+0404DEADBEEF/);
    expect(out).toMatch(/Certificate:[\s\S]*Subject: CN ?= ?Test OCSP Responder/);
  });

  it('lists several SingleResponses in order', async () => {
    const now = new Date();
    const out = await respText(
      await staple({
        extraSingles: [
          { leaf: pki.leafRsa, issuer: pki.intermediate, status: 'revoked', revocationTime: now, thisUpdate: now, nextUpdate: null },
          { leaf: pki.strangerLeaf.der, issuer: pki.strangerCa.der, status: 'unknown', thisUpdate: now, nextUpdate: now },
        ],
      }),
    );
    const serials = [...out.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]);
    expect(serials).toEqual([pki.leafEcdsa, pki.leafRsa, pki.strangerLeaf].map((c) => serialHex(c.serialNumber)));
    expect([...out.matchAll(/Cert Status: (\w+)/g)].map((m) => m[1])).toEqual(['good', 'revoked', 'unknown']);
  });

  it('shows each non-successful status without response bytes', async () => {
    const expected: Record<Exclude<ResponseStatus, 'successful'>, [string, number]> = {
      malformedRequest: ['malformedrequest', 1],
      internalError: ['internalerror', 2],
      tryLater: ['trylater', 3],
      sigRequired: ['sigrequired', 5],
      unauthorized: ['unauthorized', 6],
    };
    for (const [responseStatus, [name, code]] of Object.entries(expected)) {
      const der = await createOcspResponse({ responseStatus: responseStatus as ResponseStatus });
      // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } and nothing else.
      expect(der).toEqual(new Uint8Array([0x30, 0x03, 0x0a, 0x01, code]));
      const result = await openssl(['ocsp', '-respin', await responseFile(der), '-resp_text', '-noverify']);
      expect(result.output).toContain(`Responder Error: ${name} (${code})`);
    }
  });

  it('writes GeneralizedTime with whole seconds and no fraction', async () => {
    const der = await staple({ thisUpdate: new Date('2026-05-06T07:08:09.999Z'), producedAt: new Date('2026-05-06T07:08:10.001Z') });
    const basic = await dir.write('basic.der', der);
    // The BasicOCSPResponse sits inside responseBytes' OCTET STRING: parse that one in place.
    const outer = await openssl(['asn1parse', '-inform', 'DER', '-in', basic]);
    const offset = /^\s*(\d+):d=3\s.*prim: OCTET STRING/m.exec(outer.stdout)?.[1];
    expect(offset).toBeDefined();
    const asn1 = await openssl(['asn1parse', '-inform', 'DER', '-in', basic, '-strparse', offset!]);
    expect(asn1.code, asn1.output).toBe(0);
    const times = [...asn1.stdout.matchAll(/GENERALIZEDTIME\s+:(\S+)/g)].map((m) => m[1]);
    expect(times.slice(0, 2)).toEqual(['20260506070810Z', '20260506070809Z']);
    for (const time of times) expect(time).toMatch(/^\d{14}Z$/);
  });
});

describe('CertID', () => {
  it.each(['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const)('hashes the issuer as OpenSSL does with %s', async (hash) => {
    const flag = `-${hash.replace('-', '').toLowerCase()}`;
    const requestFile = `${dir.path}/request-${hash}.der`;
    const request = await openssl(['ocsp', '-issuer', paths.intermediate!, flag, '-cert', paths.leafEcdsa!, '-no_nonce', '-reqout', requestFile, '-req_text']);
    expect(request.code, request.output).toBe(0);
    const wanted = (label: string, text: string) => new RegExp(`${label}: ([0-9A-F]+)`).exec(text)?.[1];
    const out = await respText(await staple({ certIdHash: hash }));
    for (const label of ['Issuer Name Hash', 'Issuer Key Hash', 'Serial Number']) {
      expect(wanted(label, out), label).toBeDefined();
      expect(wanted(label, out), label).toBe(wanted(label, request.stdout));
    }
    const verified = await opensslVerify(await staple({ certIdHash: hash }), { certIdHash: hash });
    expect(verified.output).toContain('leafEcdsa.pem: good');
  });

  it('accepts the leaf and issuer as bare DER', async () => {
    const now = new Date();
    const der = await createOcspResponse({
      signer: pki.intermediate,
      singles: [{ leaf: pki.leafRsa.der, issuer: pki.intermediate.der, status: 'good', thisUpdate: now, nextUpdate: null }],
    });
    const result = await opensslVerify(der, { leaf: paths.leafRsa! });
    expect(result.output).toContain('Response verify OK');
    expect(result.output).toContain('leafRsa.pem: good');
  });
});

describe('openssl ocsp verification', () => {
  const verifiedOk = async (overrides: StapleOverrides) => {
    const result = await opensslVerify(await staple(overrides));
    expect(result.output).toContain('Response verify OK');
    expect(result.output).toContain('leafEcdsa.pem: good');
    expect(result.code).toBe(0);
  };
  const verifyFails = async (overrides: StapleOverrides, reason: string) => {
    const result = await opensslVerify(await staple(overrides));
    expect(result.output).toContain('Response Verify Failure');
    expect(result.output).toContain(reason);
    expect(result.code).not.toBe(0);
  };

  it('accepts an issuer-signed response (no embedded certificates)', () => verifiedOk({}));
  it('accepts an issuer-signed response named byName', () => verifiedOk({ responderIdKind: 'byName' }));
  it('accepts a delegated ECDSA responder with OCSPSigning', () => verifiedOk({ signer: pki.responder }));
  it.each(['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const)('accepts a delegated RSA PKCS#1 %s signature', (signatureHash) =>
    verifiedOk({ signer: pki.responderRsa, signatureHash }),
  );
  it.each(['SHA-1', 'SHA-256', 'SHA-512'] as const)('accepts an RSASSA-PSS %s signature', (signatureHash) =>
    verifiedOk({ signer: pki.responderRsa, rsaPss: true, signatureHash }),
  );
  it('accepts a delegated responder trusted directly with -VAfile', async () => {
    const result = await opensslVerify(await staple({ signer: pki.responderRsa, rsaPss: true }), {
      extra: ['-VAfile', paths.responderRsa!],
    });
    expect(result.output).toContain('Response verify OK');
  });

  it('prints RSASSA-PSS parameters as OpenSSL expects them', async () => {
    const out = await respText(await staple({ signer: pki.responderRsa, rsaPss: true, signatureHash: 'SHA-384' }));
    expect(out).toMatch(/Signature Algorithm: rsassaPss\s+Signature Value:\s+Hash Algorithm: sha384\s+Mask Algorithm: mgf1 with sha384\s+Salt Length: 0x30\s+Trailer Field: 0x01 \(default\)/);
  });

  it('rejects a tampered ECDSA signature', () => verifyFails({ tamperSignature: true }, 'signature failure'));
  it('rejects a tampered RSA-PSS signature', () =>
    verifyFails({ signer: pki.responderRsa, rsaPss: true, tamperSignature: true }, 'ASN1_item_verify'));
  it('rejects a delegated responder without OCSPSigning', () =>
    verifyFails({ signer: pki.responderNoEku }, 'missing ocspsigning usage'));
  it('rejects an expired delegated responder', () => verifyFails({ signer: pki.responderExpired }, 'certificate has expired'));
  it('rejects a responder of another CA', () =>
    verifyFails({ signer: pki.strangerResponder }, 'unable to get local issuer certificate'));
  it('rejects a responderID that names someone else', () =>
    verifyFails({ responderIdOf: pki.responder, embedCertificates: [pki.responder] }, 'signature failure'));
  it('rejects a delegated response that does not embed its signer', () =>
    verifyFails({ signer: pki.responder, embedCertificates: [] }, 'signer certificate not found'));

  it('finds no status for another certificate', async () => {
    const result = await opensslVerify(await stapleFor(pki, pki.leafRsa), { leaf: paths.leafEcdsa! });
    expect(result.output).toContain('Response verify OK');
    expect(result.output).toContain('No Status found');
  });
});

describe('DER', () => {
  it('is canonical: OpenSSL re-encodes every kind of response to the same bytes', async () => {
    const variants: StapleOverrides[] = [
      {},
      { status: 'revoked', revocationReason: 'keyCompromise' },
      { status: 'unknown', nextUpdate: null },
      { signer: pki.responderRsa, rsaPss: true, responderIdKind: 'byName', nonce: new Uint8Array([1, 2, 3]) },
      { signer: pki.responder, certIdHash: 'SHA-256', embedCertificates: [pki.responder, pki.intermediate] },
    ];
    for (const overrides of variants) {
      const der = await staple(overrides);
      const input = await responseFile(der);
      const output = `${input}.out`;
      const result = await openssl(['ocsp', '-respin', input, '-noverify', '-respout', output]);
      expect(result.code, result.output).toBe(0);
      expect(new Uint8Array(await readFile(output)), JSON.stringify(Object.keys(overrides))).toEqual(der);
    }
  });
});

describe('bad options', () => {
  const now = new Date();
  const single = { leaf: new Uint8Array(0), issuer: new Uint8Array(0), status: 'good' as const, thisUpdate: now, nextUpdate: null };

  it('reject with stable codes', async () => {
    await expect(createOcspResponse({})).rejects.toMatchObject({ code: 'ERR_PKI_INVALID_OPTION' });
    await expect(staple({ status: 'revoked', revocationTime: new Date(Number.NaN) })).rejects.toMatchObject({
      code: 'ERR_PKI_INVALID_OPTION',
    });
    await expect(staple({ status: 'good', revocationReason: 'keyCompromise' })).rejects.toMatchObject({ code: 'ERR_PKI_INVALID_OPTION' });
    await expect(staple({ rsaPss: true })).rejects.toMatchObject({ code: 'ERR_PKI_INVALID_OPTION' });
    await expect(staple({ responseStatus: 'nope' as ResponseStatus })).rejects.toMatchObject({ code: 'ERR_PKI_INVALID_OPTION' });
    await expect(createOcspResponse({ signer: pki.intermediate, singles: [single] })).rejects.toBeInstanceOf(PkiError);
    await expect(createOcspResponse({ signer: pki.intermediate, singles: [single] })).rejects.toMatchObject({
      code: 'ERR_PKI_BAD_CERTIFICATE',
    });
  });
});
