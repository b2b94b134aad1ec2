/**
 * The native engine against Java's TLS stack (JSSE, as in Tomcat and Jetty), differentially
 * against Node's: JSSE shares no code with OpenSSL or GnuTLS, and staples what it fetches itself
 * from the lab's responder. Each TLS 1.3 suite; P-256 and P-384 as the only group (a
 * HelloRetryRequest, the engine's first key share being X25519); each TLS 1.2 ECDHE AEAD suite with
 * ECDSA and RSA leaves; an RSA leaf in TLS 1.3 (RSA-PSS); a server that asks for a client
 * certificate. Each case: the same probe result, staple bytes and chain (differential.ts), a valid
 * staple; and the server reports every connection, one more native probe included, as a completed
 * handshake read to the client's close_notify, with no exception.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleConfig } from '../../src/config/schema.js';
import { JsseServer, Lab, LOOPBACK, requireLabTools, waitFor, type JsseServerOptions } from '../e2e/lab/index.js';
import { expectSameOnBothEngines, labModule, nativeProbe, targetAt, type TlsVersion } from './differential.js';

const gate = requireLabTools(['openssl', 'java', 'javac']);
type Leaf = 'ecdsa' | 'rsa';


describe.skipIf(gate.skip)('native = node on JSSE', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'native-jsse' });
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  const moduleFor = (version?: TlsVersion): ModuleConfig => labModule(lab.pki.root.certPem, version);

  /** Both engines agree with the server configured by `options`; a native probe leaves no exception in its output. */
  async function check(leaf: Leaf, version: TlsVersion | undefined, options: Omit<JsseServerOptions, 'dir' | 'leaf'>): Promise<{ protocol: string; cipher: string; staple: string | null }> {
    const server = await JsseServer.start({ dir: lab.dir, leaf: lab.leaves[leaf], ...options });
    try {
      const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, server.port), moduleFor(version));
      expect(seen.wire.staple, 'JSSE stapled the responder’s answer').not.toBeNull();
      expect(seen.wire.chain).toEqual([lab.leaves[leaf].certDer.toString('hex'), lab.pki.intermediate.certDer.toString('hex')]);
      expect(seen.native).toMatchObject({ success: true, staple: { present: true, verdict: { valid: true } } });

      // One line per connection, printed once the server has read the client's Finished, which can
      // come after the client is done: the four connections above first, then one more native probe.
      const lines = (): string[] => server.proc.capturedOutput.split('\n').filter((l) => /^(handshake|error) /.test(l));
      await waitFor(() => lines().length >= 4, 5000, { what: 'the JSSE server to report four connections', diagnostics: () => server.proc.diagnostics() });
      await nativeProbe(targetAt(LOOPBACK, server.port), moduleFor(version));
      await waitFor(() => lines().length >= 5, 5000, { what: 'the JSSE server to report the native probe', diagnostics: () => server.proc.diagnostics() });
      await new Promise((r) => setTimeout(r, 200));
      expect(lines(), 'JSSE: each connection (node, native, node, native, native) a complete handshake, no exception')
        .toEqual(Array(5).fill(`handshake ${seen.wire.protocol} ${seen.wire.cipher}`));
      return seen.wire;
    } finally {
      await server.stop();
    }
  }

  for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
    it(`TLS 1.3 ${suite}`, async () => {
      const wire = await check('ecdsa', 'TLSv1.3', { protocols: ['TLSv1.3'], suites: [suite] });
      expect(wire).toMatchObject({ protocol: 'TLSv1.3', cipher: suite });
    });
  }

  it('TLS 1.3 with P-256 or P-384 only (HelloRetryRequest), and an RSA leaf (RSA-PSS)', async () => {
    for (const group of ['secp256r1', 'secp384r1']) {
      expect((await check('ecdsa', 'TLSv1.3', { protocols: ['TLSv1.3'], namedGroups: [group] })).protocol).toBe('TLSv1.3');
    }
    expect((await check('rsa', 'TLSv1.3', { protocols: ['TLSv1.3'] })).protocol).toBe('TLSv1.3');
  });

  for (const leaf of ['ecdsa', 'rsa'] as const) {
    const kx = leaf === 'ecdsa' ? 'ECDHE_ECDSA' : 'ECDHE_RSA';
    for (const cipher of ['AES_128_GCM_SHA256', 'AES_256_GCM_SHA384', 'CHACHA20_POLY1305_SHA256']) {
      const suite = `TLS_${kx}_WITH_${cipher}`;
      it(`TLS 1.2 ${suite}`, async () => {
        const wire = await check(leaf, 'TLSv1.2', { protocols: ['TLSv1.2'], suites: [suite] });
        expect(wire).toMatchObject({ protocol: 'TLSv1.2', cipher: suite });
      });
    }
  }

  it('default versions (TLS 1.3), and a client certificate asked for in TLS 1.2 and 1.3', async () => {
    expect((await check('ecdsa', undefined, {})).protocol).toBe('TLSv1.3');
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      expect((await check('ecdsa', version, { protocols: [version], wantClientAuth: true })).protocol).toBe(version);
    }
  });
});
