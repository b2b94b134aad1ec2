/**
 * Real Debian mail servers for the STARTTLS scenarios, each started in its own directory under a
 * `ServerHome` on free loopback ports (as root, which CI is) and stopped with it: Exim (SMTP,
 * stapling from `tls_ocsp_file`), Dovecot (IMAP and POP3) and Postfix (SMTP; Debian's package
 * unpacked by `.ci/install-postfix` beside Exim, which it conflicts with, unless installed for
 * real). A missing server is null with a message naming the package; with CI=true it throws.
 */
import { accessSync, constants } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePorts, spawnManaged, waitFor, type ManagedProcess } from '../lab/index.js';

const IN_CI = process.env.CI === 'true';

/** The executable (absolute path) or null; with CI=true a missing one throws at collection. */
export function requireServer(binary: string, pkg: string): string | null {
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

export const EXIM = requireServer('/usr/sbin/exim4', 'exim4-daemon-light');
export const DOVECOT = requireServer('/usr/sbin/dovecot', 'dovecot-imapd dovecot-pop3d');
/** `/` when postfix is installed, else where `.ci/install-postfix` unpacked Debian's package. */
const POSTFIX_ROOT = ['/', process.env.POSTFIX_ROOT ?? '/opt/ocsp-exporter-ci/postfix'].find((root) => executable(path.join(root, 'usr/lib/postfix/sbin/master')));
export const POSTFIX = POSTFIX_ROOT && postfixAccounts()
  ? path.join(POSTFIX_ROOT, 'usr/lib/postfix/sbin/master')
  : requireServer('/usr/lib/postfix/sbin/master', 'postfix (beside exim4: run bash .ci/install-postfix as root)');

/** The TLS files every server reads: leaf + intermediate, the leaf's key. */
export interface ServerTlsFiles {
  chain: string;
  key: string;
}

/** A temporary directory the servers live in, and the processes started there. */
export class ServerHome {
  private readonly processes: ManagedProcess[] = [];
  private constructor(readonly dir: string) {}

  static async create(prefix: string): Promise<ServerHome> {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    // Servers drop privileges (Exim, Dovecot, PostgreSQL): every file must be readable by them.
    await chmod(dir, 0o755);
    return new ServerHome(dir);
  }

  /** `<dir>/<name>`, created world-readable, owned by `owner` when given. */
  async subdir(name: string, owner?: string): Promise<string> {
    const sub = path.join(this.dir, name);
    await mkdir(sub, { recursive: true, mode: 0o755 });
    if (owner) {
      const uid = Number(execFileSync('id', ['-u', owner]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', owner]).toString().trim());
      await chown(sub, uid, gid);
    }
    return sub;
  }

  /** Resolves once something accepts TCP connections on 127.0.0.1 at each port, at most 20 s (initdb-free starts take < 3 s). */
  async start(name: string, command: string, args: string[], ports: number[], logFiles: string[] = [], env?: NodeJS.ProcessEnv): Promise<ManagedProcess> {
    const proc = spawnManaged({ name, command, args, logFiles, ...(env ? { env: { ...process.env, ...env } } : {}) });
    this.processes.push(proc);
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

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop(3000)));
    await rm(this.dir, { recursive: true, force: true });
  }
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

/** Exim on a 25-like and a 587-like port, stapling the DER file `staple`; `mainlog` is its log of sessions and TLS errors. */
export async function startExim(home: ServerHome, name: string, tls: ServerTlsFiles, staple: string): Promise<{ ports: number[]; mainlog: string }> {
  const dir = await home.subdir(name);
  await home.subdir(`${name}/spool`, 'Debian-exim');
  await home.subdir(`${name}/log`, 'Debian-exim');
  const ports = await freePorts(2);
  const config = path.join(dir, 'exim.conf');
  await writeFile(
    config,
    [
      'primary_hostname = mail.test',
      'exim_user = Debian-exim',
      'exim_group = Debian-exim',
      `spool_directory = ${dir}/spool`,
      `log_file_path = ${dir}/log/%slog`,
      `pid_file_path = ${dir}/exim.pid`,
      'local_interfaces = <; 127.0.0.1',
      `daemon_smtp_ports = ${ports.join(' : ')}`,
      'tls_advertise_hosts = *',
      `tls_certificate = ${tls.chain}`,
      `tls_privatekey = ${tls.key}`,
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
  const mainlog = path.join(dir, 'log', 'mainlog');
  await home.start(name, EXIM!, ['-C', config, '-bdf'], ports, [mainlog, path.join(dir, 'log', 'paniclog')]);
  return { ports, mainlog };
}

/** Dovecot with IMAP (STARTTLS) and POP3 (STLS) listeners; no staple. */
export async function startDovecot(home: ServerHome, tls: ServerTlsFiles): Promise<{ imap: number; pop3: number; log: string }> {
  const dir = await home.subdir('dovecot');
  const [imap, pop3] = (await freePorts(2)) as [number, number];
  const config = path.join(dir, 'dovecot.conf');
  const log = path.join(dir, 'dovecot.log');
  await writeFile(
    config,
    `base_dir = ${dir}/run
state_dir = ${dir}/state
protocols = imap pop3
listen = 127.0.0.1
log_path = ${log}
ssl = yes
ssl_cert = <${tls.chain}
ssl_key = <${tls.key}
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}
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
  await home.start('dovecot', DOVECOT!, ['-F', '-c', config], [imap, pop3], [log]);
  return { imap, pop3, log };
}

/**
 * Postfix on a 25-like (TLS offered) and a 587-like (TLS required) port; no staple. `maillog` has a
 * `disconnect from … ehlo=1 starttls=1` line per session whose handshake completed ("starttls=0/1"
 * when the client cut it short).
 */
export async function startPostfix(home: ServerHome, tls: ServerTlsFiles): Promise<{ ports: number[]; maillog: string }> {
  const root = POSTFIX_ROOT!;
  const dir = await home.subdir('postfix');
  const etc = await home.subdir('postfix/etc');
  await home.subdir('postfix/data', 'postfix');
  // master creates its sockets in private/ (postfix only) and public/ (postfix:postdrop), its
  // lock in pid/: the layout `postfix check` would make.
  await home.subdir('postfix/queue/pid');
  const privateDir = await home.subdir('postfix/queue/private', 'postfix');
  await chmod(privateDir, 0o700);
  const publicDir = await home.subdir('postfix/queue/public', 'postfix');
  const postdrop = Number(execFileSync('getent', ['group', 'postdrop']).toString().split(':')[2]);
  await chown(publicDir, Number(execFileSync('id', ['-u', 'postfix']).toString().trim()), postdrop);
  await chmod(publicDir, 0o710);
  const ports = await freePorts(2);
  const maillog = path.join(dir, 'maillog');
  await writeFile(
    path.join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/queue`,
      `data_directory = ${dir}/data`,
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
      `smtpd_tls_chain_files = ${tls.key}, ${tls.chain}`,
      'smtpd_tls_security_level = may',
      // No syslog here: postlogd writes the log file (Postfix 3.4+).
      `maillog_file_prefixes = ${dir}`,
      `maillog_file = ${maillog}`,
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
  await home.start('postfix', POSTFIX!, ['-c', etc, '-d'], ports, [maillog], { LD_LIBRARY_PATH: path.join(root, 'usr/lib/postfix') });
  return { ports, maillog };
}
