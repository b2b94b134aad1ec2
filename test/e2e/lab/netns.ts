/**
 * A server that cannot be told which address to listen on (it binds every interface), run where
 * that reaches nothing but a loopback: a network namespace of its own (`unshare --net`, as root).
 * Tests reach it through a UNIX socket, which namespaces share: a relay inside the namespace
 * connects each connection on the socket to the server's port there, and one in this process
 * listens on 127.0.0.1 and connects to the socket. Bytes pass through unchanged, half-closes kept.
 */
import net from 'node:net';
import path from 'node:path';
import { binaryPath } from './binaries.js';
import { LOOPBACK } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

export interface NamespacedServerOptions {
  /** Label for messages. */
  name: string;
  /** Directory for the UNIX socket (the lab's). */
  dir: string;
  command: string;
  args: readonly string[];
  /** The port the server listens on inside its namespace (nothing else is there). */
  port: number;
  /** True once the server's output says it listens. */
  ready: (output: string) => boolean;
  env?: NodeJS.ProcessEnv;
}

/** The in-namespace relay: UNIX socket (argv[1]) → 127.0.0.1:argv[2]. */
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

export class NamespacedServer {
  private constructor(
    /** The port on 127.0.0.1 that reaches the server. */
    readonly port: number,
    /** The namespace's processes (the server and the relay), output captured. */
    readonly proc: ManagedProcess,
    private readonly relay: net.Server,
  ) {}

  static async start(options: NamespacedServerOptions): Promise<NamespacedServer> {
    sequence += 1;
    const socketPath = path.join(options.dir, `netns-${process.pid}-${sequence}.sock`);
    const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
    const script = `${quote(binaryPath('ip'))} link set lo up && { ${[options.command, ...options.args].map(quote).join(' ')} & } && ` +
      `exec ${quote(process.execPath)} -e ${quote(NAMESPACE_RELAY)} ${quote(socketPath)} ${options.port}`;
    const proc = spawnManaged({ name: options.name, command: binaryPath('unshare'), args: ['--net', '--', 'sh', '-c', script], env: options.env });
    await waitFor(() => options.ready(proc.capturedOutput) && proc.capturedOutput.includes('relay ready'), 15_000,
      { what: `${options.name} to listen`, abortIf: () => (proc.exitInfo ? `${options.name} or its relay exited` : null), diagnostics: () => proc.diagnostics() });
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
    return new NamespacedServer((relay.address() as net.AddressInfo).port, proc, relay);
  }

  /** What the namespace's processes printed after `mark` (an earlier `proc.capturedOutput.length`). */
  outputSince(mark: number): string {
    return this.proc.capturedOutput.slice(mark);
  }

  async stop(): Promise<void> {
    this.relay.close();
    await this.proc.stop();
  }
}
