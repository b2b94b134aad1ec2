/**
 * Lab self-test: real Apache mod_ssl staples on the first handshake (it fetches synchronously),
 * staples a revoked answer as it is, sends nothing with stapling off, and when the responder is
 * down staples a synthesized tryLater (`30 03 0a 01 03`) while already cached answers stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  LOOPBACK,
  TRY_LATER_DER,
  captureStaple,
  describeOcspResponse,
  opensslVerifyResponse,
  requireLabTools,
  responseStatusByte,
  sClientStatus,
  type ApacheServer,
  type CapturedStaple,
  type LabCert,
  type TlsVersionName,
} from './lab/index.js';

const gate = requireLabTools(['openssl', 'faketime', 'apache2']);
const VERSIONS: TlsVersionName[] = ['TLSv1.2', 'TLSv1.3'];

describe.skipIf(gate.skip)('lab: Apache', () => {
  let lab: Lab;
  let apache: ApacheServer;
  let downLeaf: LabCert;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'lab-apache' });
    // A leaf nobody asks Apache about until the responder is gone.
    downLeaf = await lab.issueLeaf({ name: 'apache-down' });
    apache = await lab.startApache([
      { name: 'ecdsa', leaf: lab.leaves.ecdsa },
      { name: 'rsa', leaf: lab.leaves.rsa },
      { name: 'revoked', leaf: lab.leaves.revoked },
      { name: 'down', leaf: downLeaf },
      { name: 'off', leaf: lab.leaves.ecdsa, stapling: false },
    ]);
    console.info(`lab-apache timings: ${JSON.stringify({ ...lab.timings, apacheStartMs: apache.startupMs })}`);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  const capture = (site: string, version?: TlsVersionName): Promise<CapturedStaple> =>
    captureStaple(LOOPBACK, apache.port(site), version ? { minVersion: version, maxVersion: version } : {});

  it('staples the responder answer on the very first handshake', async () => {
    for (const [site, leaf] of [['ecdsa', lab.leaves.ecdsa], ['rsa', lab.leaves.rsa]] as const) {
      const first = await capture(site);
      expect(first.staple, `${site}\n${apache.diagnostics()}`).not.toBeNull();
      expect(await describeOcspResponse(first.staple!)).toMatchObject({ responseStatus: 'successful', certStatus: 'good', serial: leaf.serial });
      expect(await opensslVerifyResponse(lab.pki, leaf, first.staple!)).toMatchObject({ signatureOk: true, timesValid: true });
      expect(first.peerCertDer.equals(leaf.certDer)).toBe(true);
      expect(first.issuerDer?.equals(lab.pki.intermediate.certDer)).toBe(true);
    }
  });

  it('staples in TLS 1.2 and 1.3, to Node and to openssl s_client', async () => {
    for (const site of ['ecdsa', 'rsa']) {
      for (const version of VERSIONS) {
        const got = await capture(site, version);
        expect(got.protocol).toBe(version);
        expect(got.staple).not.toBeNull();
        expect(await sClientStatus(apache.port(site), version)).toMatchObject({ protocol: version, stapled: true, certStatus: 'good' });
      }
    }
  });

  it('staples the revoked answer for the revoked leaf', async () => {
    for (const version of VERSIONS) {
      const got = await capture('revoked', version);
      expect(got.staple, apache.diagnostics()).not.toBeNull();
      expect(await describeOcspResponse(got.staple!)).toMatchObject({
        certStatus: 'revoked',
        revocationReason: 'keyCompromise',
        serial: lab.leaves.revoked.serial,
      });
      expect(await sClientStatus(apache.port('revoked'), version)).toMatchObject({ certStatus: 'revoked', revocationReason: 'keyCompromise' });
    }
  });

  it('sends no staple with SSLUseStapling off', async () => {
    for (const version of VERSIONS) {
      const got = await capture('off', version);
      expect(got.ocspEventSeen).toBe(true);
      expect(got.staple).toBeNull();
    }
  });

  it('staples a synthesized tryLater when the responder is down, and keeps cached answers', async () => {
    const cachedBefore = (await capture('ecdsa')).staple;
    await lab.responder.kill();
    try {
      for (const version of VERSIONS) {
        const got = await capture('down', version);
        expect(got.staple, apache.diagnostics()).not.toBeNull();
        expect(responseStatusByte(got.staple!)).toBe(3);
        expect(got.staple!.equals(TRY_LATER_DER)).toBe(true);
        expect(await sClientStatus(apache.port('down'), version)).toMatchObject({ stapled: true, responseStatus: 'trylater (0x3)' });
      }
      expect((await describeOcspResponse((await capture('down')).staple!)).responseStatus).toBe('tryLater');
      // SSLStaplingStandardCacheTimeout (3600 s) keeps the good staple fetched earlier.
      expect((await capture('ecdsa')).staple?.equals(cachedBefore!)).toBe(true);
    } finally {
      await lab.responder.restart();
    }
  });
});
