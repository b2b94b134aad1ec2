/**
 * GnuTLS's own server, `gnutls-serv` (Debian's gnutls-bin): a TLS implementation independent of
 * OpenSSL, for the native engine's differential tests. It has no bind-address option, so it runs
 * in a network namespace of its own (netns.ts).
 */
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { binaryPath } from './binaries.js';
import { NamespacedServer } from './netns.js';
import type { LabCert } from './pki.js';

export interface GnutlsServerOptions {
  /** Directory for the staple file and the socket (the lab's). */
  dir: string;
  leaf: LabCert;
  /** DER of the OCSP response to staple; null staples nothing. */
  staple: Buffer | null;
  /** GnuTLS priority string, e.g. `NORMAL:-VERS-ALL:+VERS-TLS1.3`. */
  priority: string;
  /** Ask for a client certificate (gnutls-serv's default); false passes `--disable-client-cert`. */
  requestClientCert?: boolean;
}

let sequence = 0;

/** Starts gnutls-serv with `leaf`'s chain; resolves once it listens and is reachable on 127.0.0.1. */
export async function startGnutlsServer(options: GnutlsServerOptions): Promise<NamespacedServer> {
  const args = ['--http', '-p', '4433', '--x509certfile', options.leaf.chainPath, '--x509keyfile', options.leaf.keyPath, `--priority=${options.priority}`];
  if (options.staple) {
    sequence += 1;
    const staplePath = path.join(options.dir, `gnutls-${process.pid}-${sequence}.ocsp.der`);
    await writeFile(staplePath, options.staple);
    args.push('--ocsp-response', staplePath);
  }
  if (options.requestClientCert === false) args.push('--disable-client-cert');
  return NamespacedServer.start({
    name: `gnutls-serv ${options.priority}`,
    dir: options.dir,
    command: binaryPath('gnutls-serv'),
    args,
    port: 4433,
    ready: (output) => /listening on IPv4/.test(output),
  });
}
