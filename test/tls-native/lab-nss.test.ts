/**
 * The native engine against NSS's server (`selfserv`, the TLS stack of Firefox), differentially
 * against Node's, and the verifier against OCSP responses NSS encodes and signs itself (with the
 * lab's intermediate: issuer-signed, ECDSA with SHA-1), judged beside OpenSSL's own verdict on the
 * same bytes. Each staple mode NSS has (good, revoked, unknown, a foreign signer, corrupt bytes, a
 * tryLater answer), TLS 1.2 and 1.3, X25519, P-256 and P-384 as the only group (HelloRetryRequest
 * for the last two), each TLS 1.2 ECDHE-RSA AEAD suite, a client certificate asked for, and an
 * ECDSA leaf (NSS staples only for its RSA certificate). After each case's native probe selfserv
 * reports only clean ends of connection (`PR_Read hit EOF returned error 0`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleConfig } from '../../src/config/schema.js';
import { Lab, LOOPBACK, opensslVerifyResponse, requireLabTools, startNssServer, type NssServerOptions } from '../e2e/lab/index.js';
import { expectSameOnBothEngines, labModule, nativeProbe, targetAt, type Comparison, type TlsVersion } from './differential.js';

const gate = requireLabTools(['openssl', 'selfserv', 'certutil', 'pk12util', 'unshare', 'ip']);

describe.skipIf(gate.skip)('native = node on NSS selfserv', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'native-nss' });
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  const moduleFor = (version?: TlsVersion): ModuleConfig => labModule(lab.pki.root.certPem, version);

  /** Both engines agree; then one more native probe, which selfserv sees end cleanly. */
  async function check(options: NssServerOptions, version?: TlsVersion): Promise<Comparison> {
    const server = await startNssServer(lab, options);
    try {
      const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, server.port), moduleFor(version));
      // NSS sends the whole chain it can build from its database, the root included.
      expect(seen.wire.chain).toEqual([lab.leaves[options.leaf].certDer, lab.pki.intermediate.certDer, lab.pki.root.certDer].map((d) => d.toString('hex')));
      const mark = server.proc.capturedOutput.length;
      await nativeProbe(targetAt(LOOPBACK, server.port), moduleFor(version));
      await new Promise((r) => setTimeout(r, 300));
      const said = server.outputSince(mark);
      expect(said, 'selfserv after a native probe').toContain('PR_Read hit EOF returned error 0:');
      expect(said, 'selfserv after a native probe').not.toMatch(/error -\d+/);
      return seen;
    } finally {
      await server.stop();
    }
  }

  it('staples NSS signs itself: good, revoked and unknown are valid, as OpenSSL judges them', async () => {
    for (const status of ['good', 'revoked', 'unknown'] as const) {
      const seen = await check({ leaf: 'rsa', stapling: status });
      expect(seen.native, status).toMatchObject({ success: true, staple: { present: true, verdict: { valid: true, signatureValid: true, single: { certStatus: status }, signer: { kind: 'issuer' } } } });
      const openssl = await opensslVerifyResponse(lab.pki, lab.leaves.rsa, Buffer.from(seen.wire.staple!, 'hex'));
      expect(openssl, status).toMatchObject({ signatureOk: true, certStatus: status });
    }
  });

  it('a staple signed by a stranger, corrupt bytes, tryLater: invalid, each for its reason', async () => {
    const badsig = await check({ leaf: 'rsa', stapling: 'badsig' });
    expect(badsig.native).toMatchObject({ staple: { present: true, verdict: { valid: false, signatureValid: false } } });
    expect((await opensslVerifyResponse(lab.pki, lab.leaves.rsa, Buffer.from(badsig.wire.staple!, 'hex'))).signatureOk).toBe(false);
    const corrupted = await check({ leaf: 'rsa', stapling: 'corrupted' });
    expect(corrupted.native).toMatchObject({ staple: { present: true, verdict: { valid: false, problems: ['unparseable'] } } });
    const failure = await check({ leaf: 'rsa', stapling: 'failure' });
    expect(failure.native).toMatchObject({ staple: { present: true, verdict: { valid: false, problems: ['not_successful'] } } });
  });

  it('TLS 1.2 and 1.3; X25519, P-256 and P-384 alone', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      expect((await check({ leaf: 'rsa', stapling: 'good' }, version)).wire.protocol).toBe(version);
    }
    for (const group of ['x25519', 'P256', 'P384']) {
      const seen = await check({ leaf: 'rsa', stapling: 'good', versions: 'tls1.3:tls1.3', groups: [group] }, 'TLSv1.3');
      expect(seen.native, group).toMatchObject({ success: true, staple: { verdict: { valid: true } } });
    }
  });

  it('each TLS 1.2 ECDHE-RSA AEAD suite', async () => {
    for (const [code, suite] of [['C02F', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'], ['C030', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'], ['CCA8', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256']]) {
      const seen = await check({ leaf: 'rsa', stapling: 'good', versions: 'tls1.2:tls1.2', ciphers: `:${code}` }, 'TLSv1.2');
      expect(seen.wire.cipher).toBe(suite);
    }
  });

  it('a client certificate asked for; an ECDSA leaf without a staple', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      expect((await check({ leaf: 'rsa', stapling: 'good', requestClientCert: true }, version)).wire.protocol).toBe(version);
    }
    const ecdsa = await check({ leaf: 'ecdsa', stapling: 'good' });
    expect(ecdsa.wire.staple).toBeNull();
    expect(ecdsa.native).toMatchObject({ success: true, staple: { present: false } });
  });
});
