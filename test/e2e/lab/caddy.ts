/**
 * Caddy (Debian's caddy package): Go's TLS stack, which shares no code with OpenSSL, GnuTLS or
 * JSSE, for the native engine's differential tests. Caddy staples what it fetches itself from the
 * leaf's AIA responder (the lab's) for a certificate it is given as files, and keeps it in its
 * storage (under the lab). Runs with its admin endpoint off, automatic HTTPS off, HTTP/1 and 2 only,
 * bound to 127.0.0.1, and logs at debug level, where Go's "TLS handshake error" lines appear.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { binaryPath } from './binaries.js';
import { freePort, LOOPBACK } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import type { LabCert } from './pki.js';
import { waitFor } from './wait.js';

export interface CaddyServerOptions {
  /** Directory for the Caddyfile and Caddy's storage (the lab's). */
  dir: string;
  leaf: LabCert;
  /** Caddyfile `protocols` (min and max, `tls1.2`/`tls1.3`); default both. */
  protocols?: [string, string];
  /** Caddyfile `ciphers` (TLS 1.2 suites; Go does not let TLS 1.3's be chosen). */
  ciphers?: string[];
  /** Caddyfile `curves` (`x25519`, `secp256r1`, `secp384r1`). */
  curves?: string[];
  /** `client_auth { mode request }`: ask for a client certificate, accept none. */
  requestClientCert?: boolean;
}

let sequence = 0;

export class CaddyServer {
  private constructor(
    readonly port: number,
    readonly proc: ManagedProcess,
  ) {}

  static async start(options: CaddyServerOptions): Promise<CaddyServer> {
    const n = (sequence += 1);
    const home = path.join(options.dir, `caddy-${n}`);
    const port = await freePort();
    const tls = [
      options.protocols ? `protocols ${options.protocols.join(' ')}` : '',
      options.ciphers?.length ? `ciphers ${options.ciphers.join(' ')}` : '',
      options.curves?.length ? `curves ${options.curves.join(' ')}` : '',
      options.requestClientCert ? 'client_auth {\n      mode request\n    }' : '',
    ].filter(Boolean).map((line) => `    ${line}\n`).join('');
    const caddyfile = `{
  admin off
  auto_https off
  debug
  storage file_system ${home}/data
  servers {
    protocols h1 h2
  }
}

https://localhost:${port} {
  bind ${LOOPBACK}
  tls ${options.leaf.chainPath} ${options.leaf.keyPath} {
${tls}  }
  respond "ok"
}
`;
    const file = `${home}.Caddyfile`;
    await writeFile(file, caddyfile);
    const proc = spawnManaged({
      name: `caddy ${n}`,
      command: binaryPath('caddy'),
      args: ['run', '--config', file, '--adapter', 'caddyfile'],
      env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home },
    });
    await waitFor(() => proc.capturedOutput.includes('serving initial configuration'), 15_000,
      { what: 'Caddy to serve', abortIf: () => (proc.exitInfo ? 'caddy exited' : null), diagnostics: () => proc.diagnostics() });
    return new CaddyServer(port, proc);
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}
