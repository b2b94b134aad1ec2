/**
 * The live OCSP responder: `openssl ocsp -index ... -port PORT` serving the lab PKI's database,
 * signed by the delegated responder certificate. Servers fetch staples from it through the AIA URL
 * in the leaves (`http://127.0.0.1:PORT`).
 *
 * Two OpenSSL 3.0 quirks shape this module. `-port` takes a bare port and binds all interfaces
 * (`[::]:PORT`; there is no host form in 3.0), so the responder is reachable beyond loopback while
 * it runs. And the responder checks index.txt for changes at the top of its accept loop, *before*
 * blocking for the next request, so the first request after an index change is still answered from
 * the old data: `waitForStatus` polls until the new status is served, and `LabPki` changes must be
 * followed by it before a server fetches (nginx keeps a bad fetch for 5 minutes).
 */
import path from 'node:path';
import { binaryPath } from './binaries.js';
import { LabError } from './errors.js';
import { describeOcspResponse, postOcspRequest, responseStatusByte, type OcspResponseText } from './ocsp.js';
import type { LabCert, LabPki } from './pki.js';
import { LOOPBACK, withFreePorts } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { awaitReady } from './ready.js';
import { waitFor } from './wait.js';

export interface ResponderOptions {
  /** nextUpdate = thisUpdate + this many minutes (`-nmin`); default 24 h. HAProxy ignores
   *  staples within 5 minutes of nextUpdate, so keep it well above 5. */
  validMinutes?: number;
  timeoutMs?: number;
  /** A fixed port instead of a free one (no retry). */
  port?: number;
}

export class OcspResponder {
  readonly pki: LabPki;
  readonly port: number;
  /** `http://127.0.0.1:PORT`, the AIA OCSP URL for leaves. */
  readonly url: string;
  private readonly validMinutes: number;
  private proc: ManagedProcess;
  private readonly requests = new Map<string, Buffer>();

  private constructor(pki: LabPki, port: number, validMinutes: number, proc: ManagedProcess) {
    this.pki = pki;
    this.port = port;
    this.url = `http://${LOOPBACK}:${port}`;
    this.validMinutes = validMinutes;
    this.proc = proc;
  }

  /** Starts a responder on a free port and waits until it answers a real OCSP request. */
  static async start(pki: LabPki, options: ResponderOptions = {}): Promise<OcspResponder> {
    const validMinutes = options.validMinutes ?? 24 * 60;
    return withFreePorts(1, async ([port]) => {
      const responder = new OcspResponder(pki, port!, validMinutes, spawnResponder(pki, port!, validMinutes));
      await responder.awaitReady(options.timeoutMs);
      return responder;
    }, { fixed: options.port === undefined ? undefined : [options.port] });
  }

  get process(): ManagedProcess {
    return this.proc;
  }

  get running(): boolean {
    return this.proc.exitInfo === null;
  }

  /** Asks the live responder about `cert`; returns the DER and OpenSSL's reading of it. */
  async query(cert: LabCert, timeoutMs = 2000): Promise<{ der: Buffer; text: OcspResponseText }> {
    let request = this.requests.get(cert.name);
    if (!request) {
      request = await this.pki.ocspRequest(cert);
      this.requests.set(cert.name, request);
    }
    const der = await postOcspRequest(this.url, request, timeoutMs);
    return { der, text: await describeOcspResponse(der) };
  }

  /**
   * Polls until the responder reports `status` for `cert` (absorbs the index reload lag
   * described above). Call after issuing or revoking before any server fetches.
   */
  async waitForStatus(cert: LabCert, status: 'good' | 'revoked' | 'unknown', timeoutMs = 5000): Promise<OcspResponseText> {
    return waitFor(
      async () => {
        const { text } = await this.query(cert);
        return text.certStatus === status ? text : false;
      },
      timeoutMs,
      { what: `responder to report ${cert.name} as ${status}`, diagnostics: () => this.proc.diagnostics() },
    );
  }

  /** SIGKILL, as a crashed responder; servers then get connection refused. */
  async kill(): Promise<void> {
    this.proc.killNow();
    await this.proc.exited;
  }

  /** Graceful stop. */
  async stop(): Promise<void> {
    await this.proc.stop();
  }

  /** Starts again on the same port (and URL) after kill/stop. */
  async restart(timeoutMs?: number): Promise<void> {
    if (this.running) await this.stop();
    this.proc = spawnResponder(this.pki, this.port, this.validMinutes);
    await this.awaitReady(timeoutMs);
  }

  private async awaitReady(timeoutMs = 10_000): Promise<void> {
    const request = await this.pki.ocspRequest(this.pki.responder);
    await awaitReady(
      this.proc,
      async () => {
        try {
          return responseStatusByte(await postOcspRequest(this.url, request, 1000)) === 0;
        } catch {
          return false;
        }
      },
      `openssl ocsp responder on ${this.url}`,
      timeoutMs,
    );
  }
}

function spawnResponder(pki: LabPki, port: number, validMinutes: number): ManagedProcess {
  if (!Number.isInteger(validMinutes) || validMinutes < 1) throw new LabError('LAB_BAD_OUTPUT', 'validMinutes must be a positive integer');
  return spawnManaged({
    name: 'openssl-ocsp',
    command: binaryPath('openssl'),
    args: [
      'ocsp', '-index', pki.indexPath, '-port', String(port),
      '-rsigner', pki.responder.certPath, '-rkey', pki.responder.keyPath,
      '-CA', pki.intermediate.certPath, '-nmin', String(validMinutes),
      // Drop a client that connects and sends nothing instead of blocking the single-threaded loop.
      '-timeout', '2',
    ],
    cwd: path.dirname(pki.indexPath),
  });
}
