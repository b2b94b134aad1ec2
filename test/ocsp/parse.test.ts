/**
 * parseOcspResponse: what it reads in responses made by `openssl ocsp` must be what
 * `openssl ocsp -resp_text` reads in them (every SingleResponse, dates, serials, reasons,
 * responderID, algorithms), non-successful statuses are data, and every kind of bad input is an
 * OcspParseError with a stable code — quickly, without stack overflows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspParseError } from '../../src/ocsp/errors.js';
import { MAX_OCSP_RESPONSE_BYTES, parseOcspResponse } from '../../src/ocsp/parse.js';
import type { ParsedOcspResponse } from '../../src/ocsp/types.js';
import {
  createOpensslPki,
  opensslOcspResponse,
  opensslRespText,
  type OcspResponseOptions,
  type OpensslPki,
} from '../helpers/openssl.js';

let dir: string;
let pki: OpensslPki;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ocsp-parse-'));
  pki = await createOpensslPki(dir);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function respond(options: Partial<OcspResponseOptions> = {}): Promise<Uint8Array> {
  return opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.responder, ndays: 1, ...options });
}

/** DER TLV with a definite length (hand-rolled, independent of src/). */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return new Uint8Array(Buffer.concat([Uint8Array.of(tag, ...len), body]));
}

function parseError(input: Uint8Array): OcspParseError {
  try {
    parseOcspResponse(input);
  } catch (error) {
    expect(error).toBeInstanceOf(OcspParseError);
    return error as OcspParseError;
  }
  throw new Error('expected an OcspParseError');
}

/** OpenSSL's one-line DN (`O = A, CN = B`) as an RFC 4514 string (`CN=B,O=A`). */
function rfc4514FromOpenssl(oneline: string): string {
  return oneline.split(', ').map((rdn) => rdn.replace(' = ', '=')).reverse().join(',');
}

const OPENSSL_SIG_NAMES: Record<string, string> = { rsassaPss: 'RSASSA-PSS' };

async function expectSameAsOpenssl(der: Uint8Array): Promise<ParsedOcspResponse> {
  const ours = parseOcspResponse(der);
  const theirs = await opensslRespText(der);
  expect(ours.responseStatus.toLowerCase()).toBe(theirs.status);
  expect(ours.size).toBe(der.length);
  const basic = ours.basic!;
  expect(basic.producedAt).toEqual(theirs.producedAt);
  if (basic.responderId.kind === 'byName') expect(basic.responderId.value).toBe(rfc4514FromOpenssl(theirs.responderId!));
  else expect(basic.responderId.value).toBe(theirs.responderId!.toLowerCase());
  expect(basic.signatureAlgorithm.name).toBe(OPENSSL_SIG_NAMES[theirs.signatureAlgorithm!] ?? theirs.signatureAlgorithm);
  expect(basic.singleResponses.length).toBe(theirs.singles.length);
  basic.singleResponses.forEach((single, i) => {
    const t = theirs.singles[i]!;
    expect(single.certId.hashAlgorithm.name).toBe(t.hashAlgorithm);
    expect(single.certId.issuerNameHash).toBe(t.issuerNameHash);
    expect(single.certId.issuerKeyHash).toBe(t.issuerKeyHash);
    expect(single.certId.serialNumber).toBe(t.serial);
    expect(single.certStatus).toBe(t.certStatus);
    expect(single.thisUpdate).toEqual(t.thisUpdate);
    expect(single.nextUpdate).toEqual(t.nextUpdate);
    expect(single.revocationTime).toEqual(t.revocationTime);
    expect(single.revocationReason).toBe(t.revocationReason);
  });
  return ours;
}

