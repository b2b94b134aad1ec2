/**
 * Lab self-test: real HAProxy 2.6 staples the `<crt>.ocsp` file it was started with, byte for
 * byte, in TLS 1.2 and 1.3; refuses an expired file (no staple, a warning); staples a revoked
 * answer; and after `set ssl ocsp-response` on the admin socket serves the new bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  LOOPBACK,
  captureStaple,
  describeOcspResponse,
  requireLabTools,
  sClientStatus,
  type CapturedStaple,
  type HaproxyServer,
  type LabCert,
  type TlsVersionName,
} from './lab/index.js';

const gate = requireLabTools(['openssl', 'faketime', 'haproxy']);
const VERSIONS: TlsVersionName[] = ['TLSv1.2', 'TLSv1.3'];

describe.skipIf(gate.skip)('lab: HAProxy', () => {
  let lab: Lab;
  let haproxy: HaproxyServer;
  let noneLeaf: LabCert;
  let expiredLeaf: LabCert;
  const files: Record<string, Buffer> = {};

  beforeAll(async () => {
    lab = await Lab.start({ name: 'lab-haproxy' });
    // HAProxy keeps one staple per certificate: sites whose staple differs need their own leaf.
    [noneLeaf, expiredLeaf] = await Promise.all([
      lab.issueLeaf({ name: 'haproxy-none' }),
      lab.issueLeaf({ name: 'haproxy-expired' }),
    ]);
    [files.ecdsa, files.rsa, files.revoked, files.expired] = await Promise.all([
      lab.pki.makeResponse(lab.leaves.ecdsa),
      lab.pki.makeResponse(lab.leaves.rsa),
      lab.pki.makeResponse(lab.leaves.revoked),
      lab.pki.makeResponse(expiredLeaf, { at: new Date(Date.UTC(2021, 5, 1)), validMinutes: 60 }),
    ]);
    haproxy = await lab.startHaproxy([
      { name: 'ecdsa', leaf: lab.leaves.ecdsa, ocsp: files.ecdsa },
      { name: 'rsa', leaf: lab.leaves.rsa, ocsp: files.rsa },
      { name: 'revoked', leaf: lab.leaves.revoked, ocsp: files.revoked },
      { name: 'expired', leaf: expiredLeaf, ocsp: files.expired },
      { name: 'none', leaf: noneLeaf },
    ]);
    console.info(`lab-haproxy timings: ${JSON.stringify({ ...lab.timings, haproxyStartMs: haproxy.startupMs })}`);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  const capture = (site: string, version?: TlsVersionName): Promise<CapturedStaple> =>
    captureStaple(LOOPBACK, haproxy.port(site), version ? { minVersion: version, maxVersion: version } : {});

  it('serves the .ocsp file byte-identical from the first handshake, in TLS 1.2 and 1.3', async () => {
    for (const site of ['ecdsa', 'rsa'] as const) {
      for (const version of VERSIONS) {
        const got = await capture(site, version);
        expect(got.protocol).toBe(version);
        expect(got.staple?.equals(files[site]!), `${site} ${version}\n${haproxy.diagnostics()}`).toBe(true);
        expect(await sClientStatus(haproxy.port(site), version)).toMatchObject({ protocol: version, stapled: true, certStatus: 'good' });
      }
      const got = await capture(site);
      expect(got.peerCertDer.equals(lab.leaves[site].certDer)).toBe(true);
      expect(got.issuerDer?.equals(lab.pki.intermediate.certDer)).toBe(true);
    }
  });

  it('staples a revoked answer', async () => {
    const got = await capture('revoked');
    expect(got.staple?.equals(files.revoked!)).toBe(true);
    expect(await describeOcspResponse(got.staple!)).toMatchObject({ certStatus: 'revoked', revocationReason: 'keyCompromise' });
  });

  it('refuses an expired .ocsp file: no staple, a warning at start', async () => {
    expect(haproxy.process.capturedOutput).toMatch(/\[WARNING\].*OCSP single response: no longer valid\.\. Content will be ignored/);
    for (const version of VERSIONS) {
      const got = await capture('expired', version);
      expect(got.ocspEventSeen).toBe(true);
      expect(got.staple, haproxy.diagnostics()).toBeNull();
    }
  });

  it('sends no staple without an .ocsp file', async () => {
    for (const version of VERSIONS) {
      expect(await sClientStatus(haproxy.port('none'), version)).toMatchObject({ protocol: version, stapled: false });
    }
  });

  it('serves new bytes after `set ssl ocsp-response` on the admin socket', async () => {
    const replacement = await lab.pki.makeResponse(lab.leaves.ecdsa, { signer: 'issuer', validMinutes: 120 });
    expect(replacement.equals(files.ecdsa!)).toBe(false);
    const reply = await haproxy.setOcspResponse(replacement);
    expect(reply).toMatch(/OCSP Response updated/);
    for (const version of VERSIONS) {
      const got = await capture('ecdsa', version);
      expect(got.staple?.equals(replacement), version).toBe(true);
    }
    expect((await describeOcspResponse((await capture('ecdsa')).staple!)).responderId).toBe('O = OCSP Lab, CN = OCSP Lab Intermediate');
    // The other certificates keep theirs.
    expect((await capture('rsa')).staple?.equals(files.rsa!)).toBe(true);
  });

  it('refuses `set ssl ocsp-response` for a certificate started without an .ocsp file', async () => {
    // HAProxy 2.6 only registers certificates that had a (loadable) .ocsp file at start.
    await expect(haproxy.setOcspResponse(await lab.pki.makeResponse(noneLeaf))).rejects.toThrow(
      /Certificate ID does not match any certificate or issuer/,
    );
    expect((await capture('none')).staple).toBeNull();
  });

  it('keeps the certificate of an ignored expired file updatable: a fresh answer over the socket is served', async () => {
    const fresh = await lab.pki.makeResponse(expiredLeaf);
    await haproxy.setOcspResponse(fresh);
    expect((await capture('expired')).staple?.equals(fresh)).toBe(true);
  });
});
