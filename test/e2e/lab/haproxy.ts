/**
 * HAProxy 2.6 as a lab server (`haproxy -f DIR/haproxy.cfg -db`). HAProxy 2.6 never fetches
 * staples itself: it serves the DER in the file next to the certificate (`<crt>.ocsp`), read at
 * start, and the admin socket command `set ssl ocsp-response <base64>` replaces it at runtime. The
 * PEM holds leaf, key and intermediate; HAProxy takes the issuer for the OCSP CertID check from the
 * chain. It refuses files it judges unusable (expired, not yet valid, within 5 minutes of
 * nextUpdate, non-successful, for another certificate) with no more than a warning at start, and
 * then staples nothing (lab-haproxy.test.ts checks all of them but "not yet valid").
 */
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { binaryPath, fakeTimeEnv } from './binaries.js';
import { LabError } from './errors.js';
import type { LabCert } from './pki.js';
import { LOOPBACK, withFreePorts } from './ports.js';
import { spawnManaged } from './processes.js';
import { LabServer, awaitSites, makeServerDir, unique, type RunningSite } from './server.js';

export interface HaproxySiteOptions {
  name: string;
  leaf: LabCert;
  /** DER for `<crt>.ocsp`; omitted or null: no file, no staple. */
  ocsp?: Uint8Array | null;
}

export interface HaproxyOptions {
  dir: string;
  sites: readonly HaproxySiteOptions[];
  timeoutMs?: number;
  /** One port per site, in order, instead of free ones (no retry). */
  ports?: readonly number[];
  /**
   * Run HAProxy under libfaketime with its clock this many seconds off (negative: behind), so it
   * accepts and serves staples that are already expired by the real clock: HAProxy judges a
   * staple's window by its own clock, at load and at each handshake.
   */
  clockOffsetSeconds?: number;
}

export class HaproxyServer extends LabServer {
  readonly kind = 'haproxy' as const;
  readonly adminSocketPath: string;

  private constructor(dir: string, proc: ReturnType<typeof spawnManaged>, sites: RunningSite[]) {
    super(dir, proc, sites);
    this.adminSocketPath = path.join(dir, 'admin.sock');
  }

  static async start(options: HaproxyOptions): Promise<HaproxyServer> {
    unique(options.sites.map((s) => s.name), 'haproxy');
    const haproxy = binaryPath('haproxy');
    await makeServerDir(options.dir);
    // One PEM (+ .ocsp) per site; sites may share a leaf, HAProxy then shares the staple.
    const pemPaths: string[] = [];
    for (const site of options.sites) {
      const pem = path.join(options.dir, `${site.name}.pem`);
      const [cert, key, chain] = await Promise.all([
        readFile(site.leaf.certPath, 'utf8'),
        readFile(site.leaf.keyPath, 'utf8'),
        readFile(site.leaf.chainPath, 'utf8'),
      ]);
      // chainPath = leaf + intermediate; HAProxy wants leaf, key, then the chain.
      await writeFile(pem, cert + key + chain.slice(cert.length), { mode: 0o600 });
      if (site.ocsp) await writeFile(`${pem}.ocsp`, site.ocsp);
      pemPaths.push(pem);
    }
    return withFreePorts(options.sites.length, async (ports) => {
      const sites = options.sites.map((site, i): RunningSite => ({ name: site.name, port: ports[i]!, leaf: site.leaf }));
      const configPath = path.join(options.dir, 'haproxy.cfg');
      await writeFile(configPath, renderConfig(options.dir, sites, pemPaths));
      const args = ['-f', configPath, '-db'];
      const offset = options.clockOffsetSeconds;
      const proc = offset === undefined
        ? spawnManaged({ name: 'haproxy', command: haproxy, args })
        : spawnManaged({
          name: 'haproxy',
          command: haproxy,
          args,
          // Timers and timeouts keep the real monotonic clock.
          env: { ...fakeTimeEnv(`${offset >= 0 ? '+' : ''}${Math.trunc(offset)}`, { multiThreaded: true }), FAKETIME_DONT_FAKE_MONOTONIC: '1' },
        });
      const server = new HaproxyServer(options.dir, proc, sites);
      server.startupMs = await awaitSites(proc, sites, options.timeoutMs);
      return server;
    }, { fixed: options.ports });
  }

  /** Sends one command to the admin socket and returns HAProxy's reply. */
  command(line: string, timeoutMs = 3000): Promise<string> {
    if (/[\r\n]/.test(line)) throw new TypeError('admin socket commands are single lines');
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.adminSocketPath);
      let reply = '';
      const timer = setTimeout(() => socket.destroy(new LabError('LAB_TIMEOUT', `haproxy admin socket: no reply to "${line.slice(0, 40)}"`)), timeoutMs);
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (reply += chunk));
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      // Non-interactive mode: HAProxy answers and closes.
      socket.once('end', () => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.once('connect', () => socket.write(`${line}\n`));
    });
  }

  /**
   * Replaces the staple of the certificate the response is about (`set ssl ocsp-response`).
   * Resolves with HAProxy's reply; rejects when it did not say the response was updated.
   */
  async setOcspResponse(der: Uint8Array): Promise<string> {
    const reply = await this.command(`set ssl ocsp-response ${Buffer.from(der).toString('base64')}`);
    if (!/OCSP Response updated/i.test(reply)) {
      throw new LabError('LAB_BAD_OUTPUT', `haproxy refused the OCSP response: ${reply.trim()}`);
    }
    return reply;
  }
}

function renderConfig(dir: string, sites: RunningSite[], pemPaths: string[]): string {
  return [
    '# Generated by test/e2e/lab/haproxy.ts',
    'global',
    '  nbthread 1',
    `  stats socket ${path.join(dir, 'admin.sock')} mode 600 level admin`,
    `  pidfile ${path.join(dir, 'haproxy.pid')}`,
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 5s',
    '  timeout server 5s',
    ...sites.flatMap((site, i) => [
      `frontend ${site.name}`,
      // no-tls-tickets: full handshakes only, each one carries the staple.
      `  bind ${LOOPBACK}:${site.port} ssl crt ${pemPaths[i]} ssl-min-ver TLSv1.2 no-tls-tickets`,
      `  http-request return status 200 content-type text/plain string ${site.name}`,
    ]),
    '',
  ].join('\n');
}
