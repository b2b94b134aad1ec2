/**
 * GnuTLS's own server, `gnutls-serv` (Debian's gnutls-bin): a TLS implementation independent of
 * OpenSSL, for the native engine's differential tests. gnutls-serv has no bind-address option (it
 * listens on every interface), so it runs in a network namespace of its own (`unshare --net`, where
 * only a loopback exists), and tests reach it through a UNIX socket, which namespaces share: a relay
 * inside the namespace connects each connection on the socket to gnutls-serv's port there, and one
 * in this process listens on 127.0.0.1 and connects to the socket. Bytes pass through unchanged.
 */
import net from 'node:net';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { binaryPath } from './binaries.js';
import { LOOPBACK } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import type { LabCert } from './pki.js';
import { waitFor } from './wait.js';

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

/** The in-namespace relay: UNIX socket (argv[1]) → 127.0.0.1:argv[2], both directions, half-closes kept. */
const NAMESPACE_RELAY = `
const net = require('node:net');
const [sock, port] = process.argv.slice(1);
net.createServer({ allowHalfOpen: true }, (a) => {
  const b = net.connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}).listen(sock, () => console.log('relay ready'));
`;

let sequence = 0;

export class GnutlsServer {
  private constructor(
    readonly port: number,
    readonly proc: ManagedProcess,
    private readonly relay: net.Server,
  ) {}

  /** Starts gnutls-serv with `leaf`'s chain in a namespace of its own; resolves once it listens and the relays are up. */
  static async start(options: GnutlsServerOptions): Promise<GnutlsServer> {
    const n = (sequence += 1);
    const socketPath = path.join(options.dir, `gnutls-${process.pid}-${n}.sock`);
    const args = ['--http', '-p', '4433', '--x509certfile', options.leaf.chainPath, '--x509keyfile', options.leaf.keyPath,
      `--priority=${options.priority}`];
    if (options.staple) {
      const staplePath = path.join(options.dir, `gnutls-${process.pid}-${n}.ocsp.der`);
      await writeFile(staplePath, options.staple);
      args.push('--ocsp-response', staplePath);
    }
    if (options.requestClientCert === false) args.push('--disable-client-cert');
    const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
    const script = `${quote(binaryPath('ip'))} link set lo up && { ${[binaryPath('gnutls-serv'), ...args].map(quote).join(' ')} & } && ` +
      `exec ${quote(process.execPath)} -e ${quote(NAMESPACE_RELAY)} ${quote(socketPath)} 4433`;
    const proc = spawnManaged({ name: `gnutls-serv ${options.priority}`, command: binaryPath('unshare'), args: ['--net', '--', 'sh', '-c', script] });
    const abortIf = (): string | null => (proc.exitInfo ? 'gnutls-serv or its relay exited' : null);
    await waitFor(() => /listening on IPv4/.test(proc.capturedOutput) && proc.capturedOutput.includes('relay ready'), 10_000,
      { what: 'gnutls-serv to listen', abortIf, diagnostics: () => proc.diagnostics() });
    const relay = net.createServer({ allowHalfOpen: true }, (a) => {
      const b = net.connect({ path: socketPath, allowHalfOpen: true });
      a.pipe(b).pipe(a);
      a.on('error', () => b.destroy());
      b.on('error', () => a.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject);
      relay.listen(0, LOOPBACK, () => resolve());
    });
    return new GnutlsServer((relay.address() as net.AddressInfo).port, proc, relay);
  }

  /** What gnutls-serv printed after `mark` (an earlier `capturedOutput.length`). */
  outputSince(mark: number): string {
    return this.proc.capturedOutput.slice(mark);
  }

  async stop(): Promise<void> {
    this.relay.close();
    await this.proc.stop();
  }
}
