/**
 * Lab self-test: the PKI and the `openssl ocsp` responder are what the other lab files assume.
 * Judged by OpenSSL itself (`openssl x509 -text`, `openssl ocsp -url`, `-resp_text`), never by the
 * exporter's parser.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  LabError,
  TRY_LATER_DER,
  describeOcspResponse,
  liveProcessCount,
  opensslVerifyResponse,
  postOcspRequest,
  requireLabTools,
  responseStatusByte,
  waitFor,
} from './lab/index.js';
import { openssl } from './lab/exec.js';

const gate = requireLabTools(['openssl', 'faketime']);

describe.skipIf(gate.skip)('lab: PKI and OCSP responder', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'lab-responder' });
    console.info(`lab-responder timings: ${JSON.stringify(lab.timings)}`);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('issues leaves for localhost/127.0.0.1 whose AIA names the live responder', async () => {
    for (const [leaf, keyText] of [
      [lab.leaves.ecdsa, 'id-ecPublicKey'],
      [lab.leaves.rsa, 'rsaEncryption'],
    ] as const) {
      const text = (await openssl(['x509', '-in', leaf.certPath, '-noout', '-text'])).stdout.toString('utf8');
      expect(text).toContain(`OCSP - URI:${lab.responder.url}`);
      expect(lab.responder.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(text).toMatch(/DNS:localhost, IP Address:127\.0\.0\.1/);
      expect(text).toContain(keyText);
      expect(text).toContain('TLS Web Server Authentication');
      const verify = await openssl(['verify', '-CAfile', lab.pki.root.certPath, '-untrusted', lab.pki.intermediate.certPath, leaf.certPath]);
      expect(verify.stdout.toString('utf8')).toContain(': OK');
    }
    expect(lab.leaves.rsa.keyType).toBe('rsa');
  });

  it('issues Must-Staple leaves and leaves without an OCSP URL on request', async () => {
    const mustStaple = await lab.issueLeaf({ name: 'must-staple', mustStaple: true });
    const text = (await openssl(['x509', '-in', mustStaple.certPath, '-noout', '-text'])).stdout.toString('utf8');
    expect(text).toMatch(/TLS Feature:\s*\n\s*status_request/);
    const noAia = await lab.issueLeaf({ name: 'no-aia', ocspUrl: null });
    const noAiaText = (await openssl(['x509', '-in', noAia.certPath, '-noout', '-text'])).stdout.toString('utf8');
    expect(noAiaText).not.toContain('Authority Information Access');
  });

  it('makes a delegated responder certificate with id-kp-OCSPSigning issued by the intermediate', async () => {
    const text = (await openssl(['x509', '-in', lab.pki.responder.certPath, '-noout', '-text'])).stdout.toString('utf8');
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s*OCSP Signing/);
    expect(text).toContain('OCSP No Check');
    expect(text).toContain('Issuer: O = OCSP Lab, CN = OCSP Lab Intermediate');
  });

  it('records the revoked leaf in the CA database with keyCompromise', async () => {
    const index = await readFile(lab.pki.indexPath, 'utf8');
    const line = index.split('\n').find((l) => l.split('\t')[3] === lab.leaves.revoked.serial);
    expect(line).toMatch(/^R\t\d{12}Z\t\d{12}Z,keyCompromise\t/);
  });

  it('answers revoked with keyCompromise for the revoked leaf (openssl ocsp -url)', async () => {
    const { stdout, stderr } = await openssl([
      'ocsp', '-issuer', lab.pki.intermediate.certPath, '-cert', lab.leaves.revoked.certPath,
      '-url', lab.responder.url, '-CAfile', lab.pki.root.certPath,
    ]);
    const output = stdout.toString('utf8') + stderr;
    expect(output).toContain('Response verify OK');
    expect(output).toMatch(/: revoked\n/);
    expect(output).toContain('Reason: keyCompromise');
  });

  it('answers good for the good leaves, signed by the delegated responder with a nextUpdate', async () => {
    for (const leaf of [lab.leaves.ecdsa, lab.leaves.rsa]) {
      const { der, text } = await lab.responder.query(leaf);
      expect(text.responseStatus).toBe('successful');
      expect(text.certStatus).toBe('good');
      expect(text.serial).toBe(leaf.serial);
      expect(text.responderId).toBe('O = OCSP Lab, CN = OCSP Lab Responder');
      const window = text.nextUpdate!.getTime() - text.thisUpdate!.getTime();
      expect(window).toBe(24 * 60 * 60 * 1000);
      const verdict = await opensslVerifyResponse(lab.pki, leaf, der);
      expect(verdict).toMatchObject({ signatureOk: true, timesValid: true, certStatus: 'good' });
    }
  });

  it('serves a revocation made while it runs (index reload)', async () => {
    const leaf = await lab.issueLeaf({ name: 'late-revoked' });
    expect((await lab.responder.query(leaf)).text.certStatus).toBe('good');
    await lab.revoke(leaf, 'superseded');
    const { text } = await lab.responder.query(leaf);
    expect(text.certStatus).toBe('revoked');
    expect(text.revocationReason).toBe('superseded');
  });

  it('makes offline responses: signed by the issuer, without certs, without nextUpdate, with a bad signature', async () => {
    const leaf = lab.leaves.ecdsa;
    const byIssuer = await lab.pki.makeResponse(leaf, { signer: 'issuer', noCerts: true });
    const issuerText = await describeOcspResponse(byIssuer);
    expect(issuerText.responderId).toBe('O = OCSP Lab, CN = OCSP Lab Intermediate');
    expect(issuerText.text).not.toContain('Certificate:');
    expect((await opensslVerifyResponse(lab.pki, leaf, byIssuer)).signatureOk).toBe(true);

    const noNext = await describeOcspResponse(await lab.pki.makeResponse(leaf, { validMinutes: null }));
    expect(noNext.nextUpdate).toBeNull();
    expect(noNext.thisUpdate).not.toBeNull();

    const bad = await lab.pki.makeResponse(leaf, { badSignature: true });
    expect((await opensslVerifyResponse(lab.pki, leaf, bad)).signatureOk).toBe(false);

    const revoked = await describeOcspResponse(await lab.pki.makeResponse(lab.leaves.revoked));
    expect(revoked).toMatchObject({ certStatus: 'revoked', revocationReason: 'keyCompromise' });
  });

  it('back-dates and forward-dates offline responses with faketime', async () => {
    const leaf = lab.leaves.ecdsa;
    const past = new Date(Date.UTC(2020, 0, 2, 3, 4, 5));
    const expired = await lab.pki.makeResponse(leaf, { at: past, validMinutes: 60 });
    const expiredText = await describeOcspResponse(expired);
    // The fake clock runs from `at`, so allow the seconds openssl took to start.
    expect(expiredText.thisUpdate!.getTime() - past.getTime()).toBeGreaterThanOrEqual(0);
    expect(expiredText.thisUpdate!.getTime() - past.getTime()).toBeLessThan(5000);
    expect(expiredText.nextUpdate!.getTime() - expiredText.thisUpdate!.getTime()).toBe(3_600_000);
    expect(await opensslVerifyResponse(lab.pki, leaf, expired)).toMatchObject({ signatureOk: true, timesValid: false });

    const future = new Date(Date.now() + 2 * 86_400_000);
    const notYet = await lab.pki.makeResponse(leaf, { at: future });
    const notYetText = await describeOcspResponse(notYet);
    expect(Math.abs(notYetText.thisUpdate!.getTime() - future.getTime())).toBeLessThan(5000);
    expect(await opensslVerifyResponse(lab.pki, leaf, notYet)).toMatchObject({ signatureOk: true, timesValid: false });
  });

  it('recognises a tryLater response by its bytes and through openssl', async () => {
    expect(responseStatusByte(TRY_LATER_DER)).toBe(3);
    const text = await describeOcspResponse(TRY_LATER_DER);
    expect(text).toMatchObject({ responseStatus: 'tryLater', responseStatusCode: 3, certStatus: null });
    expect(responseStatusByte(await lab.pki.makeResponse(lab.leaves.ecdsa))).toBe(0);
  });

  it('serves again on the same URL after being killed', async () => {
    await lab.responder.kill();
    const request = await lab.pki.ocspRequest(lab.leaves.ecdsa);
    await expect(postOcspRequest(lab.responder.url, request, 1000)).rejects.toThrow(/ECONNREFUSED/);
    await lab.responder.restart();
    expect((await lab.responder.query(lab.leaves.ecdsa)).text.certStatus).toBe('good');
  });

  it('bounds every wait: waitFor times out with LAB_TIMEOUT and says what it waited for', async () => {
    const started = Date.now();
    const error = await waitFor(() => false, 120, { what: 'nothing' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).code).toBe('LAB_TIMEOUT');
    expect((error as LabError).message).toContain('waiting for nothing');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe.skipIf(gate.skip)('lab: cleanup', () => {
  it('leaves no lab process behind after stop()', async () => {
    const lab = await Lab.start({ name: 'lab-cleanup' });
    expect(liveProcessCount()).toBeGreaterThan(0);
    const pid = lab.responder.process.pid;
    await lab.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
