/**
 * The STARTTLS probe against real Debian servers, each started by the test on free loopback ports
 * in a temporary directory (as root, which CI is) and stopped after: Exim (SMTP on a 25-like and a
 * 587-like port, stapling a good response from `tls_ocsp_file`; a second Exim with an expired one),
 * Dovecot (IMAP, POP3), vsftpd (FTP AUTH TLS), slapd (LDAP StartTLS), Prosody (XMPP), PostgreSQL
 * and MariaDB, and Postfix (SMTP on a 25-like and a 587-like port). None but Exim staples, and the
 * exporter must say exactly that, with the chain presented in full and verified against the test
 * root. Debian's postfix and exim4 conflict (both are the mail-transport-agent), so Postfix comes
 * from Debian's package unpacked by `.ci/install-postfix`, unless it is installed for real.
 *
 * A missing server skips its block with a message naming the package; with CI=true it fails.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { chown, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult } from '../../src/probe/types.js';
import type { StarttlsProtocol } from '../../src/starttls/protocols.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { freePorts, waitFor } from './lab/index.js';
import { DOVECOT, EXIM, POSTFIX, requireServer, ServerHome, startDovecot, startExim, startPostfix } from './support/mail-servers.js';

const VSFTPD = requireServer('/usr/sbin/vsftpd', 'vsftpd');
const SLAPD = requireServer('/usr/sbin/slapd', 'slapd');
const PROSODY = requireServer('/usr/bin/prosody', 'prosody');
/** Debian installs PostgreSQL per major version (15 on Debian 12); the newest present. */
const PG_BIN = `/usr/lib/postgresql/${pgVersions().at(-1) ?? '15'}/bin`;
const POSTGRES = requireServer(`${PG_BIN}/postgres`, 'postgresql');
const MARIADB = requireServer('/usr/sbin/mariadbd', 'mariadb-server');

function pgVersions(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(a) - Number(b));
  } catch {
    return [];
  }
}

let pki: TestPki;
let home: ServerHome;
/** Files every server reads: leaf + intermediate, the leaf's key, and the staples. */
const files = { chain: '', key: '', good: '', expired: '' };

beforeAll(async () => {
  pki = await makeTestPki();
  home = await ServerHome.create('starttls-e2e-');
  const dir = home.dir;
  files.chain = path.join(dir, 'chain.pem');
  files.key = path.join(dir, 'key.pem');
  files.good = path.join(dir, 'good.der');
  files.expired = path.join(dir, 'expired.der');
  await writeFile(files.chain, pki.leafEcdsa.pem + pki.intermediate.pem, { mode: 0o644 });
  await writeFile(files.key, pki.leafEcdsa.keyPem, { mode: 0o644 });
  await writeFile(files.good, await stapleFor(pki, pki.leafEcdsa), { mode: 0o644 });
  const day = 86_400_000;
  await writeFile(files.expired, await stapleFor(pki, pki.leafEcdsa, { thisUpdate: new Date(Date.now() - 10 * day), nextUpdate: new Date(Date.now() - day) }), { mode: 0o644 });
});

afterAll(async () => {
  await home?.stop();
});

async function probe(port: number, protocol: StarttlsProtocol): Promise<ProbeResult> {
  const module = { ...defaultModule(`real_${protocol}`), starttls: protocol, caPem: pki.root.pem, timeoutSeconds: 10 };
  const target = { target: `127.0.0.1:${port}`, host: '127.0.0.1', port, module: module.name, serverName: 'localhost', labels: {} };
  const [result] = await probeTarget(target, module, Date.now() + 10_000);
  return result!;
}

/** Success, the chain leaf + intermediate exactly as configured and verified, the leaf ours. */
function expectGoodChain(result: ProbeResult): void {
  expect(result.error).toBeNull();
  expect(result.success).toBe(true);
  expect(result.chain).toEqual({ verified: true, error: null, length: 2 });
  expect(result.leaf?.fingerprintSha256).toBe(createHash('sha256').update(pki.leafEcdsa.der).digest('hex'));
  expect(result.leaf?.subject).toBe('CN=localhost');
}