describe('responses made by openssl, read as openssl reads them', () => {
  it('good, delegated, byName, one certificate embedded', async () => {
    const der = await respond();
    const parsed = await expectSameAsOpenssl(der);
    expect(parsed.responseType).toBe('1.3.6.1.5.5.7.48.1.1');
    expect(parsed.basic?.certificates.map((c) => Buffer.from(c).toString('hex'))).toEqual([Buffer.from(pki.responder.der).toString('hex')]);
    expect(parsed.basic?.responderId).toEqual({ kind: 'byName', value: 'CN=Test OCSP Responder,O=OCSP Test' });
  });

  it('several SingleResponses with good, revoked (each reason) and unknown', async () => {
    const certs = [pki.leafEc, pki.leafRsa, pki.leafMustStaple, pki.leafNoOcspUrl, pki.responder, pki.responderNoEku];
    const reasons = ['keyCompromise', 'CACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold'] as const;
    const index = certs.slice(0, 5).map((c, i) =>
      i === 0 ? { serial: c.serial, status: 'good' as const } : { serial: c.serial, status: 'revoked' as const, reason: reasons[i], revokedAt: new Date(Date.UTC(2026, 0, i, 12, 30, 15)) },
    );
    const parsed = await expectSameAsOpenssl(await respond({ certs, index }));
    expect(parsed.basic?.singleResponses.map((s) => s.certStatus)).toEqual(['good', 'revoked', 'revoked', 'revoked', 'revoked', 'unknown']);
    expect(parsed.basic?.singleResponses[2]?.revocationReason).toBe('affiliationChanged');
    expect(parsed.basic?.singleResponses[1]?.revocationReason).toBe('cACompromise');
    expect(parsed.basic?.singleResponses[3]?.revocationTime).toEqual(new Date(Date.UTC(2026, 0, 3, 12, 30, 15)));
  });

  it('no nextUpdate → null', async () => {
    const parsed = await expectSameAsOpenssl(await respond({ ndays: undefined }));
    expect(parsed.basic?.singleResponses[0]?.nextUpdate).toBeNull();
  });

  it('byKey responderID, no certificates, SHA-256 CertID', async () => {
    const parsed = await expectSameAsOpenssl(await respond({ respKeyId: true, noCerts: true, certIdHash: 'sha256', signer: pki.intermediate }));
    expect(parsed.basic?.responderId.kind).toBe('byKey');
    expect(parsed.basic?.responderId.value).toMatch(/^[0-9a-f]{40}$/);
    expect(parsed.basic?.certificates).toEqual([]);
    expect(parsed.basic?.singleResponses[0]?.certId.hashAlgorithm).toEqual({ oid: '2.16.840.1.101.3.4.2.1', name: 'sha256' });
  });

  it('RSA-PSS, RSA SHA-512, P-384 signature algorithms', async () => {
    expect((await expectSameAsOpenssl(await respond({ signer: pki.responderRsa, rsigopt: ['rsa_padding_mode:pss'] }))).basic?.signatureAlgorithm)
      .toEqual({ oid: '1.2.840.113549.1.1.10', name: 'RSASSA-PSS' });
    expect((await expectSameAsOpenssl(await respond({ signer: pki.responderRsa, rmd: 'sha512' }))).basic?.signatureAlgorithm.name).toBe('sha512WithRSAEncryption');
    expect((await expectSameAsOpenssl(await respond({ signer: pki.responderP384, rmd: 'sha384' }))).basic?.signatureAlgorithm.name).toBe('ecdsa-with-SHA384');
  });

  it('a nonce response extension', async () => {
    const parsed = await expectSameAsOpenssl(await respond({ nonce: true }));
    const [nonce] = parsed.basic?.responseExtensions ?? [];
    expect(nonce).toMatchObject({ oid: '1.3.6.1.5.5.7.48.1.2', name: 'nonce', critical: false });
    expect(nonce?.valueHex).toMatch(/^04[0-9a-f]{2}/);
  });
});

