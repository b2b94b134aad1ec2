/**
 * The native engine against GnuTLS's server (`gnutls-serv`), differentially against Node's: a TLS
 * implementation that shares no code with OpenSSL, the one behind every other lab server. Each TLS
 * 1.3 suite and group (a group other than X25519 costs a HelloRetryRequest, since the engine's
 * first key share is X25519), each TLS 1.2 ECDHE AEAD suite, RSA leaves signing with PSS and with
 * PKCS#1 v1.5 in TLS 1.2, a server that asks for a client certificate (gnutls-serv's default: the
 * engine answers with an empty Certificate) and one that does not, and no staple. Each case: the
 * same probe result, staple bytes and chain (differential.ts); then one more native probe, after
 * which gnutls-serv reported no error for the connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleConfig } from '../../src/config/schema.js';
import { Lab, startGnutlsServer, LOOPBACK, requireLabTools, waitFor } from '../e2e/lab/index.js';
import { expectSameOnBothEngines, labModule, nativeProbe, targetAt, type TlsVersion } from './differential.js';

const gate = requireLabTools(['openssl', 'gnutls-serv', 'unshare', 'ip']);
type Leaf = 'ecdsa' | 'rsa';

describe.skipIf(gate.skip)('native = node on gnutls-serv', () => {
  let lab: Lab;
  const staples: Partial<Record<Leaf, Buffer>> = {};

  beforeAll(async () => {
    lab = await Lab.start({ name: 'native-gnutls' });
    staples.ecdsa = await lab.pki.makeResponse(lab.leaves.ecdsa);
    staples.rsa = await lab.pki.makeResponse(lab.leaves.rsa);
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  const moduleFor = (version?: TlsVersion): ModuleConfig => labModule(lab.pki.root.certPem, version);

  interface Case {
    leaf: Leaf;
    priority: string;
    version?: TlsVersion;
    staple?: boolean;
    requestClientCert?: boolean;
  }

  /** Both engines agree on `c`; one more native probe leaves gnutls-serv's output free of errors. */
  async function check(c: Case): Promise<{ protocol: string; cipher: string; staple: string | null }> {
    const staple = c.staple === false ? null : staples[c.leaf]!;
    const server = await startGnutlsServer({ dir: lab.dir, leaf: lab.leaves[c.leaf], staple, priority: c.priority, requestClientCert: c.requestClientCert });
    try {
      const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, server.port), moduleFor(c.version));
      expect(seen.wire.staple).toBe(staple ? staple.toString('hex') : null);
      expect(seen.wire.chain).toEqual([lab.leaves[c.leaf].certDer.toString('hex'), lab.pki.intermediate.certDer.toString('hex')]);
      expect(seen.native).toMatchObject(staple
        ? { success: true, staple: { present: true, verdict: { valid: true } } }
        : { success: true, staple: { present: false } });

      const mark = server.proc.capturedOutput.length;
      await nativeProbe(targetAt(LOOPBACK, server.port), moduleFor(c.version));
      // gnutls-serv prints a block per connection once the handshake is done, and a line for
      // whatever went wrong ("Error in handshake: …", "Error while receiving data").
      await waitFor(() => /Accepted connection|error/i.test(server.outputSince(mark)), 5000, { what: 'gnutls-serv to report the connection' });
      await new Promise((r) => setTimeout(r, 200));
      const said = server.outputSince(mark);
      expect(said, 'gnutls-serv after a native probe').toContain('- Description:');
      expect(said, 'gnutls-serv after a native probe').not.toMatch(/error|fail|alert|warning|non-properly/i);
      return seen.wire;
    } finally {
      await server.stop();
    }
  }

  const TLS13 = 'NORMAL:-VERS-ALL:+VERS-TLS1.3';
  const SUITES_13 = [['AES-128-GCM', 'TLS_AES_128_GCM_SHA256'], ['AES-256-GCM', 'TLS_AES_256_GCM_SHA384'], ['CHACHA20-POLY1305', 'TLS_CHACHA20_POLY1305_SHA256']] as const;
  for (const [cipher, iana] of SUITES_13) {
    for (const group of ['X25519', 'SECP256R1', 'SECP384R1']) {
      it(`TLS 1.3 ${iana} ${group}`, async () => {
        const leaf: Leaf = group === 'SECP256R1' ? 'rsa' : 'ecdsa';
        const wire = await check({ leaf, priority: `${TLS13}:-CIPHER-ALL:+${cipher}:-GROUP-ALL:+GROUP-${group}`, version: 'TLSv1.3' });
        expect(wire).toMatchObject({ protocol: 'TLSv1.3', cipher: iana });
      });
    }
  }

  const TLS12 = 'NORMAL:-VERS-ALL:+VERS-TLS1.2';
  for (const leaf of ['ecdsa', 'rsa'] as const) {
    const kx = leaf === 'ecdsa' ? 'ECDHE-ECDSA' : 'ECDHE-RSA';
    for (const [cipher, name] of [['AES-128-GCM', 'AES_128_GCM_SHA256'], ['AES-256-GCM', 'AES_256_GCM_SHA384'], ['CHACHA20-POLY1305', 'CHACHA20_POLY1305_SHA256']] as const) {
      it(`TLS 1.2 ${kx} ${cipher}`, async () => {
        const wire = await check({ leaf, priority: `${TLS12}:-KX-ALL:+${kx}:-CIPHER-ALL:+${cipher}`, version: 'TLSv1.2' });
        expect(wire).toMatchObject({ protocol: 'TLSv1.2', cipher: `TLS_${kx.replace('-', '_')}_WITH_${name}` });
      });
    }
  }

  it('TLS 1.2 ServerKeyExchange signed with RSA-PSS and with PKCS#1 v1.5', async () => {
    for (const sign of ['SIGN-RSA-PSS-RSAE-SHA256', 'SIGN-RSA-SHA256']) {
      const wire = await check({ leaf: 'rsa', priority: `${TLS12}:-SIGN-ALL:+${sign}`, version: 'TLSv1.2' });
      expect(wire.protocol).toBe('TLSv1.2');
    }
  });

  it('default versions: TLS 1.3; a client certificate asked for and not; no staple', async () => {
    for (const requestClientCert of [true, false]) {
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const wire = await check({ leaf: 'ecdsa', priority: 'NORMAL', requestClientCert, version });
        expect(wire.protocol).toBe(version);
      }
    }
    expect((await check({ leaf: 'rsa', priority: 'NORMAL' })).protocol).toBe('TLSv1.3');
    expect((await check({ leaf: 'ecdsa', priority: 'NORMAL', staple: false })).staple).toBeNull();
  });
});
