/**
 * Lab self-test: real nginx staples the way the lab assumes it does. Live stapling is lazy (the first
 * status_request after start gets no staple, later ones get the responder's answer), a
 * `ssl_stapling_file` is served byte for byte whatever it says, `ssl_stapling off` sends none, and
 * a live "revoked" answer is never stapled. Judged on the bytes Node receives and on
 * `openssl s_client -status`.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  LOOPBACK,
  TRY_LATER_DER,
  captureStaple,
  describeOcspResponse,
  opensslVerifyResponse,
  requireLabTools,
  sClientStatus,
  waitFor,
  type CapturedStaple,
  type NginxServer,
  type TlsVersionName,
} from './lab/index.js';

const gate = requireLabTools(['openssl', 'faketime', 'nginx']);
const VERSIONS: TlsVersionName[] = ['TLSv1.2', 'TLSv1.3'];

describe.skipIf(gate.skip)('lab: nginx', () => {
  let lab: Lab;
  let nginx: NginxServer;
  let expiredDer: Buffer;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'lab-nginx' });
    expiredDer = await lab.pki.makeResponse(lab.leaves.ecdsa, { at: new Date(Date.UTC(2021, 5, 1)), validMinutes: 60 });
    nginx = await lab.startNginx([
      { name: 'ecdsa-live', leaf: lab.leaves.ecdsa, stapling: { mode: 'live' } },
      { name: 'rsa-live', leaf: lab.leaves.rsa, stapling: { mode: 'live' } },
      { name: 'revoked-live', leaf: lab.leaves.revoked, stapling: { mode: 'live' } },
      { name: 'file-expired', leaf: lab.leaves.ecdsa, stapling: { mode: 'file', der: expiredDer } },
      { name: 'file-trylater', leaf: lab.leaves.rsa, stapling: { mode: 'file', der: TRY_LATER_DER } },
      { name: 'off', leaf: lab.leaves.ecdsa, stapling: { mode: 'off' } },
    ]);
    console.info(`lab-nginx timings: ${JSON.stringify({ ...lab.timings, nginxStartMs: nginx.startupMs })}`);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  const capture = (site: string, version?: TlsVersionName): Promise<CapturedStaple> =>
    captureStaple(LOOPBACK, nginx.port(site), version ? { minVersion: version, maxVersion: version } : {});

  it('fetches lazily: the first status_request gets no staple, a later one gets the responder answer', async () => {
    for (const [site, leaf] of [['ecdsa-live', lab.leaves.ecdsa], ['rsa-live', lab.leaves.rsa]] as const) {
      const first = await capture(site);
      expect(first.ocspEventSeen, site).toBe(true);
      expect(first.staple, `${site}: first handshake after start\n${nginx.diagnostics()}`).toBeNull();
      const started = Date.now();
      const later = await waitFor(async () => (await capture(site)).staple, 5000, {
        what: `nginx ${site} to staple`,
        diagnostics: () => nginx.diagnostics(),
      });
      console.info(`nginx ${site}: staple after ${Date.now() - started} ms`);
      const text = await describeOcspResponse(later);
      expect(text).toMatchObject({ responseStatus: 'successful', certStatus: 'good', serial: leaf.serial });
      expect(await opensslVerifyResponse(lab.pki, leaf, later)).toMatchObject({ signatureOk: true, timesValid: true, certStatus: 'good' });
    }
  });

  it('staples the live answer in TLS 1.2 and 1.3, to Node and to openssl s_client', async () => {
    for (const site of ['ecdsa-live', 'rsa-live']) {
      for (const version of VERSIONS) {
        const got = await capture(site, version);
        expect(got.protocol).toBe(version);
        expect(got.staple).not.toBeNull();
        const sclient = await sClientStatus(nginx.port(site), version);
        expect(sclient).toMatchObject({ protocol: version, stapled: true, responseStatus: 'successful (0x0)', certStatus: 'good' });
      }
    }
  });

  it('sends the leaf and the intermediate', async () => {
    const ecdsa = await capture('ecdsa-live');
    expect(ecdsa.peerCertDer.equals(lab.leaves.ecdsa.certDer)).toBe(true);
    expect(ecdsa.issuerDer?.equals(lab.pki.intermediate.certDer)).toBe(true);
    const rsa = await capture('rsa-live');
    expect(rsa.peerCertDer.equals(lab.leaves.rsa.certDer)).toBe(true);
  });

  it('serves ssl_stapling_file byte-identical, expired or tryLater alike, from the first handshake', async () => {
    const onDisk = await readFile(`${nginx.dir}/file-expired.ocsp.der`);
    expect(onDisk.equals(expiredDer)).toBe(true);
    for (const version of VERSIONS) {
      const expired = await capture('file-expired', version);
      expect(expired.protocol).toBe(version);
      expect(expired.staple?.equals(expiredDer), `expired staple in ${version}`).toBe(true);
      const tryLater = await capture('file-trylater', version);
      expect(tryLater.staple?.equals(TRY_LATER_DER), `tryLater staple in ${version}`).toBe(true);
      const sclient = await sClientStatus(nginx.port('file-trylater'), version);
      expect(sclient).toMatchObject({ stapled: true, responseStatus: 'trylater (0x3)' });
    }
    expect((await opensslVerifyResponse(lab.pki, lab.leaves.ecdsa, expiredDer)).timesValid).toBe(false);
  });

  it('sends no staple with ssl_stapling off, in TLS 1.2 and 1.3', async () => {
    for (const version of VERSIONS) {
      const got = await capture('off', version);
      expect(got.protocol).toBe(version);
      expect(got.ocspEventSeen).toBe(true);
      expect(got.staple).toBeNull();
      expect(await sClientStatus(nginx.port('off'), version)).toMatchObject({ protocol: version, stapled: false });
    }
  });

  it('never staples a live revoked answer (it logs it instead)', async () => {
    await capture('revoked-live');
    // The fetch is done once nginx has logged its verdict on the response.
    await waitFor(
      async () => /certificate status "revoked" in the OCSP response/.test(await readFile(nginx.errorLogPath, 'utf8')),
      5000,
      { what: 'nginx to log the revoked OCSP answer', diagnostics: () => nginx.diagnostics() },
    );
    for (const version of VERSIONS) {
      expect((await capture('revoked-live', version)).staple).toBeNull();
    }
  });

  // Last: the reload restarts the worker, and with it live stapling.
  it('serves a replaced ssl_stapling_file after a reload (SIGHUP)', async () => {
    const fresh = await lab.pki.makeResponse(lab.leaves.rsa);
    await nginx.replaceStaplingFile('file-trylater', fresh);
    // Every handshake from now on: no old worker is left to answer with the old file.
    for (let i = 0; i < 5; i++) {
      for (const version of VERSIONS) {
        expect((await capture('file-trylater', version)).staple?.equals(fresh), `${version} #${i}`).toBe(true);
      }
    }
    expect(nginx.process.exitInfo).toBeNull();
  });
});
