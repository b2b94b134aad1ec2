/**
 * One call to get a working lab: a temp directory, the PKI, a live OCSP responder, and the
 * standard leaves every scenario needs (ECDSA P-256 and RSA-2048 for localhost/127.0.0.1 with the
 * responder in their AIA, and an ECDSA leaf revoked for keyCompromise). Servers started through
 * the lab are stopped by `lab.stop()`, which also removes the directory (kept when
 * E2E_KEEP_LAB=1, for debugging). Every change to the CA database goes through the lab so the
 * responder is known to serve it before any server fetches.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApacheServer, type ApacheOptions } from './apache.js';
import { HaproxyServer, type HaproxyOptions } from './haproxy.js';
import { NginxServer, type NginxOptions } from './nginx.js';
import { LabPki, type LabCert, type LabRevocationReason, type LeafOptions } from './pki.js';
import { atLabExit } from './processes.js';
import { OcspResponder, type ResponderOptions } from './responder.js';
import type { LabServer } from './server.js';

export interface LabOptions {
  /** Prefix of the temp directory name. */
  name?: string;
  responder?: ResponderOptions;
}

export interface StandardLeaves {
  /** ECDSA P-256, good. */
  ecdsa: LabCert;
  /** RSA-2048, good. */
  rsa: LabCert;
  /** ECDSA P-256, revoked (keyCompromise). */
  revoked: LabCert;
}

/** Durations measured while the lab came up, ms. */
export interface LabTimings {
  pkiMs: number;
  responderMs: number;
  leavesMs: number;
}

/** Lab directories not yet removed: an exiting test process removes them (servers die with it). */
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function removeOnExit(dir: string): void {
  liveDirs.add(dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  atLabExit(() => {
    if (process.env.E2E_KEEP_LAB === '1') return;
    for (const leftover of liveDirs) rmSync(leftover, { recursive: true, force: true });
  });
}

export class Lab {
  readonly dir: string;
  readonly pki: LabPki;
  readonly responder: OcspResponder;
  readonly leaves: StandardLeaves;
  readonly timings: LabTimings;
  private readonly servers = new Set<LabServer>();
  private stopped = false;

  private constructor(dir: string, pki: LabPki, responder: OcspResponder, leaves: StandardLeaves, timings: LabTimings) {
    this.dir = dir;
    this.pki = pki;
    this.responder = responder;
    this.leaves = leaves;
    this.timings = timings;
  }

  static async start(options: LabOptions = {}): Promise<Lab> {
    const dir = await mkdtemp(path.join(tmpdir(), `${options.name ?? 'ocsp-lab'}-`));
    // Server workers run as nobody when we are root: they must be able to traverse the lab.
    await chmod(dir, 0o755);
    removeOnExit(dir);
    let responder: OcspResponder | null = null;
    try {
      let t = Date.now();
      const pki = await LabPki.create(path.join(dir, 'pki'));
      const pkiMs = Date.now() - t;
      t = Date.now();
      responder = await OcspResponder.start(pki, options.responder);
      const responderMs = Date.now() - t;
      t = Date.now();
      const ocspUrl = responder.url;
      const [ecdsa, rsa, revoked] = await Promise.all([
        pki.issueLeaf({ name: 'ecdsa', keyType: 'ec', ocspUrl }),
        pki.issueLeaf({ name: 'rsa', keyType: 'rsa', ocspUrl }),
        pki.issueLeaf({ name: 'revoked', keyType: 'ec', ocspUrl }),
      ]);
      await pki.revoke(revoked, 'keyCompromise');
      await responder.waitForStatus(revoked, 'revoked');
      await Promise.all([responder.waitForStatus(ecdsa, 'good'), responder.waitForStatus(rsa, 'good')]);
      const leavesMs = Date.now() - t;
      return new Lab(dir, pki, responder, { ecdsa, rsa, revoked }, { pkiMs, responderMs, leavesMs });
    } catch (error) {
      await responder?.stop();
      if (process.env.E2E_KEEP_LAB !== '1') await rm(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
      throw error;
    }
  }

  /** Issues another leaf (AIA → the lab responder unless `ocspUrl` says otherwise) and waits until the responder knows it. */
  async issueLeaf(options: Omit<LeafOptions, 'ocspUrl'> & { ocspUrl?: string | null }): Promise<LabCert> {
    const leaf = await this.pki.issueLeaf({ ...options, ocspUrl: options.ocspUrl === undefined ? this.responder.url : options.ocspUrl });
    if (this.responder.running) await this.responder.waitForStatus(leaf, 'good');
    return leaf;
  }

  /** Revokes `leaf` and waits until the responder says so. */
  async revoke(leaf: LabCert, reason: LabRevocationReason = 'keyCompromise'): Promise<void> {
    await this.pki.revoke(leaf, reason);
    if (this.responder.running) await this.responder.waitForStatus(leaf, 'revoked');
  }

  /** `dir` for a server, under the lab directory. */
  serverDir(name: string): string {
    return path.join(this.dir, name);
  }

  /** Starts nginx with `sites` in `<lab>/<name ?? 'nginx'>`; stopped by `stop()`. */
  async startNginx(sites: NginxOptions['sites'], options: Omit<NginxOptions, 'dir' | 'pki' | 'sites'> & { name?: string } = {}): Promise<NginxServer> {
    const { name, ...rest } = options;
    return this.track(NginxServer.start({ ...rest, dir: this.serverDir(name ?? 'nginx'), pki: this.pki, sites }));
  }

  /** Starts HAProxy with `sites` in `<lab>/<name ?? 'haproxy'>`; stopped by `stop()`. */
  async startHaproxy(sites: HaproxyOptions['sites'], options: Omit<HaproxyOptions, 'dir' | 'sites'> & { name?: string } = {}): Promise<HaproxyServer> {
    const { name, ...rest } = options;
    return this.track(HaproxyServer.start({ ...rest, dir: this.serverDir(name ?? 'haproxy'), sites }));
  }

  /** Starts Apache with `sites` in `<lab>/<name ?? 'apache'>`; stopped by `stop()`. */
  async startApache(
    sites: ApacheOptions['sites'],
    options: Omit<ApacheOptions, 'dir' | 'pki' | 'sites'> & { name?: string } = {},
  ): Promise<ApacheServer> {
    const { name, ...rest } = options;
    return this.track(ApacheServer.start({ ...rest, dir: this.serverDir(name ?? 'apache'), pki: this.pki, sites }));
  }

  /** Stops every server and the responder, then removes the directory. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.servers].map((server) => server.stop()));
    await this.responder.stop();
    if (process.env.E2E_KEEP_LAB === '1') console.warn(`E2E_KEEP_LAB=1: lab kept in ${this.dir}`);
    else await rm(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }

  private async track<T extends LabServer>(starting: Promise<T>): Promise<T> {
    const server = await starting;
    this.servers.add(server);
    return server;
  }
}
