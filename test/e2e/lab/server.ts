/**
 * What the nginx, HAProxy and Apache wrappers share: a managed process, a working directory with
 * its generated config and logs, and named sites (one TLS listener on 127.0.0.1 each, serving one
 * lab leaf). Tests address a site by name (`server.port('ecdsa')`), never by a hard-coded port.
 */
import { chmod, mkdir } from 'node:fs/promises';
import type { LabCert } from './pki.js';
import type { ManagedProcess } from './processes.js';
import { tlsHandshakeSucceeds } from './tls.js';
import { awaitReady } from './ready.js';

export interface RunningSite {
  name: string;
  port: number;
  leaf: LabCert;
  /** Listening address when not 127.0.0.1 (another 127.0.0.x, see NginxSiteOptions.host). */
  host?: string;
}

export type LabServerKind = 'nginx' | 'haproxy' | 'apache';

export abstract class LabServer {
  abstract readonly kind: LabServerKind;
  readonly dir: string;
  readonly sites: ReadonlyMap<string, RunningSite>;
  /** Milliseconds from spawn to every site completing a TLS handshake. */
  startupMs = 0;
  protected readonly proc: ManagedProcess;

  protected constructor(dir: string, proc: ManagedProcess, sites: RunningSite[]) {
    this.dir = dir;
    this.proc = proc;
    this.sites = new Map(sites.map((site) => [site.name, site]));
  }

  /** Port of the named site. */
  port(name: string): number {
    const site = this.sites.get(name);
    if (!site) throw new TypeError(`${this.kind} has no site named ${name} (has ${[...this.sites.keys()].join(', ')})`);
    return site.port;
  }

  get process(): ManagedProcess {
    return this.proc;
  }

  /** Output and error log, for assertion messages. */
  diagnostics(): string {
    return this.proc.diagnostics();
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}

/** Waits until every site completes a handshake (without requesting OCSP). */
export async function awaitSites(proc: ManagedProcess, sites: readonly RunningSite[], timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  await awaitReady(
    proc,
    async () => (await Promise.all(sites.map((site) => tlsHandshakeSucceeds(site.port, 'localhost', site.host)))).every(Boolean),
    `${proc.name} to accept TLS on ${sites.map((s) => `${s.name}:${s.host ? `${s.host}:` : ''}${s.port}`).join(', ')}`,
    timeoutMs,
  );
  return Date.now() - started;
}

/** A directory the servers' unprivileged workers (nobody) can traverse when we run as root. */
export async function makeServerDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
}

export function unique(names: readonly string[], kind: string): void {
  if (new Set(names).size !== names.length) throw new TypeError(`${kind}: site names must be unique`);
  if (names.length === 0) throw new TypeError(`${kind}: at least one site is needed`);
}

/** True when this process runs as root (servers then need User/user directives). */
export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
