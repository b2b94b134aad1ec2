/**
 * The native engine against Caddy, differentially against Node's: Go's TLS stack (no code shared
 * with OpenSSL, GnuTLS or JSSE), stapling what Caddy fetches itself from the lab's responder.
 * TLS 1.3 with each of X25519, P-256 and P-384 as the only curve (the last two through a
 * HelloRetryRequest; Go picks TLS 1.3 suites itself), each TLS 1.2 ECDHE AEAD suite with ECDSA and
 * RSA leaves, an RSA leaf in TLS 1.3 (RSA-PSS), a client certificate asked for. Each case: the
 * same probe result, staple bytes and chain (differential.ts), a valid staple; then one more native
 * probe, and no "TLS handshake error" in Caddy's debug log for any connection of the case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleConfig } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import { CaddyServer, Lab, LOOPBACK, requireLabTools, waitFor, type CaddyServerOptions } from '../e2e/lab/index.js';
import { expectSameOnBothEngines, labModule, nativeProbe, targetAt, type TlsVersion } from './differential.js';

const gate = requireLabTools(['openssl', 'caddy']);
type Leaf = 'ecdsa' | 'rsa';


describe.skipIf(gate.skip)('native = node on Caddy', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'native-caddy' });
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  const moduleFor = (version?: TlsVersion): ModuleConfig => labModule(lab.pki.root.certPem, version);

  async function check(leaf: Leaf, version: TlsVersion | undefined, options: Omit<CaddyServerOptions, 'dir' | 'leaf'>): Promise<{ protocol: string; cipher: string; staple: string | null }> {
    const server = await CaddyServer.start({ dir: lab.dir, leaf: lab.leaves[leaf], ...options });
    try {
      const mark = server.proc.capturedOutput.length;
      // Caddy fetches its staple in the background at start: wait until Node's client sees one.
      await waitFor(async () => {
        const [r] = await probeTarget(targetAt(LOOPBACK, server.port), { ...moduleFor(version), handshake: 'node' }, Date.now() + 5000);
        return r?.staple?.present === true;
      }, 10_000, { what: 'Caddy to staple', intervalMs: 200, diagnostics: () => server.proc.diagnostics() });
      const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, server.port), moduleFor(version));
      expect(seen.wire.chain).toEqual([lab.leaves[leaf].certDer.toString('hex'), lab.pki.intermediate.certDer.toString('hex')]);
      expect(seen.native).toMatchObject({ success: true, staple: { present: true, verdict: { valid: true } } });
      await nativeProbe(targetAt(LOOPBACK, server.port), moduleFor(version));
      await new Promise((r) => setTimeout(r, 300));
      const said = server.proc.capturedOutput.slice(mark);
      expect(said, 'Caddy saw the connections').toContain('matched certificate in cache');
      expect(said, 'Caddy’s debug log').not.toMatch(/TLS handshake error|"level":"error"/);
      return seen.wire;
    } finally {
      await server.stop();
    }
  }

  for (const curve of ['x25519', 'secp256r1', 'secp384r1']) {
    it(`TLS 1.3, ${curve} only`, async () => {
      const wire = await check('ecdsa', 'TLSv1.3', { protocols: ['tls1.3', 'tls1.3'], curves: [curve] });
      expect(wire.protocol).toBe('TLSv1.3');
    });
  }

  for (const leaf of ['ecdsa', 'rsa'] as const) {
    const kx = leaf === 'ecdsa' ? 'ECDHE_ECDSA' : 'ECDHE_RSA';
    for (const cipher of ['AES_128_GCM_SHA256', 'AES_256_GCM_SHA384', 'CHACHA20_POLY1305_SHA256']) {
      const suite = `TLS_${kx}_WITH_${cipher}`;
      it(`TLS 1.2 ${suite}`, async () => {
        const wire = await check(leaf, 'TLSv1.2', { protocols: ['tls1.2', 'tls1.2'], ciphers: [suite] });
        expect(wire).toMatchObject({ protocol: 'TLSv1.2', cipher: suite });
      });
    }
  }

  it('default versions (TLS 1.3), an RSA leaf in TLS 1.3, a client certificate asked for', async () => {
    expect((await check('ecdsa', undefined, {})).protocol).toBe('TLSv1.3');
    expect((await check('rsa', 'TLSv1.3', {})).protocol).toBe('TLSv1.3');
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      expect((await check('ecdsa', version, { requestClientCert: true })).protocol).toBe(version);
    }
  });
});