function expectNoStaple(result: ProbeResult): void {
  expectGoodChain(result);
  expect(result.staple).toMatchObject({ present: false, sizeBytes: 0, verdict: null });
}

describe.skipIf(!EXIM)('Exim (SMTP STARTTLS, tls_ocsp_file)', () => {
  it('a good staple on a 25-like and a 587-like port: present, valid, good', async () => {
    const { ports } = await startExim(home, 'exim-good', files, files.good);
    for (const port of ports) {
      const result = await probe(port, 'smtp');
      expectGoodChain(result);
      expect(result.staple?.present).toBe(true);
      expect(result.staple?.verdict?.valid).toBe(true);
      expect(result.staple?.verdict?.single?.certStatus).toBe('good');
      expect(result.staple?.verdict?.problems).toEqual([]);
    }
  });

  // Debian's Exim is built with GnuTLS, which will not load an expired OCSP response: Exim then
  // answers STARTTLS with 454, and the exporter says so (reason starttls, Exim's words).
  it('an expired staple: Exim refuses STARTTLS with 454, a failed probe with its answer', async () => {
    const [port] = (await startExim(home, 'exim-expired', files, files.expired)).ports;
    const result = await probe(port!, 'smtp');
    expect(result.success).toBe(false);
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toMatch(/^the SMTP server refused at STARTTLS: "454 /);
  });
});

describe.skipIf(!DOVECOT)('Dovecot (IMAP STARTTLS, POP3 STLS)', () => {
  it('both protocols upgrade; no staple, reported absent', async () => {
    const { imap, pop3 } = await startDovecot(home, files);
    expectNoStaple(await probe(imap, 'imap'));
    expectNoStaple(await probe(pop3, 'pop3'));
  });
});

describe.skipIf(!VSFTPD)('vsftpd (FTP AUTH TLS)', () => {
  it('upgrades; no staple, reported absent', async () => {
    const dir = await home.subdir('vsftpd');
    const empty = await home.subdir('vsftpd/empty');
    const [port] = await freePorts(1);
    const config = path.join(dir, 'vsftpd.conf');
    await writeFile(
      config,
      [
        'listen=YES',
        'listen_ipv6=NO',
        'listen_address=127.0.0.1',
        `listen_port=${port}`,
        'background=NO',
        // Without any access enabled vsftpd greets "500 OOPS"; anonymous login stays behind TLS.
        'anonymous_enable=YES',
        'allow_anon_ssl=YES',
        `anon_root=${empty}`,
        'local_enable=NO',
        'seccomp_sandbox=NO',
        `secure_chroot_dir=${empty}`,
        'ssl_enable=YES',
        'ssl_ciphers=HIGH',
        `rsa_cert_file=${files.chain}`,
        `rsa_private_key_file=${files.key}`,
        'xferlog_enable=NO',
        `vsftpd_log_file=${dir}/vsftpd.log`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    await home.start('vsftpd', VSFTPD!, [config], [port!]);
    expectNoStaple(await probe(port!, 'ftp'));
  });
});

describe.skipIf(!SLAPD)('slapd (LDAP StartTLS)', () => {
  it('upgrades; no staple, reported absent', async () => {
    const dir = await home.subdir('slapd');
    const [port] = await freePorts(1);
    const config = path.join(dir, 'slapd.conf');
    await writeFile(config, `pidfile ${dir}/slapd.pid\nTLSCertificateFile ${files.chain}\nTLSCertificateKeyFile ${files.key}\n`);
    // -d 0: stay in the foreground, log nothing.
    await home.start('slapd', SLAPD!, ['-d', '0', '-h', `ldap://127.0.0.1:${port}/`, '-f', config], [port!]);
    expectNoStaple(await probe(port!, 'ldap'));
  });
});

describe.skipIf(!PROSODY)('Prosody (XMPP starttls)', () => {
  it('upgrades a client stream to localhost; no staple, reported absent', async () => {
    const dir = await home.subdir('prosody');
    await home.subdir('prosody/data');
    const [port] = await freePorts(1);
    const config = path.join(dir, 'prosody.cfg.lua');
    await writeFile(
      config,
      `run_as_root = true
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "tls", "saslauth", "disco" }
modules_disabled = { "s2s" }
log = { info = "${dir}/prosody.log", error = "${dir}/prosody.log" }
VirtualHost "localhost"
  ssl = { certificate = "${files.chain}", key = "${files.key}" }
`,
    );
    await home.start('prosody', PROSODY!, ['--config', config, '-F'], [port!], [path.join(dir, 'prosody.log')]);
    expectNoStaple(await probe(port!, 'xmpp'));
  });
});

describe.skipIf(!POSTGRES)('PostgreSQL (SSLRequest)', () => {
  it('upgrades; no staple, reported absent', async () => {
    const dir = await home.subdir('postgres', 'postgres');
    const [port] = await freePorts(1);
    // initdb and postgres refuse to run as root; the key must be the server user's, mode 0600.
    execFileSync('runuser', ['-u', 'postgres', '--', `${PG_BIN}/initdb`, '-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync'], {
      stdio: 'ignore',
      timeout: 60_000,
    });
    const key = path.join(dir, 'key.pem');
    await writeFile(key, pki.leafEcdsa.keyPem, { mode: 0o600 });
    const postgresUid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    await chown(key, postgresUid, -1);
    await home.start(
      'postgres',
      'runuser',
      ['-u', 'postgres', '--', `${PG_BIN}/postgres`, '-D', `${dir}/data`, '-p', String(port), '-k', dir,
        '-c', 'listen_addresses=127.0.0.1', '-c', 'ssl=on', '-c', `ssl_cert_file=${files.chain}`, '-c', `ssl_key_file=${key}`],
      [port!],
    );
    expectNoStaple(await probe(port!, 'postgres'));
  });
});

describe.skipIf(!MARIADB)('MariaDB (MySQL SSL request)', () => {
  it('upgrades; no staple, reported absent', async () => {
    const dir = await home.subdir('mariadb');
    const [port] = await freePorts(1);
    // No system tables are needed to answer a handshake: --skip-grant-tables spares mariadb-install-db.
    await home.start(
      'mariadbd',
      MARIADB!,
      ['--no-defaults', `--datadir=${dir}`, '--user=root', `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${dir}/mysqld.sock`,
        `--pid-file=${dir}/mysqld.pid`, '--skip-grant-tables', '--skip-log-bin', `--ssl-cert=${files.chain}`, `--ssl-key=${files.key}`],
      [port!],
    );
    expectNoStaple(await probe(port!, 'mysql'));
  });
});

describe.skipIf(!POSTFIX)('Postfix (SMTP STARTTLS)', () => {
  it('a 25-like and a 587-like port upgrade; no staple, reported absent', async () => {
    const { ports, maillog } = await startPostfix(home, files);
    for (const port of ports) expectNoStaple(await probe(port, 'smtp'));
    // Postfix's own account of both sessions: EHLO, then STARTTLS with the handshake completed
    // (a probe that cut the connection after the server's Finished shows "starttls=0/1").
    await waitFor(async () => ((await readFile(maillog, 'utf8')).match(/disconnect from localhost\[127\.0\.0\.1\] ehlo=1 starttls=1/g) ?? []).length === 2, 5000, {
      what: 'two STARTTLS sessions in the Postfix log',
      diagnostics: () => readFileSync(maillog, 'utf8').slice(-2000),
      intervalMs: 100,
    });
  });
});
