/**
 * The native engine against every real server of the end-to-end lab, differentially against
 * Node's: nginx (staple files and live stapling), HAProxy 2.6, Apache 2.4 (live stapling), and
 * `openssl s_server` with each TLS 1.3 suite and group, each TLS 1.2 ECDHE AEAD suite, and its own
 * order preferred (-serverpref). TLS 1.2 and 1.3 modules, ECDSA and RSA leaves. Each case: the same
 * probe result, staple bytes and chain (see differential.ts). Then the servers' own accounts: no
 * handshake error in nginx's info-level log or in s_server's output for native probes, and
 * HAProxy's failed-handshake counter unchanged by them.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleConfig } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import {
  Lab,
  LOOPBACK,
  binaryPath,
  freePorts,
  requireLabTools,
  spawnManaged,
  waitFor,
  type ApacheServer,
  type HaproxyServer,
  type LabCert,
  type ManagedProcess,
  type NginxServer,
} from '../e2e/lab/index.js';
import { expectSameOnBothEngines, labModule, targetAt, type TlsVersion } from './differential.js';

const gate = requireLabTools(['openssl', 'faketime', 'nginx', 'haproxy', 'apache2']);
type Version = TlsVersion;
const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];

describe.skipIf(gate.skip)('native = node on the lab servers', () => {
  let lab: Lab;
  let nginx: NginxServer;
  let haproxy: HaproxyServer;
  let apache: ApacheServer;
  const staples: Record<string, Buffer> = {};
  const sServers: ManagedProcess[] = [];

  beforeAll(async () => {
    lab = await Lab.start({ name: 'native-lab' });
    staples.ecdsa = await lab.pki.makeResponse(lab.leaves.ecdsa);
    staples.rsa = await lab.pki.makeResponse(lab.leaves.rsa);
    [nginx, haproxy, apache] = await Promise.all([
      lab.startNginx([
        { name: 'ecdsa-file', leaf: lab.leaves.ecdsa, stapling: { mode: 'file', der: staples.ecdsa } },
        { name: 'rsa-file', leaf: lab.leaves.rsa, stapling: { mode: 'file', der: staples.rsa } },
        { name: 'ecdsa-live', leaf: lab.leaves.ecdsa, stapling: { mode: 'live' } },
        { name: 'off', leaf: lab.leaves.ecdsa, stapling: { mode: 'off' } },
      ]),
      lab.startHaproxy([
        { name: 'ecdsa', leaf: lab.leaves.ecdsa, ocsp: staples.ecdsa },
        { name: 'rsa', leaf: lab.leaves.rsa, ocsp: staples.rsa },
      ]),
      lab.startApache([
        { name: 'ecdsa', leaf: lab.leaves.ecdsa },
        { name: 'rsa', leaf: lab.leaves.rsa },
      ]),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sServers.map((p) => p.stop()));
    await lab?.stop();
  });

  const moduleFor = (version?: Version, extra: Partial<ModuleConfig> = {}): ModuleConfig => labModule(lab.pki.root.certPem, version, extra);

  /** Probes until the server staples (nginx and Apache fetch lazily, on the first status_request). */
  async function warm(port: number): Promise<void> {
    await waitFor(async () => {
      const [result] = await probeTarget(targetAt(LOOPBACK, port), moduleFor(undefined, { handshake: 'node' }), Date.now() + 5000);
      return result?.staple?.present === true;
    }, 10_000, { what: `a staple on port ${port}`, intervalMs: 200 });
  }

  describe('nginx', () => {
    for (const version of [...VERSIONS, undefined]) {
      it(`file staples, ECDSA and RSA leaves, ${version ?? 'default versions'}`, async () => {
        for (const [site, leaf] of [['ecdsa-file', 'ecdsa'], ['rsa-file', 'rsa']] as const) {
          const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, nginx.port(site)), moduleFor(version));
          expect(seen.wire.staple).toBe(staples[leaf]!.toString('hex'));
          expect(seen.wire.protocol).toBe(version ?? 'TLSv1.3');
          expect(seen.wire.chain).toEqual([lab.leaves[leaf].certDer.toString('hex'), lab.pki.intermediate.certDer.toString('hex')]);
          expect(seen.native).toMatchObject({ success: true, staple: { present: true, verdict: { valid: true } } });
        }
      });
    }

    it('live stapling and stapling off', async () => {
      await warm(nginx.port('ecdsa-live'));
      for (const version of VERSIONS) {
        const live = await expectSameOnBothEngines(targetAt(LOOPBACK, nginx.port('ecdsa-live')), moduleFor(version));
        expect(live.wire.staple).not.toBeNull();
        const off = await expectSameOnBothEngines(targetAt(LOOPBACK, nginx.port('off')), moduleFor(version));
        expect(off.wire.staple).toBeNull();
      }
    });

    it('logs no handshake error at info level for native probes', async () => {
      const before = (await stat(nginx.errorLogPath)).size;
      for (const site of ['ecdsa-file', 'rsa-file', 'off']) {
        for (const version of VERSIONS) {
          const [result] = await probeTarget(targetAt(LOOPBACK, nginx.port(site)), moduleFor(version, { handshake: 'native' }), Date.now() + 5000);
          expect(result?.success, result?.error ?? '').toBe(true);
        }
      }
      // Give nginx time to see each close_notify and log what it thought of the connection.
      await new Promise((r) => setTimeout(r, 500));
      const added = (await readFile(nginx.errorLogPath)).subarray(before).toString('utf8');
      expect(added).not.toMatch(/SSL_do_handshake\(\) failed|peer closed connection in SSL handshake|while SSL handshaking|SSL_read\(\) failed|SSL_shutdown\(\) failed|\[(error|crit|alert)\]/);
    });
  });

  describe('HAProxy', () => {
    it('ECDSA and RSA leaves, TLS 1.2 and 1.3', async () => {
      for (const leaf of ['ecdsa', 'rsa'] as const) {
        for (const version of [...VERSIONS, undefined]) {
          const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, haproxy.port(leaf)), moduleFor(version));
          expect(seen.wire.staple).toBe(staples[leaf]!.toString('hex'));
        }
      }
    });

    it('native probes leave the failed-handshake counter at its value', async () => {
      // HAProxy 2.6 has no such field in `show info`; its SSL stats module adds ssl_failed_handshake
      // (and ssl_sess, handshakes done) to each frontend's `show stat` row.
      const counters = async (): Promise<{ failed: number; sessions: number }> => {
        const [header, ...rows] = (await haproxy.command('show stat')).trim().split('\n');
        const columns = header!.replace(/^# /, '').split(',');
        const failedAt = columns.indexOf('ssl_failed_handshake');
        const sessionsAt = columns.indexOf('ssl_sess');
        expect(failedAt, `no ssl_failed_handshake column in show stat: ${header}`).toBeGreaterThan(0);
        const frontends = rows.map((r) => r.split(',')).filter((f) => f[1] === 'FRONTEND');
        const sum = (at: number): number => frontends.reduce((n, f) => n + Number(f[at]), 0);
        return { failed: sum(failedAt), sessions: sum(sessionsAt) };
      };
      const before = await counters();
      for (const leaf of ['ecdsa', 'rsa'] as const) {
        for (const version of VERSIONS) {
          const [result] = await probeTarget(targetAt(LOOPBACK, haproxy.port(leaf)), moduleFor(version, { handshake: 'native' }), Date.now() + 5000);
          expect(result?.success, result?.error ?? '').toBe(true);
        }
      }
      await new Promise((r) => setTimeout(r, 300));
      const after = await counters();
      expect(after.failed, 'ssl_failed_handshake').toBe(before.failed);
      expect(after.sessions - before.sessions, 'ssl_sess: one full handshake per probe').toBe(4);
    });
  });

  describe('Apache', () => {
    it('live stapling, ECDSA and RSA leaves, TLS 1.2 and 1.3', async () => {
      for (const leaf of ['ecdsa', 'rsa'] as const) {
        await warm(apache.port(leaf));
        for (const version of [...VERSIONS, undefined]) {
          const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, apache.port(leaf)), moduleFor(version));
          expect(seen.wire.staple).not.toBeNull();
          expect(seen.native).toMatchObject({ success: true, staple: { verdict: { valid: true } } });
        }
      }
    });

    it('logs no handshake error for native probes', async () => {
      const before = (await stat(apache.errorLogPath)).size;
      for (const version of VERSIONS) {
        const [result] = await probeTarget(targetAt(LOOPBACK, apache.port('ecdsa')), moduleFor(version, { handshake: 'native' }), Date.now() + 5000);
        expect(result?.success, result?.error ?? '').toBe(true);
      }
      await new Promise((r) => setTimeout(r, 500));
      const added = (await readFile(apache.errorLogPath)).subarray(before).toString('utf8');
      expect(added).not.toMatch(/SSL handshake failed|SSL library error|\[(ssl:)?(error|crit|alert)\]/i);
    });
  });

  describe('openssl s_server', () => {
    /** s_server on a free port with `leaf` and a staple; resolves once it printed ACCEPT. */
    async function sServer(leaf: LabCert, staple: Buffer, args: string[]): Promise<{ port: number; proc: ManagedProcess; outputSince: () => string }> {
      const [port] = await freePorts(1);
      const file = `${lab.dir}/s_server-${port}.ocsp.der`;
      await writeFile(file, staple);
      const proc = spawnManaged({
        name: `s_server ${args.join(' ')}`,
        command: binaryPath('openssl'),
        args: ['s_server', '-accept', `${LOOPBACK}:${port}`, '-cert', leaf.certPath, '-key', leaf.keyPath, '-cert_chain', lab.pki.intermediate.certPath,
          '-status_file', file, '-www', ...args],
      });
      sServers.push(proc);
      await waitFor(() => proc.capturedOutput.includes('ACCEPT'), 10_000, { what: 's_server to accept', abortIf: () => (proc.exitInfo ? 's_server exited' : null), diagnostics: () => proc.diagnostics() });
      const mark = proc.capturedOutput.length;
      return { port: port!, proc, outputSince: () => proc.capturedOutput.slice(mark) };
    }

    /** Both engines agree; then one more native probe, after which s_server printed nothing (no error). */
    async function check(leaf: 'ecdsa' | 'rsa', args: string[], version: Version): Promise<{ protocol: string; cipher: string; staple: string | null }> {
      const server = await sServer(lab.leaves[leaf], staples[leaf]!, args);
      const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, server.port), moduleFor(version));
      const mark = server.proc.capturedOutput.length;
      const [result] = await probeTarget(targetAt(LOOPBACK, server.port), moduleFor(undefined, { handshake: 'native' }), Date.now() + 5000);
      expect(result?.success, result?.error ?? '').toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      expect(server.proc.capturedOutput.slice(mark), 's_server output after a native probe').toBe('');
      await server.proc.stop();
      return seen.wire;
    }

    for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
      for (const group of ['X25519', 'P-256', 'P-384']) {
        it(`TLS 1.3 ${suite} ${group}`, async () => {
          const leaf = group === 'P-256' ? 'rsa' : 'ecdsa';
          const wire = await check(leaf, ['-tls1_3', '-ciphersuites', suite, '-groups', group], 'TLSv1.3');
          expect(wire).toMatchObject({ protocol: 'TLSv1.3', cipher: suite });
        });
      }
    }

    const TLS12 = {
      ecdsa: [['ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'], ['ECDHE-ECDSA-AES256-GCM-SHA384', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'], ['ECDHE-ECDSA-CHACHA20-POLY1305', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256']],
      rsa: [['ECDHE-RSA-AES128-GCM-SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'], ['ECDHE-RSA-AES256-GCM-SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'], ['ECDHE-RSA-CHACHA20-POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256']],
    } as const;
    for (const leaf of ['ecdsa', 'rsa'] as const) {
      for (const [openssl, iana] of TLS12[leaf]) {
        it(`TLS 1.2 ${openssl}`, async () => {
          const wire = await check(leaf, ['-tls1_2', '-cipher', openssl], 'TLSv1.2');
          expect(wire).toMatchObject({ protocol: 'TLSv1.2', cipher: iana, staple: staples[leaf]!.toString('hex') });
        });
      }
    }

    it('its own order preferred: TLS 1.2 suite, TLS 1.3 suite, TLS 1.3 group', async () => {
      // The engine prefers AES-128-GCM for TLS 1.2 and AES-256-GCM for TLS 1.3 (OpenSSL's order): the server's order must win.
      const tls12 = await check('ecdsa', ['-tls1_2', '-serverpref', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256'], 'TLSv1.2');
      expect(tls12.cipher).toBe('TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256');
      const tls13 = await check('ecdsa', ['-tls1_3', '-serverpref', '-ciphersuites', 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384'], 'TLSv1.3');
      expect(tls13.cipher).toBe('TLS_AES_128_GCM_SHA256');
      // P-384 first in the server's groups (OpenSSL 3.0 still takes the X25519 share it was sent rather than ask again).
      const group = await check('rsa', ['-tls1_3', '-serverpref', '-groups', 'P-384:X25519'], 'TLSv1.3');
      expect(group.protocol).toBe('TLSv1.3');
    });
  });
});
