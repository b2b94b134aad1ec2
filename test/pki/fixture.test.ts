/**
 * The shared test fixture (test/helpers/pki.ts): built once per process, wired as its top comment
 * says, and `stapleFor` defaults that OpenSSL accepts as a fresh good answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainPem, readCertificate } from '../../src/pki/index.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { makeTempDir, openssl, opensslDate, type TempDir } from './support.js';

let pki: TestPki;
let dir: TempDir;
beforeAll(async () => {
  [pki, dir] = await Promise.all([makeTestPki(), makeTempDir('pki-fixture-')]);
});
afterAll(() => dir?.remove());

describe('makeTestPki', () => {
  it('is memoised, and so are cached keys', async () => {
    expect(await makeTestPki()).toBe(pki);
    expect(await cachedKeys('ec-p256', 'root')).toBe(pki.root.keys);
  });

  it('wires issuers and key kinds as documented', () => {
    expect(pki.root.issuer).toBeNull();
    expect(pki.intermediate.issuer).toBe(pki.root);
    for (const name of ['leafEcdsa', 'leafRsa', 'leafMustStaple', 'leafNoOcspUrl', 'responder', 'responderRsa', 'responderNoEku', 'responderExpired'] as const) {
      expect(pki[name].issuer, name).toBe(pki.intermediate);
    }
    expect(pki.strangerResponder.issuer).toBe(pki.strangerCa);
    expect(pki.strangerLeaf.issuer).toBe(pki.strangerCa);
    expect(pki.leafRsa.kind).toBe('rsa-2048');
    expect(pki.responderRsa.kind).toBe('rsa-2048');
    expect(pki.leafEcdsa.kind).toBe('ec-p256');
    expect(pki.responderExpired.notAfter.getTime()).toBeLessThan(Date.now());
    const serials = new Set(Object.values(pki).flatMap((v) => (typeof v === 'object' ? [v.serialNumber] : [])));
    expect(serials.size).toBe(13);
  });

  it('records the serial and validity actually written in each certificate', () => {
    const parts = readCertificate(pki.leafEcdsa.der);
    expect(parts.serialNumber).toBe(pki.leafEcdsa.serialNumber);
    expect(parts.notBefore).toEqual(pki.leafEcdsa.notBefore);
    expect(parts.notAfter).toEqual(pki.leafEcdsa.notAfter);
  });

  it('chainPem sends leaf and intermediate, and the root only when asked', () => {
    expect(chainPem(pki.leafEcdsa)).toBe(pki.leafEcdsa.pem + pki.intermediate.pem);
    expect(chainPem(pki.leafEcdsa, { includeRoot: true })).toBe(pki.leafEcdsa.pem + pki.intermediate.pem + pki.root.pem);
    expect(chainPem(pki.root)).toBe(pki.root.pem);
  });
});

describe('stapleFor', () => {
  it('defaults to a fresh good answer from the issuer that OpenSSL verifies', async () => {
    const now = new Date('2030-06-01T12:00:00Z');
    const file = await dir.write('default.der', await stapleFor(pki, pki.leafMustStaple, { now }));
    const text = await openssl(['ocsp', '-respin', file, '-resp_text', '-noverify']);
    expect(text.stdout).toContain(`Produced At: ${opensslDate(new Date('2030-06-01T11:00:00Z'))}`);
    expect(text.stdout).toContain(`This Update: ${opensslDate(new Date('2030-06-01T11:00:00Z'))}`);
    expect(text.stdout).toContain(`Next Update: ${opensslDate(new Date('2030-06-04T12:00:00Z'))}`);

    const fresh = await dir.write('fresh.der', await stapleFor(pki, pki.leafMustStaple));
    const leafFile = await dir.write('leaf.pem', pki.leafMustStaple.pem);
    const issuerFile = await dir.write('intermediate.pem', pki.intermediate.pem);
    const rootFile = await dir.write('root.pem', pki.root.pem);
    const verified = await openssl([
      'ocsp', '-respin', fresh, '-issuer', issuerFile, '-cert', leafFile, '-CAfile', rootFile,
      '-verify_other', issuerFile, '-no_nonce', '-status_age', '7200',
    ]);
    expect(verified.output).toContain('Response verify OK');
    expect(verified.output).toContain('leaf.pem: good');
    expect(verified.output).not.toContain('WARNING: Status times invalid');
  });

  it('fills in a revocation time a day back and keeps a given reason', async () => {
    const now = new Date('2030-06-01T12:00:00Z');
    const file = await dir.write('revoked.der', await stapleFor(pki, pki.leafEcdsa, { now, status: 'revoked', revocationReason: 'superseded' }));
    const text = await openssl(['ocsp', '-respin', file, '-resp_text', '-noverify']);
    expect(text.stdout).toContain(`Revocation Time: ${opensslDate(new Date('2030-05-31T12:00:00Z'))}`);
    expect(text.stdout).toContain('Revocation Reason: superseded (0x4)');
  });

  it('uses the stranger CA as issuer for the stranger leaf', async () => {
    const file = await dir.write('stranger.der', await stapleFor(pki, pki.strangerLeaf));
    const text = await openssl(['ocsp', '-respin', file, '-resp_text', '-noverify']);
    const ski = await openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier', '-in', await dir.write('stranger-ca.pem', pki.strangerCa.pem)]);
    const keyId = /\n\s+([0-9A-F:]+)/.exec(ski.stdout)?.[1]?.replaceAll(':', '');
    expect(keyId).toHaveLength(40);
    expect(text.stdout).toContain(`Issuer Key Hash: ${keyId}`);
  });
});
