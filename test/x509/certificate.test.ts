/**
 * certificateFacts and findIssuer on certificates made by the openssl CLI, with OpenSSL's own
 * reading (`openssl x509 -serial -fingerprint -subject -ocsp_uri -enddate`) as the judge; and
 * decodeCertificatesInput / decodeOcspResponseInput on the forms operators hand over.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFacts, findIssuer } from '../../src/x509/certificate.js';
import { OcspParseError } from '../../src/ocsp/errors.js';
import { CertificateParseError } from '../../src/x509/errors.js';
import { decodeOcspResponseInput } from '../../src/ocsp/input.js';
import { decodeCertificatesInput } from '../../src/x509/input.js';
import { createOpensslPki, openssl, opensslOcspResponse, type OpensslCert, type OpensslPki } from '../helpers/openssl.js';

let dir: string;
let pki: OpensslPki;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ocsp-cert-'));
  pki = await createOpensslPki(dir);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function opensslReading(cert: OpensslCert) {
  const out = (
    await openssl(['x509', '-in', cert.certPath, '-noout', '-serial', '-fingerprint', '-sha256', '-ocsp_uri', '-enddate', '-startdate',
      '-subject', '-issuer', '-nameopt', 'RFC2253'])
  ).stdout.toString('utf8');
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1];
  return {
    serial: field('serial'),
    fingerprint: field('sha256 Fingerprint')?.replace(/:/g, '').toLowerCase(),
    notAfter: new Date(field('notAfter')!.replace(' GMT', ' UTC')),
    notBefore: new Date(field('notBefore')!.replace(' GMT', ' UTC')),
    subject: field('subject'),
    issuer: field('issuer'),
    ocspUrls: out.split('\n').filter((l) => /^https?:\/\//.test(l)),
  };
}

describe('certificateFacts agrees with openssl x509', () => {
  it.each(['leafEc', 'leafRsa', 'leafMustStaple', 'leafNoOcspUrl', 'responder', 'intermediate', 'root'] as const)('%s', async (name) => {
    const cert = pki[name];
    const facts = certificateFacts(cert.der);
    const theirs = await opensslReading(cert);
    expect(facts.serialNumber).toBe(theirs.serial);
    expect(facts.fingerprintSha256).toBe(theirs.fingerprint);
    expect(facts.notAfter).toEqual(theirs.notAfter);
    expect(facts.notBefore).toEqual(theirs.notBefore);
    expect(facts.subject).toBe(theirs.subject);
    expect(facts.issuer).toBe(theirs.issuer);
    expect(facts.ocspUrls).toEqual(theirs.ocspUrls);
  });

  it('reads AIA OCSP URL, Must-Staple, EKU and CA flag', () => {
    expect(certificateFacts(pki.leafEc.der)).toMatchObject({
      subject: 'CN=localhost,OU=ECDSA,O=OCSP Test',
      issuer: 'CN=Test Intermediate CA,O=OCSP Test',
      ocspUrls: [pki.ocspUrl],
      mustStaple: false,
      extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'],
      isCA: false,
    });
    expect(certificateFacts(pki.leafMustStaple.der).mustStaple).toBe(true);
    expect(certificateFacts(pki.leafNoOcspUrl.der).ocspUrls).toEqual([]);
    expect(certificateFacts(pki.responder.der).extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.9']);
    expect(certificateFacts(pki.intermediate.der).isCA).toBe(true);
    expect(certificateFacts(pki.intermediate.der).extendedKeyUsage).toEqual([]);
  });

  it('is cached by bytes: the same object for equal bytes in another buffer', () => {
    expect(certificateFacts(pki.leafEc.der)).toBe(certificateFacts(Uint8Array.from(pki.leafEc.der)));
  });

  it('bad bytes throw CertificateParseError with a code', () => {
    const codeOf = (der: Uint8Array) => {
      try {
        certificateFacts(der);
      } catch (error) {
        expect(error).toBeInstanceOf(CertificateParseError);
        return (error as CertificateParseError).code;
      }
      return 'no error';
    };
    expect(codeOf(new Uint8Array(0))).toBe('ERR_CERT_MALFORMED');
    expect(codeOf(pki.leafEc.der.subarray(0, 100))).toBe('ERR_CERT_MALFORMED');
    expect(codeOf(Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x03))).toBe('ERR_CERT_MALFORMED');
    expect(codeOf(new Uint8Array(70_000).fill(0x30))).toBe('ERR_CERT_TOO_LARGE');
  });
});

describe('findIssuer', () => {
  it('picks the CA that signed the leaf among several, skipping a look-alike with the same name', () => {
    const candidates = [pki.strangerCa.der, pki.impostorCa.der, pki.root.der, pki.intermediate.der, pki.leafRsa.der];
    expect(findIssuer(pki.leafEc.der, candidates)).toBe(pki.intermediate.der);
    expect(findIssuer(pki.intermediate.der, candidates)).toBe(pki.root.der);
    expect(findIssuer(pki.strangerResponder.der, candidates)).toBe(pki.strangerCa.der);
  });

  it('null when only the impostor or unrelated certificates are offered, or input is junk', () => {
    expect(findIssuer(pki.leafEc.der, [pki.impostorCa.der, pki.strangerCa.der])).toBeNull();
    expect(findIssuer(pki.leafEc.der, [])).toBeNull();
    expect(findIssuer(Uint8Array.of(1, 2, 3), [pki.intermediate.der])).toBeNull();
    expect(findIssuer(pki.leafEc.der, [Uint8Array.of(1, 2, 3), pki.intermediate.der])).toBe(pki.intermediate.der);
  });
});

describe('decodeCertificatesInput', () => {
  it('PEM bundle in order, skipping key blocks; single DER; concatenated DER', async () => {
    const keyPem = (await openssl(['pkey', '-in', pki.leafEc.keyPath])).stdout.toString('utf8');
    const bundle = new TextEncoder().encode(pki.leafEc.pem + keyPem + pki.intermediate.pem + pki.root.pem);
    const decoded = decodeCertificatesInput(bundle);
    expect(decoded.map((d) => Buffer.from(d).toString('hex'))).toEqual(
      [pki.leafEc, pki.intermediate, pki.root].map((c) => Buffer.from(c.der).toString('hex')),
    );
    expect(decodeCertificatesInput(pki.leafRsa.der)).toHaveLength(1);
    expect(decodeCertificatesInput(Buffer.concat([pki.leafRsa.der, pki.root.der]))).toHaveLength(2);
  });

  it('junk, keys only, broken base64 → CertificateParseError', () => {
    const fails = (text: string | Uint8Array) =>
      expect(() => decodeCertificatesInput(typeof text === 'string' ? new TextEncoder().encode(text) : text)).toThrow(CertificateParseError);
    fails('');
    fails('hello');
    fails('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    fails('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n');
    fails('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    fails(pki.leafEc.der.subarray(0, 50));
  });
});

describe('decodeOcspResponseInput', () => {
  it('DER, base64 and PEM all give the same DER', async () => {
    const der = await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.responder, ndays: 1 });
    const b64 = Buffer.from(der).toString('base64');
    const pem = `-----BEGIN OCSP RESPONSE-----\n${b64.replace(/.{64}/g, '$&\n')}\n-----END OCSP RESPONSE-----\n`;
    for (const input of [der, new TextEncoder().encode(b64 + '\n'), new TextEncoder().encode(pem)]) {
      expect(Buffer.from(decodeOcspResponseInput(input)).equals(Buffer.from(der))).toBe(true);
    }
  });

  it('errors carry OCSP codes', () => {
    const codeOf = (input: string | Uint8Array) => {
      try {
        decodeOcspResponseInput(typeof input === 'string' ? new TextEncoder().encode(input) : input);
      } catch (error) {
        expect(error).toBeInstanceOf(OcspParseError);
        return (error as OcspParseError).code;
      }
      return 'no error';
    };
    expect(codeOf('')).toBe('ERR_OCSP_EMPTY');
    expect(codeOf('  \n')).toBe('ERR_OCSP_EMPTY');
    expect(codeOf('not base64 at all!')).toBe('ERR_OCSP_MALFORMED');
    expect(codeOf(pki.leafEc.pem)).toBe('ERR_OCSP_MALFORMED');
    expect(codeOf(new Uint8Array(70_000).fill(0x30))).toBe('ERR_OCSP_TOO_LARGE');
    expect(codeOf('A'.repeat(200_000))).toBe('ERR_OCSP_TOO_LARGE');
  });
});
