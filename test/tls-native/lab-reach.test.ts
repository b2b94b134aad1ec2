/**
 * The native engine after STARTTLS and through proxies, differentially against Node's on the real
 * servers of the reach scenarios: Exim (SMTP, stapling), Dovecot (IMAP, POP3) and Postfix (SMTP)
 * from test/e2e/support/mail-servers.ts, and nginx behind tinyproxy and Squid. Each case: the same
 * probe result, staple bytes and chain (differential.ts). Then the servers' own accounts of native
 * probes: Postfix logs `starttls=1` (a completed handshake), never `starttls=0/1`; Exim's mainlog
 * and Dovecot's log name no TLS error.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { parseProxyUrl } from '../../src/net/proxy.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { StarttlsProtocol } from '../../src/starttls/protocols.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { freePorts, Lab, LOOPBACK, requireLabTools, waitFor, type NginxServer } from '../e2e/lab/index.js';
import { DOVECOT, EXIM, POSTFIX, requireServer, ServerHome, startDovecot, startExim, startPostfix } from '../e2e/support/mail-servers.js';
import { expectSameOnBothEngines, targetAt } from './differential.js';

let pki: TestPki;
let home: ServerHome;
const files = { chain: '', key: '', good: '' };
let good: Buffer;

beforeAll(async () => {
  pki = await makeTestPki();
  home = await ServerHome.create('native-reach-');
  files.chain = path.join(home.dir, 'chain.pem');
  files.key = path.join(home.dir, 'key.pem');
  files.good = path.join(home.dir, 'good.der');
  good = Buffer.from(await stapleFor(pki, pki.leafEcdsa));
  await writeFile(files.chain, pki.leafEcdsa.pem + pki.intermediate.pem, { mode: 0o644 });
  await writeFile(files.key, pki.leafEcdsa.keyPem, { mode: 0o644 });
  await writeFile(files.good, good, { mode: 0o644 });
});

afterAll(async () => {
  await home?.stop();
});

const mailModule = (protocol: StarttlsProtocol, version?: 'TLSv1.2' | 'TLSv1.3'): ModuleConfig => ({
  ...defaultModule('m'),
  starttls: protocol,
  caPem: pki.root.pem,
  timeoutSeconds: 10,
  ...(version ? { minVersion: version, maxVersion: version } : {}),
});

async function nativeProbe(port: number, module: ModuleConfig): Promise<void> {
  const [result] = await probeTarget(targetAt(LOOPBACK, port), { ...module, handshake: 'native' }, Date.now() + 10_000);
  expect(result?.success, result?.error ?? '').toBe(true);
  expect(result?.handshake).toEqual({ engine: 'native', fallback: null });
}

async function logSince(file: string, offset: number): Promise<string> {
  return (await readFile(file)).subarray(offset).toString('utf8');
}

const sizeOf = async (file: string): Promise<number> => (await stat(file).catch(() => ({ size: 0 }))).size;

describe.skipIf(!EXIM)('Exim (SMTP STARTTLS, tls_ocsp_file)', () => {
  it('the same staple, chain and verdict on both ports, TLS 1.2 and 1.3; no TLS error in the mainlog for native probes', async () => {
    const { ports, mainlog } = await startExim(home, 'exim', files, files.good);
    for (const port of ports) {
      for (const version of ['TLSv1.2', 'TLSv1.3', undefined] as const) {
        const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), mailModule('smtp', version));
        expect(seen.wire.staple).toBe(good.toString('hex'));
      }
    }
    const before = await sizeOf(mainlog);
    for (const port of ports) for (const version of ['TLSv1.2', 'TLSv1.3'] as const) await nativeProbe(port, mailModule('smtp', version));
    await new Promise((r) => setTimeout(r, 500));
    expect(await logSince(mainlog, before)).not.toMatch(/TLS error|gnutls|non-properly terminated|handshake/i);
  });
});

describe.skipIf(!DOVECOT)('Dovecot (IMAP STARTTLS, POP3 STLS)', () => {
  it('the same chain and no staple on both engines; Dovecot logs no TLS error for native probes', async () => {
    const { imap, pop3, log } = await startDovecot(home, files);
    for (const [port, protocol] of [[imap, 'imap'], [pop3, 'pop3']] as const) {
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), mailModule(protocol, version));
        expect(seen.wire.staple).toBeNull();
      }
    }
    // Dovecot logs a session when its login process sees the end: let the differential's sessions land first.
    await new Promise((r) => setTimeout(r, 1000));
    const before = await sizeOf(log);
    for (const [port, protocol] of [[imap, 'imap'], [pop3, 'pop3']] as const) await nativeProbe(port, mailModule(protocol));
    // ", TLS," marks a session whose handshake completed; "TLS handshaking" one cut short.
    await waitFor(async () => ((await logSince(log, before)).match(/Disconnected: /g) ?? []).length >= 2, 5000, { what: 'two sessions in the Dovecot log', intervalMs: 100 });
    const added = await logSince(log, before);
    expect(added.match(/Disconnected: .*, TLS, session=/g)?.length, added).toBe(2);
    expect(added).not.toMatch(/SSL_accept|TLS handshaking|SSL_read|error|failed/i);
  });
});

describe.skipIf(!POSTFIX)('Postfix (SMTP STARTTLS)', () => {
  it('the same chain on both engines; every native session logged starttls=1, none starttls=0/1', async () => {
    const { ports, maillog } = await startPostfix(home, files);
    for (const port of ports) {
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), mailModule('smtp', version));
        expect(seen.wire.staple).toBeNull();
      }
    }
    // Postfix writes a session's summary when it ends: wait for the differential's sessions first.
    await new Promise((r) => setTimeout(r, 1000));
    const before = await sizeOf(maillog);
    for (const port of ports) for (const version of ['TLSv1.2', 'TLSv1.3'] as const) await nativeProbe(port, mailModule('smtp', version));
    await waitFor(async () => ((await logSince(maillog, before)).match(/disconnect from localhost\[127\.0\.0\.1\] ehlo=1 starttls=/g) ?? []).length === 4, 5000, {
      what: 'four session summaries in the Postfix log',
      diagnostics: () => '',
      intervalMs: 100,
    });
    const added = await logSince(maillog, before);
    expect(added.match(/ehlo=1 starttls=1 /g)?.length, added).toBe(4);
    // "lost connection after STARTTLS" stays: a probe ends the session without QUIT, whichever engine.
    expect(added).not.toMatch(/starttls=0\/1|SSL_accept error|TLS library problem/);
  });
});

const TINYPROXY = requireServer('/usr/bin/tinyproxy', 'tinyproxy');
const SQUID = requireServer('/usr/sbin/squid', 'squid');
const gate = requireLabTools(['openssl', 'faketime', 'nginx']);

describe.skipIf(gate.skip || (!TINYPROXY && !SQUID))('through proxies to nginx', () => {
  let lab: Lab;
  let nginx: NginxServer;
  let staple: Buffer;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'native-proxy' });
    staple = await lab.pki.makeResponse(lab.leaves.ecdsa, { validMinutes: 60 });
    nginx = await lab.startNginx([{ name: 'good', leaf: lab.leaves.ecdsa, stapling: { mode: 'file', der: staple } }]);
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  const module = (proxyPort: number, version?: 'TLSv1.2' | 'TLSv1.3'): ModuleConfig => ({
    ...defaultModule('m'),
    timeoutSeconds: 10,
    caPem: lab.pki.root.certPem,
    proxy: parseProxyUrl(`http://${LOOPBACK}:${proxyPort}`),
    ...(version ? { minVersion: version, maxVersion: version } : {}),
  });

  async function expectSameThrough(proxyPort: number): Promise<void> {
    for (const version of ['TLSv1.2', 'TLSv1.3', undefined] as const) {
      for (const host of [LOOPBACK, 'localhost']) {
        const seen = await expectSameOnBothEngines(targetAt(host, nginx.port('good')), module(proxyPort, version));
        expect(seen.wire.staple).toBe(staple.toString('hex'));
      }
    }
  }

  it.skipIf(!TINYPROXY)('tinyproxy', async () => {
    const [port] = (await freePorts(1)) as [number];
    const file = path.join(lab.dir, 'tinyproxy.conf');
    await writeFile(file, [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 30', 'MaxClients 20', 'Allow 127.0.0.1', ''].join('\n'));
    await home.start('tinyproxy', TINYPROXY!, ['-d', '-c', file], [port]);
    await expectSameThrough(port);
  });

  it.skipIf(!SQUID)('Squid', async () => {
    const [port] = (await freePorts(1)) as [number];
    const dir = path.join(lab.dir, 'squid');
    await mkdir(dir, { recursive: true });
    // Squid drops to its own user as root.
    await chmod(dir, 0o777);
    const conf = [`http_port ${LOOPBACK}:${port}`, `pid_filename ${dir}/squid.pid`, `cache_log ${dir}/cache.log`, 'access_log none', 'cache deny all',
      `coredump_dir ${dir}`, 'shutdown_lifetime 0 seconds', 'acl localnet src 127.0.0.0/8', 'http_access allow localnet', 'http_access deny all'];
    await writeFile(path.join(dir, 'squid.conf'), `${conf.join('\n')}\n`, { mode: 0o644 });
    await home.start('squid', SQUID!, ['-N', '-f', path.join(dir, 'squid.conf')], [port], [`${dir}/cache.log`]);
    await expectSameThrough(port);
  });
});

