/**
 * A TLS server on Java's own TLS stack (JSSE, `JsseServer.java` beside this file), for the native
 * engine's differential tests: JSSE shares no code with OpenSSL or GnuTLS. JSSE staples what it
 * fetches itself from the leaf's AIA responder (the lab's), so the staple is the responder's
 * current answer, not a fixed file. The program is compiled once per test process (javac), the
 * leaf's key and chain are handed over as PKCS#12.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryPath } from './binaries.js';
import { openssl, run } from './exec.js';
import { freePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import type { LabCert } from './pki.js';
import { waitFor } from './wait.js';

export interface JsseServerOptions {
  /** Directory for the class file and the key store (the lab's). */
  dir: string;
  leaf: LabCert;
  /** JSSE protocol names (`TLSv1.3`); empty keeps JSSE's defaults. */
  protocols?: string[];
  /** JSSE suite names (`TLS_AES_128_GCM_SHA256`); empty keeps JSSE's defaults. */
  suites?: string[];
  /** Ask for a client certificate without requiring one (setWantClientAuth). */
  wantClientAuth?: boolean;
  /** Key exchange groups (`jdk.tls.namedGroups`, e.g. `secp384r1`); empty keeps JSSE's defaults. */
  namedGroups?: string[];
}

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'JsseServer.java');
const compiled = new Map<string, Promise<void>>();
const PASSWORD = 'lab';

export class JsseServer {
  private constructor(
    readonly port: number,
    readonly proc: ManagedProcess,
  ) {}

  static async start(options: JsseServerOptions): Promise<JsseServer> {
    const classes = path.join(options.dir, 'jsse-classes');
    if (!compiled.has(classes)) compiled.set(classes, run(binaryPath('javac'), ['-d', classes, SOURCE]).then(() => undefined));
    await compiled.get(classes);
    const keyStore = path.join(options.dir, `jsse-${options.leaf.name}.p12`);
    await openssl(['pkcs12', '-export', '-in', options.leaf.chainPath, '-inkey', options.leaf.keyPath, '-name', 'leaf', '-out', keyStore, '-passout', `pass:${PASSWORD}`]);
    const port = await freePort();
    const list = (names: string[] | undefined): string => (names && names.length > 0 ? names.join(',') : '-');
    const proc = spawnManaged({
      name: `JSSE ${list(options.protocols)} ${list(options.suites)}`,
      command: binaryPath('java'),
      args: ['-Djdk.tls.server.enableStatusRequestExtension=true', ...(options.namedGroups?.length ? [`-Djdk.tls.namedGroups=${options.namedGroups.join(',')}`] : []), '-Xss512k', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classes, 'JsseServer',
        String(port), keyStore, PASSWORD, list(options.protocols), list(options.suites), options.wantClientAuth ? 'want' : 'none'],
    });
    await waitFor(() => proc.capturedOutput.includes('listening'), 20_000,
      { what: 'the JSSE server to listen', abortIf: () => (proc.exitInfo ? 'java exited' : null), diagnostics: () => proc.diagnostics() });
    return new JsseServer(port, proc);
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}