describe('non-successful statuses are data', () => {
  it.each([
    [1, 'malformedRequest'],
    [2, 'internalError'],
    [3, 'tryLater'],
    [5, 'sigRequired'],
    [6, 'unauthorized'],
  ])('30 03 0a 01 0%i → %s', async (code, name) => {
    const der = Uint8Array.of(0x30, 0x03, 0x0a, 0x01, code);
    expect(parseOcspResponse(der)).toEqual({ responseStatus: name, responseType: null, basic: null, size: 5 });
    expect((await opensslRespText(der)).statusCode).toBe(code);
  });

  it('unknown status value 4 or 7: ERR_OCSP_UNSUPPORTED', () => {
    expect(parseError(Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 4)).code).toBe('ERR_OCSP_UNSUPPORTED');
    expect(parseError(Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 7)).code).toBe('ERR_OCSP_UNSUPPORTED');
  });

  it('successful without responseBytes is malformed', () => {
    expect(parseError(Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0)).code).toBe('ERR_OCSP_MALFORMED');
  });

  it('a responseType other than id-pkix-ocsp-basic is reported, not interpreted', () => {
    const oid = Uint8Array.of(0x06, 0x03, 0x2a, 0x03, 0x04); // 1.2.3.4
    const der = tlv(0x30, Uint8Array.of(0x0a, 0x01, 0x00), tlv(0xa0, tlv(0x30, oid, tlv(0x04, Uint8Array.of(1, 2, 3)))));
    expect(parseOcspResponse(der)).toEqual({ responseStatus: 'successful', responseType: '1.2.3.4', basic: null, size: der.length });
  });
});

describe('bad input is an OcspParseError, quickly', () => {
  it('empty → ERR_OCSP_EMPTY; over 64 KiB → ERR_OCSP_TOO_LARGE', () => {
    expect(parseError(new Uint8Array(0)).code).toBe('ERR_OCSP_EMPTY');
    expect(parseError(new Uint8Array(MAX_OCSP_RESPONSE_BYTES + 1).fill(0x30)).code).toBe('ERR_OCSP_TOO_LARGE');
    const junk = new Uint8Array(1 << 20);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) & 0xff;
    expect(parseError(junk).code).toBe('ERR_OCSP_TOO_LARGE');
  });

  it('every truncation of a real response → ERR_OCSP_MALFORMED', async () => {
    const der = await respond({ certs: [pki.leafEc, pki.leafRsa] });
    for (let n = 1; n < der.length; n++) {
      const error = parseError(der.subarray(0, n));
      expect(error.code, `length ${n}`).toBe('ERR_OCSP_MALFORMED');
    }
  });

  it('trailing bytes after the response → ERR_OCSP_MALFORMED', async () => {
    const der = await respond();
    expect(parseError(Buffer.concat([der, Uint8Array.of(0)])).message).toMatch(/trailing/);
  });

  it('wrong outer types: a certificate, an OCSP request, an INTEGER, text', async () => {
    expect(parseError(pki.leafEc.der).code).toBe('ERR_OCSP_MALFORMED');
    expect(parseError(Uint8Array.of(0x02, 0x01, 0x00)).message).toMatch(/expected a SEQUENCE/);
    expect(parseError(new TextEncoder().encode('hello world')).code).toBe('ERR_OCSP_MALFORMED');
    expect(parseError(Uint8Array.of(0x30, 0x80, 0x0a, 0x01, 0x03, 0x00, 0x00)).message).toMatch(/indefinite/);
  });

  it('deeply nested SEQUENCEs (100k headers, and as deep as fits in 64 KiB) fail fast, no stack overflow', () => {
    const hundredK = new Uint8Array(100_000 * 2).fill(0x30);
    for (let i = 1; i < hundredK.length; i += 2) hundredK[i] = 0x80;
    // Nested definite-length SEQUENCEs filling 60 KiB (~15k levels), inside a plausible outer shell.
    const headers: number[][] = [];
    let length = 2;
    while (length < 60_000) {
      const header = length < 0x80 ? [0x30, length] : length < 0x100 ? [0x30, 0x81, length] : [0x30, 0x82, length >> 8, length & 0xff];
      headers.push(header);
      length += header.length;
    }
    const inner = Uint8Array.from([...headers.reverse().flat(), 0x05, 0x00]);
    const t0 = performance.now();
    expect(parseError(hundredK).code).toBe('ERR_OCSP_TOO_LARGE');
    expect(parseError(inner).code).toBe('ERR_OCSP_MALFORMED');
    const shell = tlv(0x30, Uint8Array.of(0x0a, 0x01, 0x00), tlv(0xa0, tlv(0x30, Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01), tlv(0x04, inner))));
    expect(parseError(shell).code).toBe('ERR_OCSP_MALFORMED');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('never anything but OcspParseError for non-Uint8Array input', () => {
    expect(parseError('30030a0103' as unknown as Uint8Array).code).toBe('ERR_OCSP_MALFORMED');
  });
});
