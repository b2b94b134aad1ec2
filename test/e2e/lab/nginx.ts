/**
 * nginx as a lab server (`nginx -p DIR -c DIR/nginx.conf -e DIR/error.log -g 'daemon off;'`), one
 * worker process (nginx fetches staples per worker, lazily: the first status_request after start
 * gets none), every path it writes inside DIR (pid, lock, temp paths, error log) so it never
 * touches /var. Per site: live stapling from the lab responder (`ssl_stapling on`, with
 * `ssl_stapling_verify` against the lab trust bundle), a crafted DER via `ssl_stapling_file`
 * (served unchanged, whatever it says), or stapling off.
 */
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { binaryPath } from './binaries.js';
import type { LabCert, LabPki } from './pki.js';
import { LOOPBACK, withFreePorts } from './ports.js';
import { childPids, isRunning, spawnManaged } from './processes.js';
import { captureStaple } from './tls.js';
import { waitFor } from './wait.js';
import { LabServer, awaitSites, makeServerDir, runningAsRoot, unique, type RunningSite } from './server.js';

export type NginxStapling =
  | { mode: 'live'; verify?: boolean }
  | { mode: 'file'; der: Uint8Array }
  | { mode: 'off' };

export interface NginxSiteOptions {
  name: string;
  leaf: LabCert;
  stapling: NginxStapling;
  /**
   * Listen on this loopback address instead of 127.0.0.1 (e.g. 127.0.0.2): several sites on
   * different 127.0.0.x addresses and one port (`ports: [p, p]`) act as the nodes behind one name.
   */
  host?: string;
}

export interface NginxOptions {
  /** Working directory (created); config, logs and staple files go here. */
  dir: string;
  pki: LabPki;
  sites: readonly NginxSiteOptions[];
  timeoutMs?: number;
  /** One port per site, in order, instead of free ones (no retry). */
  ports?: readonly number[];
}

export class NginxServer extends LabServer {
  readonly kind = 'nginx' as const;
  readonly errorLogPath: string;

  private constructor(options: NginxOptions, proc: ReturnType<typeof spawnManaged>, sites: RunningSite[]) {
    super(options.dir, proc, sites);
    this.errorLogPath = path.join(options.dir, 'error.log');
  }

  /** Path of the `ssl_stapling_file` of a site started with `{ mode: 'file' }`. */
  staplingFilePath(site: string): string {
    this.port(site);
    return path.join(this.dir, `${site}.ocsp.der`);
  }

  /**
   * Replaces a file-mode site's staple: writes the new DER and reloads nginx (SIGHUP), then
   * waits until the old workers are gone (until then they may still take connections with the
   * old staple) and a handshake returns the new bytes. Live-stapling sites start over: the new
   * worker fetches lazily again.
   */
  async replaceStaplingFile(site: string, der: Uint8Array, timeoutMs = 10_000): Promise<void> {
    const file = this.staplingFilePath(site);
    await writeFile(`${file}.new`, der);
    await rename(`${file}.new`, file);
    const oldWorkers = childPids(this.proc.pid);
    process.kill(this.proc.pid, 'SIGHUP');
    const expected = Buffer.from(der);
    const wait = { diagnostics: () => this.diagnostics(), abortIf: () => (this.proc.exitInfo ? 'nginx exited' : null) };
    await waitFor(() => oldWorkers.every((pid) => !isRunning(pid)), timeoutMs, { ...wait, what: `nginx's old workers (${oldWorkers.join(', ')}) to exit` });
    await waitFor(async () => (await captureStaple(this.sites.get(site)?.host ?? LOOPBACK, this.port(site))).staple?.equals(expected), timeoutMs, {
      ...wait,
      what: `nginx ${site} to serve the replaced staple`,
    });
  }

  static async start(options: NginxOptions): Promise<NginxServer> {
    unique(options.sites.map((s) => s.name), 'nginx');
    const nginx = binaryPath('nginx');
    await makeServerDir(options.dir);
    return withFreePorts(options.sites.length, async (ports) => {
      const sites = options.sites.map((site, i): RunningSite => ({ name: site.name, port: ports[i]!, leaf: site.leaf, ...(site.host ? { host: site.host } : {}) }));
      const config = await renderConfig(options, sites);
      const configPath = path.join(options.dir, 'nginx.conf');
      await writeFile(configPath, config);
      const errorLog = path.join(options.dir, 'error.log');
      const proc = spawnManaged({
        name: 'nginx',
        command: nginx,
        args: ['-p', options.dir, '-c', configPath, '-e', errorLog, '-g', 'daemon off;'],
        logFiles: [errorLog],
      });
      const server = new NginxServer(options, proc, sites);
      server.startupMs = await awaitSites(proc, sites, options.timeoutMs);
      return server;
    }, { fixed: options.ports });
  }
}

async function renderConfig(options: NginxOptions, sites: RunningSite[]): Promise<string> {
  const dir = options.dir;
  const servers: string[] = [];
  for (const [i, site] of options.sites.entries()) {
    const port = sites[i]!.port;
    const lines = [
      `    listen ${site.host ?? LOOPBACK}:${port} ssl;`,
      `    server_name localhost;`,
      `    ssl_certificate ${site.leaf.chainPath};`,
      `    ssl_certificate_key ${site.leaf.keyPath};`,
      `    ssl_protocols TLSv1.2 TLSv1.3;`,
      // No session cache or tickets: every handshake is a full one and carries the staple.
      `    ssl_session_cache off;`,
      `    ssl_session_tickets off;`,
    ];
    if (site.stapling.mode === 'live') {
      lines.push(`    ssl_stapling on;`, `    ssl_trusted_certificate ${options.pki.trustPath};`);
      if (site.stapling.verify !== false) lines.push(`    ssl_stapling_verify on;`);
    } else if (site.stapling.mode === 'file') {
      const file = path.join(dir, `${site.name}.ocsp.der`);
      await writeFile(file, site.stapling.der);
      lines.push(`    ssl_stapling on;`, `    ssl_stapling_file ${file};`);
    } else {
      lines.push(`    ssl_stapling off;`);
    }
    lines.push(`    location / { return 200 "${site.name}\\n"; }`);
    servers.push(`  server {\n${lines.join('\n')}\n  }`);
  }
  return [
    '# Generated by test/e2e/lab/nginx.ts',
    runningAsRoot() ? 'user nobody nogroup;' : '',
    'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `lock_file ${path.join(dir, 'nginx.lock')};`,
    `error_log ${path.join(dir, 'error.log')} info;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, `${t}_temp`)};`),
    ...servers,
    '}',
    '',
  ].join('\n');
}
