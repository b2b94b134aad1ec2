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
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult } from '../../src/probe/types.js';
import type { StarttlsProtocol } from '../../src/starttls/protocols.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { freePorts, spawnManaged, waitFor, type ManagedProcess } from './lab/index.js';

const IN_CI = process.env.CI === 'true';

/** The executable (absolute path) or null; with CI=true a missing one throws at collection. */
function requireServer(binary: string, pkg: string): string | null {
  try {
    accessSync(binary, constants.X_OK);
    return binary;
  } catch {
    const message = `STARTTLS e2e: ${binary} missing; install with: apt-get install --no-install-recommends ${pkg}`;
    if (IN_CI) throw new Error(`${message} (CI=true: must not be skipped in CI)`);
    console.warn(`\n*** SKIPPING *** ${message}\n`);
    return null;
  }
}

const EXIM = requireServer('/usr/sbin/exim4', 'exim4-daemon-light');
const DOVECOT = requireServer('/usr/sbin/dovecot', 'dovecot-imapd dovecot-pop3d');
const VSFTPD = requireServer('/usr/sbin/vsftpd', 'vsftpd');
const SLAPD = requireServer('/usr/sbin/slapd', 'slapd');
const PROSODY = requireServer('/usr/bin/prosody', 'prosody');
/** Debian installs PostgreSQL per major version (15 on Debian 12); the newest present. */
const PG_BIN = `/usr/lib/postgresql/${pgVersions().at(-1) ?? '15'}/bin`;
const POSTGRES = requireServer(`${PG_BIN}/postgres`, 'postgresql');
const MARIADB = requireServer('/usr/sbin/mariadbd', 'mariadb-server');
/** `/` when postfix is installed, else where `.ci/install-postfix` unpacked Debian's package. */
const POSTFIX_ROOT = ['/', process.env.POSTFIX_ROOT ?? '/opt/ocsp-exporter-ci/postfix'].find((root) => executable(path.join(root, 'usr/lib/postfix/sbin/master')));
const POSTFIX = POSTFIX_ROOT && postfixAccounts()
  ? path.join(POSTFIX_ROOT, 'usr/lib/postfix/sbin/master')
  : requireServer('/usr/lib/postfix/sbin/master', 'postfix (beside exim4: run bash .ci/install-postfix as root)');

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Postfix refuses to start without its mail_owner and setgid_group accounts. */
function postfixAccounts(): boolean {
  try {
    execFileSync('getent', ['passwd', 'postfix'], { stdio: 'ignore' });
    execFileSync('getent', ['group', 'postdrop'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function pgVersions(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(a) - Number(b));
  } catch {
    return [];
  }
}

let pki: TestPki;
let dir: string;
const processes: ManagedProcess[] = [];
/** Files every server reads: leaf + intermediate, the leaf's key, and the staples. */
const files = { chain: '', key: '', good: '', expired: '' };

beforeAll(async () => {
  pki = await makeTestPki();
  dir = await mkdtemp(path.join(tmpdir(), 'starttls-e2e-'));
  // Servers drop privileges (Exim, Dovecot, PostgreSQL): every file must be readable by them.
  await chmod(dir, 0o755);
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
  await Promise.all(processes.map((p) => p.stop(3000)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Resolves once something accepts TCP connections on 127.0.0.1:port, at most 20 s (initdb-free starts take < 3 s). */
async function start(name: string, command: string, args: string[], ports: number[], logFiles: string[] = [], env?: NodeJS.ProcessEnv): Promise<ManagedProcess> {
  const proc = spawnManaged({ name, command, args, logFiles, ...(env ? { env: { ...process.env, ...env } } : {}) });
  processes.push(proc);
  for (const port of ports) {
    await waitFor(() => accepts(port), 20_000, {
      what: `${name} listening on 127.0.0.1:${port}`,
      intervalMs: 100,
      abortIf: () => (proc.exitInfo ? `${name} exited` : null),
      diagnostics: () => proc.diagnostics(),
    });
  }
  return proc;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

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

async function subdir(name: string, owner?: string): Promise<string> {
  const sub = path.join(dir, name);
  await mkdir(sub, { recursive: true, mode: 0o755 });
  if (owner) {
    const uid = Number(execFileSync('id', ['-u', owner]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', owner]).toString().trim());
    await chown(sub, uid, gid);
  }
  return sub;
}

describe.skipIf(!EXIM)('Exim (SMTP STARTTLS, tls_ocsp_file)', () => {
  async function startExim(name: string, staple: string): Promise<number[]> {
    const home = await subdir(name);
    await subdir(`${name}/spool`, 'Debian-exim');
    await subdir(`${name}/log`, 'Debian-exim');
    const ports = await freePorts(2);
    const config = path.join(home, 'exim.conf');
    await writeFile(
      config,
      [
        'primary_hostname = mail.test',
        'exim_user = Debian-exim',
        'exim_group = Debian-exim',
        `spool_directory = ${home}/spool`,
        `log_file_path = ${home}/log/%slog`,
        `pid_file_path = ${home}/exim.pid`,
        'local_interfaces = <; 127.0.0.1',
        `daemon_smtp_ports = ${ports.join(' : ')}`,
        'tls_advertise_hosts = *',
        `tls_certificate = ${files.chain}`,
        `tls_privatekey = ${files.key}`,
        `tls_ocsp_file = ${staple}`,
        'acl_smtp_rcpt = refuse_all',
        'begin acl',
        'refuse_all:',
        '  deny',
        '',
      ].join('\n'),
      // Exim refuses a config file anyone else may write.
      { mode: 0o644 },
    );
    await start(name, EXIM!, ['-C', config, '-bdf'], ports, [path.join(home, 'log', 'mainlog'), path.join(home, 'log', 'paniclog')]);
    return ports;
  }

  it('a good staple on a 25-like and a 587-like port: present, valid, good', async () => {
    const ports = await startExim('exim-good', files.good);
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
    const [port] = await startExim('exim-expired', files.expired);
    const result = await probe(port!, 'smtp');
    expect(result.success).toBe(false);
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toMatch(/^the SMTP server refused at STARTTLS: "454 /);
  });
});

describe.skipIf(!DOVECOT)('Dovecot (IMAP STARTTLS, POP3 STLS)', () => {
  it('both protocols upgrade; no staple, reported absent', async () => {
    const home = await subdir('dovecot');
    const [imap, pop3] = await freePorts(2);
    const config = path.join(home, 'dovecot.conf');
    await writeFile(
      config,
      `base_dir = ${home}/run
state_dir = ${home}/state
protocols = imap pop3
listen = 127.0.0.1
log_path = ${home}/dovecot.log
ssl = yes
ssl_cert = <${files.chain}
ssl_key = <${files.key}
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${home}
}
service imap-login {
  inet_listener imap {
    port = ${imap}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${pop3}
  }
  inet_listener pop3s {
    port = 0
  }
}
`,
    );
    await start('dovecot', DOVECOT!, ['-F', '-c', config], [imap!, pop3!], [path.join(home, 'dovecot.log')]);
    expectNoStaple(await probe(imap!, 'imap'));
    expectNoStaple(await probe(pop3!, 'pop3'));
  });
});

describe.skipIf(!VSFTPD)('vsftpd (FTP AUTH TLS)', () => {
  it('upgrades; no staple, reported absent', async () => {
    const home = await subdir('vsftpd');
    const empty = await subdir('vsftpd/empty');
    const [port] = await freePorts(1);
    const config = path.join(home, 'vsftpd.conf');
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
        `vsftpd_log_file=${home}/vsftpd.log`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    await start('vsftpd', VSFTPD!, [config], [port!]);
    expectNoStaple(await probe(port!, 'ftp'));
  });
});

describe.skipIf(!SLAPD)('slapd (LDAP StartTLS)', () => {
  it('upgrades; no staple, reported absent', async () => {
    const home = await subdir('slapd');
    const [port] = await freePorts(1);
    const config = path.join(home, 'slapd.conf');
    await writeFile(config, `pidfile ${home}/slapd.pid\nTLSCertificateFile ${files.chain}\nTLSCertificateKeyFile ${files.key}\n`);
    // -d 0: stay in the foreground, log nothing.
    await start('slapd', SLAPD!, ['-d', '0', '-h', `ldap://127.0.0.1:${port}/`, '-f', config], [port!]);
    expectNoStaple(await probe(port!, 'ldap'));
  });
});

describe.skipIf(!PROSODY)('Prosody (XMPP starttls)', () => {
  it('upgrades a client stream to localhost; no staple, reported absent', async () => {
    const home = await subdir('prosody');
    await subdir('prosody/data');
    const [port] = await freePorts(1);
    const config = path.join(home, 'prosody.cfg.lua');
    await writeFile(
      config,
      `run_as_root = true
pidfile = "${home}/prosody.pid"
data_path = "${home}/data"
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "tls", "saslauth", "disco" }
modules_disabled = { "s2s" }
log = { info = "${home}/prosody.log", error = "${home}/prosody.log" }
VirtualHost "localhost"
  ssl = { certificate = "${files.chain}", key = "${files.key}" }
`,
    );
    await start('prosody', PROSODY!, ['--config', config, '-F'], [port!], [path.join(home, 'prosody.log')]);
    expectNoStaple(await probe(port!, 'xmpp'));
  });
});

describe.skipIf(!POSTGRES)('PostgreSQL (SSLRequest)', () => {
  it('upgrades; no staple, reported absent', async () => {
    const home = await subdir('postgres', 'postgres');
    const [port] = await freePorts(1);
    // initdb and postgres refuse to run as root; the key must be the server user's, mode 0600.
    execFileSync('runuser', ['-u', 'postgres', '--', `${PG_BIN}/initdb`, '-D', `${home}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync'], {
      stdio: 'ignore',
      timeout: 60_000,
    });
    const key = path.join(home, 'key.pem');
    await writeFile(key, pki.leafEcdsa.keyPem, { mode: 0o600 });
    const postgresUid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    await chown(key, postgresUid, -1);
    await start(
      'postgres',
      'runuser',
      ['-u', 'postgres', '--', `${PG_BIN}/postgres`, '-D', `${home}/data`, '-p', String(port), '-k', home,
        '-c', 'listen_addresses=127.0.0.1', '-c', 'ssl=on', '-c', `ssl_cert_file=${files.chain}`, '-c', `ssl_key_file=${key}`],
      [port!],
    );
    expectNoStaple(await probe(port!, 'postgres'));
  });
});

describe.skipIf(!MARIADB)('MariaDB (MySQL SSL request)', () => {
  it('upgrades; no staple, reported absent', async () => {
    const home = await subdir('mariadb');
    const [port] = await freePorts(1);
    // No system tables are needed to answer a handshake: --skip-grant-tables spares mariadb-install-db.
    await start(
      'mariadbd',
      MARIADB!,
      ['--no-defaults', `--datadir=${home}`, '--user=root', `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${home}/mysqld.sock`,
        `--pid-file=${home}/mysqld.pid`, '--skip-grant-tables', '--skip-log-bin', `--ssl-cert=${files.chain}`, `--ssl-key=${files.key}`],
      [port!],
    );
    expectNoStaple(await probe(port!, 'mysql'));
  });
});

describe.skipIf(!POSTFIX)('Postfix (SMTP STARTTLS)', () => {
  it('a 25-like and a 587-like port upgrade; no staple, reported absent', async () => {
    const root = POSTFIX_ROOT!;
    const home = await subdir('postfix');
    const etc = await subdir('postfix/etc');
    await subdir('postfix/data', 'postfix');
    // master creates its sockets in private/ (postfix only) and public/ (postfix:postdrop), its
    // lock in pid/: the layout `postfix check` would make.
    await subdir('postfix/queue/pid');
    const privateDir = await subdir('postfix/queue/private', 'postfix');
    await chmod(privateDir, 0o700);
    const publicDir = await subdir('postfix/queue/public', 'postfix');
    const postdrop = Number(execFileSync('getent', ['group', 'postdrop']).toString().split(':')[2]);
    await chown(publicDir, Number(execFileSync('id', ['-u', 'postfix']).toString().trim()), postdrop);
    await chmod(publicDir, 0o710);
    const ports = await freePorts(2);
    await writeFile(
      path.join(etc, 'main.cf'),
      [
        'compatibility_level = 3.6',
        `queue_directory = ${home}/queue`,
        `data_directory = ${home}/data`,
        `meta_directory = ${etc}`,
        `daemon_directory = ${path.join(root, 'usr/lib/postfix/sbin')}`,
        `shlib_directory = ${path.join(root, 'usr/lib/postfix')}`,
        `command_directory = ${path.join(root, 'usr/sbin')}`,
        'mail_owner = postfix',
        'setgid_group = postdrop',
        'inet_interfaces = 127.0.0.1',
        'inet_protocols = ipv4',
        'myhostname = mail.test',
        'mydestination =',
        'alias_maps =',
        'alias_database =',
        'local_recipient_maps =',
        `smtpd_tls_chain_files = ${files.key}, ${files.chain}`,
        'smtpd_tls_security_level = may',
        // No syslog here: postlogd writes the log file (Postfix 3.4+).
        `maillog_file_prefixes = ${home}`,
        `maillog_file = ${home}/maillog`,
        // The unpacked package's libraries are found through LD_LIBRARY_PATH, which master passes on only when told.
        'import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_LIBRARY_PATH',
        '',
      ].join('\n'),
    );
    await writeFile(
      path.join(etc, 'master.cf'),
      [
        `127.0.0.1:${ports[0]} inet n - n - - smtpd`,
        `127.0.0.1:${ports[1]} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt`,
        'anvil unix - - n - 1 anvil',
        'tlsmgr unix - - n 1000? 1 tlsmgr',
        'postlog unix-dgram n - n - 1 postlogd',
        '',
      ].join('\n'),
    );
    await writeFile(path.join(etc, 'dynamicmaps.cf'), '');
    await start('postfix', POSTFIX!, ['-c', etc, '-d'], ports, [path.join(home, 'maillog')], {
      LD_LIBRARY_PATH: path.join(root, 'usr/lib/postfix'),
    });
    for (const port of ports) expectNoStaple(await probe(port, 'smtp'));
    // Postfix's own account of both sessions: EHLO, then STARTTLS with the handshake completed
    // (a probe that cut the connection after the server's Finished shows "starttls=0/1").
    const maillog = path.join(home, 'maillog');
    await waitFor(async () => ((await readFile(maillog, 'utf8')).match(/disconnect from localhost\[127\.0\.0\.1\] ehlo=1 starttls=1/g) ?? []).length === 2, 5000, {
      what: 'two STARTTLS sessions in the Postfix log',
      diagnostics: () => readFileSync(maillog, 'utf8').slice(-2000),
      intervalMs: 100,
    });
  });
});
