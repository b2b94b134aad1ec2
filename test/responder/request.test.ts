/**
 * The OCSPRequest builder, judged by OpenSSL: for the same leaf and issuer, `openssl ocsp -reqout
 * -no_nonce` must write exactly our bytes (SHA-1 and SHA-256 CertIDs, EC and RSA issuers), and
 * `-req_text` must read our nonce extension.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificate } from '../../src/pki/index.js';
import { buildOcspRequest, ResponderError } from '../../src/responder/index.js';
import { cachedKeys, makeTestPki, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let dir: string;

function write(name: string, pem: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, pem);
  return file;
}

function opensslRequest(leafPem: string, issuerPem: string, digest: string): Buffer {
  const out = path.join(dir, `req-${digest}.der`);
  execFileSync('openssl', ['ocsp', `-${digest}`, '-issuer', write('issuer.pem', issuerPem), '-cert', write('leaf.pem', leafPem), '-no_nonce', '-reqout', out]);
  return readFileSync(out);
}

function reqText(der: Uint8Array): string {
  const file = path.join(dir, 'ours.der');
  writeFileSync(file, der);
  return execFileSync('openssl', ['ocsp', '-reqin', file, '-req_text'], { encoding: 'utf8' });
}

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(path.join(tmpdir(), 'responder-request-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buildOcspRequest', () => {
  it('writes exactly the bytes of `openssl ocsp -no_nonce -reqout` (SHA-1 default, SHA-256 on request)', () => {
    for (const leaf of [pki.leafEcdsa, pki.leafRsa]) {
      const sha1 = buildOcspRequest(leaf.der, pki.intermediate.der);
      expect(Buffer.from(sha1.der).toString('hex')).toBe(opensslRequest(leaf.pem, pki.intermediate.pem, 'sha1').toString('hex'));
      const sha256 = buildOcspRequest(leaf.der, pki.intermediate.der, { hash: 'SHA-256' });
      expect(Buffer.from(sha256.der).toString('hex')).toBe(opensslRequest(leaf.pem, pki.intermediate.pem, 'sha256').toString('hex'));
      expect(sha1.certId.hash).toBe('SHA-1');
      expect(sha256.certId.issuerKeyHash).toHaveLength(64);
    }
  });

  it('reports the CertID OpenSSL reads from the request', () => {
    const built = buildOcspRequest(pki.leafEcdsa.der, pki.intermediate.der);
    const text = reqText(built.der);
    expect(text).toContain('Hash Algorithm: sha1');
    expect(text).toContain(`Issuer Name Hash: ${built.certId.issuerNameHash.toUpperCase()}`);
    expect(text).toContain(`Issuer Key Hash: ${built.certId.issuerKeyHash.toUpperCase()}`);
    expect(text).toContain(`Serial Number: ${built.certId.serialNumber}`);
    expect(BigInt(`0x${built.certId.serialNumber}`)).toBe(pki.leafEcdsa.serialNumber);
    expect(text).not.toContain('Nonce');
  });

  it('copies serials with a high bit and small serials byte for byte', async () => {
    const keys = await cachedKeys('ec-p256', 'leaf-ecdsa');
    for (const serialNumber of [0x80n, 1n, 0xff_ff_ff_ff_ff_ff_ff_ff_ffn]) {
      const leaf = await createCertificate({ commonName: 'serial', issuer: pki.intermediate, keys, serialNumber });
      const built = buildOcspRequest(leaf.der, pki.intermediate.der);
      expect(Buffer.from(built.der).toString('hex')).toBe(opensslRequest(leaf.pem, pki.intermediate.pem, 'sha1').toString('hex'));
    }
  });

  it('adds a nonce extension (RFC 8954) only when asked, and OpenSSL reads it', () => {
    const nonce = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const built = buildOcspRequest(pki.leafEcdsa.der, pki.intermediate.der, { nonce });
    const text = reqText(built.der);
    expect(text).toMatch(/OCSP Nonce:\s*\n\s*0410([0-9A-F]+)/);
    expect(/OCSP Nonce:\s*\n\s*0410([0-9A-F]+)/.exec(text)![1]).toBe(Buffer.from(nonce).toString('hex').toUpperCase());
  });

  it('rejects unreadable certificates with a stable code and bad options with a TypeError', () => {
    const bad = () => buildOcspRequest(new Uint8Array([0x30, 0x03, 0x02, 0x01]), pki.intermediate.der);
    expect(bad).toThrow(ResponderError);
    try {
      bad();
    } catch (error) {
      expect((error as ResponderError).code).toBe('ERR_RESPONDER_BAD_CERTIFICATE');
      expect((error as Error).message).toMatch(/unreadable leaf certificate/);
    }
    expect(() => buildOcspRequest(pki.leafEcdsa.der, new Uint8Array(0))).toThrow(/unreadable issuer certificate/);
    expect(() => buildOcspRequest(pki.leafEcdsa.der, pki.intermediate.der, { nonce: new Uint8Array(0) })).toThrow(TypeError);
    expect(() => buildOcspRequest(pki.leafEcdsa.der, pki.intermediate.der, { hash: 'MD5' as never })).toThrow(TypeError);
  });
});
