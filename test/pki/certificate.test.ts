/**
 * Certificates from src/pki judged by the OpenSSL CLI: the extensions it shows, the chain it
 * verifies, the dates and serials it reads, and the keys matching their certificates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificate, generateKeys, PkiError, type CryptoKeyPair, type Issued } from '../../src/pki/index.js';
import { cachedKeys, makeTestPki, type TestPki } from '../helpers/pki.js';
import { makeTempDir, openssl, serialHex, type TempDir } from './support.js';

let pki: TestPki;
let dir: TempDir;
const files = new Map<string, string>();

async function certFile(name: string, issued: Issued): Promise<string> {
  let file = files.get(name);
  if (!file) {
    file = await dir.write(`${name}.pem`, issued.pem);
    files.set(name, file);
  }
  return file;
}

async function text(name: string, issued: Issued): Promise<string> {
  const result = await openssl(['x509', '-in', await certFile(name, issued), '-text', '-noout']);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

async function verify(name: string, issued: Issued, extra: string[] = []): Promise<{ code: number; output: string }> {
  return openssl([
    'verify',
    '-CAfile',
    await certFile('root', pki.root),
    '-untrusted',
    await certFile('intermediate', pki.intermediate),
    ...extra,
    await certFile(name, issued),
  ]);
}

beforeAll(async () => {
  [pki, dir] = await Promise.all([makeTestPki(), makeTempDir('pki-cert-')]);
});
afterAll(() => dir?.remove());

describe('certificate extensions as OpenSSL reads them', () => {
  it('marks CAs with a critical basicConstraints CA:TRUE and certificate-signing key usage', async () => {
    for (const [name, ca] of [['root', pki.root], ['intermediate', pki.intermediate]] as const) {
      const out = await text(name, ca);
      expect(out).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
      expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
      expect(out).toContain('X509v3 Subject Key Identifier');
      expect(out).not.toContain('Authority Information Access');
    }
    expect(await text('root', pki.root)).toContain('Issuer: CN = Test Root CA');
    expect(await text('intermediate', pki.intermediate)).toMatch(/Issuer: CN = Test Root CA\s[\s\S]*Subject: CN = Test Intermediate CA/);
  });

  it('gives a TLS leaf SANs, AIA OCSP URI, serverAuth EKU and no Must-Staple unless asked', async () => {
    const out = await text('leafEcdsa', pki.leafEcdsa);
    expect(out).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(out).toMatch(/X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication/);
    expect(out).toMatch(/X509v3 Subject Alternative Name:\s*\n\s+DNS:localhost, IP Address:127.0.0.1/);
    expect(out).toMatch(/Authority Information Access:\s*\n\s+OCSP - URI:http:\/\/ocsp\.example\.test\//);
    expect(out).not.toContain('TLS Feature');
    expect(out).toContain('Public Key Algorithm: id-ecPublicKey');
    expect(out).toContain('Signature Algorithm: ecdsa-with-SHA256');
  });

  it('shows Must-Staple as "TLS Feature: status_request"', async () => {
    expect(await text('leafMustStaple', pki.leafMustStaple)).toMatch(/TLS Feature:\s*\n\s+status_request/);
  });

  it('leaves the AIA extension out of a leaf without OCSP URLs', async () => {
    const out = await text('leafNoOcspUrl', pki.leafNoOcspUrl);
    expect(out).not.toContain('Authority Information Access');
    expect(out).not.toContain('OCSP - URI');
  });

  it('gives an RSA leaf a 2048-bit key and keyEncipherment', async () => {
    const out = await text('leafRsa', pki.leafRsa);
    expect(out).toContain('Public-Key: (2048 bit)');
    expect(out).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
  });

  it('gives delegated responders the OCSP Signing EKU, and not the one without it', async () => {
    expect(await text('responder', pki.responder)).toMatch(/X509v3 Extended Key Usage:\s*\n\s+OCSP Signing/);
    expect(await text('responderRsa', pki.responderRsa)).toMatch(/X509v3 Extended Key Usage:\s*\n\s+OCSP Signing/);
    expect(await text('responderNoEku', pki.responderNoEku)).not.toContain('OCSP Signing');
  });

  it('chains the authority key identifier to the issuer subject key identifier', async () => {
    const inter = await text('intermediate', pki.intermediate);
    const leaf = await text('leafEcdsa', pki.leafEcdsa);
    const ski = /Subject Key Identifier:\s*\n\s+([0-9A-F:]+)/.exec(inter)?.[1];
    expect(ski).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(leaf).toMatch(new RegExp(`Authority Key Identifier:\\s*\\n\\s+(keyid:)?${ski}`));
  });
});

describe('openssl verify', () => {
  it('accepts every leaf and responder issued under the root through the intermediate', async () => {
    const names = ['leafEcdsa', 'leafRsa', 'leafMustStaple', 'leafNoOcspUrl', 'responder', 'responderRsa', 'responderNoEku'] as const;
    for (const name of names) {
      const result = await verify(name, pki[name]);
      expect(result.output, name).toContain(': OK');
      expect(result.code, name).toBe(0);
    }
  });

  it('rejects the expired responder and the stranger leaf', async () => {
    const expired = await verify('responderExpired', pki.responderExpired);
    expect(expired.code).not.toBe(0);
    expect(expired.output).toContain('certificate has expired');
    const stranger = await verify('strangerLeaf', pki.strangerLeaf);
    expect(stranger.code).not.toBe(0);
    expect(stranger.output).toContain('unable to get local issuer certificate');
  });

  it('accepts the leaves for TLS server use by purpose', async () => {
    const result = await verify('leafRsa', pki.leafRsa, ['-purpose', 'sslserver']);
    expect(result.code, result.output).toBe(0);
  });
});

describe('chosen fields', () => {
  it('writes the serial, whole-second dates, UTCTime before 2050 and GeneralizedTime after', async () => {
    const cert = await createCertificate({
      commonName: 'dates.test',
      issuer: pki.intermediate,
      keys: await cachedKeys('ec-p256', 'dates'),
      serialNumber: 0x80_12_34_56_78_9a_bc_den,
      notBefore: new Date('2026-03-04T05:06:07.890Z'),
      notAfter: new Date('2051-01-02T03:04:05.999Z'),
    });
    const file = await dir.write('dates.pem', cert.pem);
    const dates = await openssl(['x509', '-in', file, '-noout', '-serial', '-startdate', '-enddate']);
    expect(dates.stdout).toBe(
      'serial=80123456789ABCDE\nnotBefore=Mar  4 05:06:07 2026 GMT\nnotAfter=Jan  2 03:04:05 2051 GMT\n',
    );
    expect(serialHex(cert.serialNumber)).toBe('80123456789ABCDE');
    expect(cert.notBefore.toISOString()).toBe('2026-03-04T05:06:07.000Z');
    const asn1 = await openssl(['asn1parse', '-in', file]);
    expect(asn1.stdout).toMatch(/UTCTIME\s+:260304050607Z/);
    expect(asn1.stdout).toMatch(/GENERALIZEDTIME\s+:20510102030405Z/);
    // 0x80… needs a leading zero octet to stay positive (X.690 §8.3.2); negative would print as -7F….
    expect(asn1.stdout).toMatch(/l=\s*9 prim: INTEGER\s+:80123456789ABCDE/);
  });

  it('signs with SHA-384 under a P-384 issuer and encodes IPv6 SANs', async () => {
    const ca = await createCertificate({ commonName: 'P-384 CA', isCA: true, keys: await cachedKeys('ec-p384', 'ca') });
    const leaf = await createCertificate({
      commonName: 'v6.test',
      issuer: ca,
      keys: await cachedKeys('ec-p384', 'leaf'),
      ipAddresses: ['::1', '2001:db8::1:0:0:2', '::ffff:192.0.2.1'],
    });
    expect(leaf.kind).toBe('ec-p384');
    const out = await text('p384leaf', leaf);
    expect(out).toContain('Signature Algorithm: ecdsa-with-SHA384');
    expect(out).toContain('NIST CURVE: P-384');
    expect(out).toContain('IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:1:0:0:2, IP Address:0:0:0:0:0:FFFF:C000:201');
    const caFile = await dir.write('p384ca.pem', ca.pem);
    const result = await openssl(['verify', '-CAfile', caFile, await certFile('p384leaf', leaf)]);
    expect(result.code, result.output).toBe(0);
  });

  it('can be asked for a SHA-384 signature from a P-256 issuer', async () => {
    const cert = await createCertificate({
      commonName: 'sha384.test',
      issuer: pki.intermediate,
      keys: await cachedKeys('ec-p256', 'sha384'),
      signatureHash: 'SHA-384',
    });
    expect(await text('sha384', cert)).toContain('Signature Algorithm: ecdsa-with-SHA384');
    expect((await verify('sha384', cert)).code).toBe(0);
  });

  it('writes PKCS#8 keys that belong to their certificates', async () => {
    for (const [name, issued] of [['leafEcdsa', pki.leafEcdsa], ['leafRsa', pki.leafRsa]] as const) {
      const keyFile = await dir.write(`${name}.key`, issued.keyPem);
      expect(issued.keyPem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
      const fromKey = await openssl(['pkey', '-in', keyFile, '-pubout']);
      const fromCert = await openssl(['x509', '-in', await certFile(name, issued), '-noout', '-pubkey']);
      expect(fromKey.code).toBe(0);
      expect(fromKey.stdout).toBe(fromCert.stdout);
    }
  });
});

describe('bad options', () => {
  async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
    try {
      await promise;
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(PkiError);
      return (error as PkiError).code;
    }
  }

  it('reject with stable codes instead of making a broken certificate', async () => {
    const keys = await cachedKeys('ec-p256', 'bad-options');
    expect(await codeOf(createCertificate({ commonName: '', keys }))).toBe('ERR_PKI_INVALID_OPTION');
    expect(await codeOf(createCertificate({ commonName: 'x', keys, serialNumber: 0n }))).toBe('ERR_PKI_INVALID_OPTION');
    expect(await codeOf(createCertificate({ commonName: 'x', keys, ipAddresses: ['300.1.1.1'] }))).toBe('ERR_PKI_INVALID_OPTION');
    expect(await codeOf(createCertificate({ commonName: 'x', keys, dnsNames: ['bad name\n'] }))).toBe('ERR_PKI_INVALID_OPTION');
    expect(await codeOf(createCertificate({ commonName: 'x', keys, keyKind: 'rsa-2048' }))).toBe('ERR_PKI_INVALID_OPTION');
    expect(
      await codeOf(createCertificate({ commonName: 'x', keys, notBefore: new Date('2030-01-01'), notAfter: new Date('2029-01-01') })),
    ).toBe('ERR_PKI_INVALID_OPTION');
    expect(await codeOf(createCertificate({ commonName: 'x', keys, notBefore: new Date(Number.NaN) }))).toBe('ERR_PKI_INVALID_OPTION');
  });

  it('rejects keys it cannot export or does not support', async () => {
    const hidden = await globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    expect(await codeOf(createCertificate({ commonName: 'x', keys: hidden }))).toBe('ERR_PKI_UNSUPPORTED_KEY');
    const ed = (await globalThis.crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    expect(await codeOf(createCertificate({ commonName: 'x', keys: ed }))).toBe('ERR_PKI_UNSUPPORTED_KEY');
    await expect(generateKeys('dsa' as never)).rejects.toMatchObject({ code: 'ERR_PKI_INVALID_OPTION' });
  });
});
