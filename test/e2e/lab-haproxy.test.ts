/**
 * Lab self-test: real HAProxy 2.6 staples the `<crt>.ocsp` file it was started with, byte for
 * byte, in TLS 1.2 and 1.3; refuses expired, nearly expired, non-successful and wrong-certificate
 * files (no staple); staples revoked and bad-signature answers unchanged; and after
 * `set ssl ocsp-response` on the admin socket serves the new bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  LOOPBACK,
  TRY_LATER_DER,
  captureStaple,
  opensslVerifyResponse,
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
  let extra: Record<'soon' | 'later' | 'trylater' | 'badsig' | 'wrongcert', LabCert>;
  const files: Record<string, Buffer> = {};

  beforeAll(async () => {
    lab = await Lab.start({ name: 'lab-haproxy' });
    // HAProxy keeps one staple per certificate: sites whose staple differs need their own leaf.
    [noneLeaf, expiredLeaf] = await Promise.all([
      lab.issueLeaf({ name: 'haproxy-none' }),
      lab.issueLeaf({ name: 'haproxy-expired' }),
    ]);
    const [soon, later, trylater, badsig, wrongcert] = await Promise.all(
      ['soon', 'later', 'trylater', 'badsig', 'wrongcert'].map((name) => lab.issueLeaf({ name: `haproxy-${name}` })),
    );
    extra = { soon: soon!, later: later!, trylater: trylater!, badsig: badsig!, wrongcert: wrongcert! };
    [files.ecdsa, files.rsa, files.revoked, files.expired, files.soon, files.later, files.badsig] = await Promise.all([
      lab.pki.makeResponse(lab.leaves.ecdsa),
      lab.pki.makeResponse(lab.leaves.rsa),
      lab.pki.makeResponse(lab.leaves.revoked),
      lab.pki.makeResponse(expiredLeaf, { at: new Date(Date.UTC(2021, 5, 1)), validMinutes: 60 }),
      lab.pki.makeResponse(extra.soon, { validMinutes: 4 }),
      lab.pki.makeResponse(extra.later, { validMinutes: 7 }),
      lab.pki.makeResponse(extra.badsig, { badSignature: true }),
    ]);
    files.trylater = TRY_LATER_DER;
    // A good answer, but about another certificate.
    files.wrongcert = files.ecdsa;
    haproxy = await lab.startHaproxy([
      { name: 'ecdsa', leaf: lab.leaves.ecdsa, ocsp: files.ecdsa },
      { name: 'rsa', leaf: lab.leaves.rsa, ocsp: files.rsa },
      { name: 'revoked', leaf: lab.leaves.revoked, ocsp: files.revoked },
      { name: 'expired', leaf: expiredLeaf, ocsp: files.expired },
      { name: 'none', leaf: noneLeaf },
      ...(['soon', 'later', 'trylater', 'badsig', 'wrongcert'] as const).map((name) => ({ name, leaf: extra[name], ocsp: files[name]! })),
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

  it('ignores .ocsp files within 5 minutes of nextUpdate, non-successful, or about another certificate', async () => {
    // nextUpdate in 4 minutes: ignored; in 7 minutes: served.
    expect((await capture('soon')).staple).toBeNull();
    expect((await capture('later')).staple?.equals(files.later!)).toBe(true);
    expect((await capture('trylater')).staple).toBeNull();
    expect((await capture('wrongcert')).staple).toBeNull();
  });

  it('serves an .ocsp file with a bad signature unchanged (it does not verify signatures)', async () => {
    const got = await capture('badsig');
    expect(got.staple?.equals(files.badsig!)).toBe(true);
    expect((await opensslVerifyResponse(lab.pki, extra.badsig, got.staple!)).signatureOk).toBe(false);
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
