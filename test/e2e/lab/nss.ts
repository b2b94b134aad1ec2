/**
 * NSS's test server, `selfserv` (Debian's libnss3-tools): the TLS stack of Firefox and
 * Thunderbird, independent of OpenSSL, GnuTLS, JSSE and Go, for the native engine's differential
 * tests. Its staple is one NSS itself encodes and signs with the lab's intermediate (`-T
 * good|revoked|unknown -A`), or a broken one of its making (`badsig`, `corrupted`, `failure`).
 * NSS 3.87 staples only for the certificate of its RSA slot (`-n`), and its `-T ocsp` (fetch from
 * the AIA) is not implemented. It binds every interface, so it runs in a network namespace of its
 * own (netns.ts). The NSS database holds the two standard leaves and the intermediate with their
 * keys, and trusts the lab's root.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { binaryPath } from './binaries.js';
import { openssl, run } from './exec.js';
import type { Lab } from './lab.js';
import { NamespacedServer } from './netns.js';

export type NssStapling = 'good' | 'revoked' | 'unknown' | 'badsig' | 'corrupted' | 'failure' | 'none';

export interface NssServerOptions {
  /** Which standard leaf the server presents. */
  leaf: 'ecdsa' | 'rsa';
  stapling: NssStapling;
  /** `-V min:max` in selfserv's names (`tls1.2:tls1.3`); default both. */
  versions?: string;
  /** `-I`: key exchange groups (`x25519`, `P256`, `P384`). */
  groups?: string[];
  /** `-c`: cipher suites, as selfserv's hex codes (`-Y` lists them), e.g. `:C02B`. */
  ciphers?: string;
  /** Ask for a client certificate without requiring one (`-r`). */
  requestClientCert?: boolean;
}

const PASSWORD = 'lab';
const databases = new WeakMap<Lab, Promise<string>>();

/** The lab's NSS database (made once per lab): leaves and intermediate with keys, the root trusted. */
function databaseOf(lab: Lab): Promise<string> {
  let made = databases.get(lab);
  if (!made) {
    made = (async () => {
      const dir = path.join(lab.dir, 'nssdb');
      await mkdir(dir, { recursive: true });
      const db = `sql:${dir}`;
      await run(binaryPath('certutil'), ['-N', '-d', db, '--empty-password']);
      for (const [name, cert] of [['ecdsa', lab.leaves.ecdsa], ['rsa', lab.leaves.rsa], ['intermediate', lab.pki.intermediate]] as const) {
        const p12 = path.join(lab.dir, `nss-${name}.p12`);
        await openssl(['pkcs12', '-export', '-in', cert.certPath, '-inkey', cert.keyPath, '-name', name, '-out', p12, '-passout', `pass:${PASSWORD}`]);
        await run(binaryPath('pk12util'), ['-i', p12, '-d', db, '-W', PASSWORD]);
      }
      await run(binaryPath('certutil'), ['-A', '-d', db, '-n', 'root', '-t', 'CT,C,C', '-i', lab.pki.root.certPath]);
      return db;
    })();
    databases.set(lab, made);
  }
  return made;
}

/** Starts selfserv; resolves once it listens and is reachable on 127.0.0.1. */
export async function startNssServer(lab: Lab, options: NssServerOptions): Promise<NamespacedServer> {
  const db = await databaseOf(lab);
  const args = ['-d', db, '-p', '4433', options.leaf === 'ecdsa' ? '-e' : '-n', options.leaf, '-V', options.versions ?? 'tls1.2:tls1.3', '-G', '-v'];
  if (options.stapling !== 'none') args.push('-T', options.stapling, '-A', 'intermediate');
  if (options.groups?.length) args.push('-I', options.groups.join(','));
  if (options.ciphers) args.push('-c', options.ciphers);
  if (options.requestClientCert) args.push('-r');
  return NamespacedServer.start({
    name: `selfserv ${options.leaf} ${options.stapling}`,
    dir: lab.dir,
    command: binaryPath('selfserv'),
    args,
    port: 4433,
    ready: (output) => output.includes('About to call accept'),
  });
}
