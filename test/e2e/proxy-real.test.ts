/**
 * The probe through real proxies, started by the test on free loopback ports in a temporary
 * directory: tinyproxy (open, and with BasicAuth plus a ConnectPort ACL) and Squid (basic_ncsa_auth
 * and a CONNECT port ACL, run with -N in the foreground). The target is real nginx stapling a good
 * response from a file (the lab's), and the module also asks the lab's OCSP responder, which the
 * proxy relays in absolute form. Through each proxy the probe must report exactly what the direct
 * probe reports, timing aside; refusals (407 without credentials, 403 from the ACL) are reason
 * `proxy` with the proxy's status line in the error.
 *
 * A missing proxy binary skips its block with a message naming the package; with CI=true it fails.
 */
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { parseProxyUrl } from '../../src/net/proxy.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.js';
import { sharedAnswerCache } from '../../src/responder/index.js';
import { LOOPBACK_ALLOWED } from '../responder/support.js';
import { freePorts, Lab, LOOPBACK, openssl, requireLabTools, spawnManaged, waitFor, type ManagedProcess, type NginxServer } from './lab/index.js';

const IN_CI = process.env.CI === 'true';

/** The executable or null; with CI=true a missing one throws at collection. */
function requireBinary(binary: string, pkg: string): string | null {
  try {
    accessSync(binary, constants.X_OK);
    return binary;
  } catch {
    const message = `proxy e2e: ${binary} missing; install with: apt-get install --no-install-recommends ${pkg}`;
    if (IN_CI) throw new Error(`${message} (CI=true: must not be skipped in CI)`);
    console.warn(`\n*** SKIPPING *** ${message}\n`);
    return null;
  }
}

const TINYPROXY = requireBinary('/usr/bin/tinyproxy', 'tinyproxy');
const SQUID = requireBinary('/usr/sbin/squid', 'squid');
const NCSA_AUTH = requireBinary('/usr/lib/squid/basic_ncsa_auth', 'squid');
const gate = requireLabTools(['openssl', 'faketime', 'nginx']);

const USER = 'probe';
const PASSWORD = 'pr0xy-pw';

let lab: Lab;
let nginx: NginxServer;
const processes: ManagedProcess[] = [];
/** A loopback port nothing listens on and no proxy ACL allows. */
let closedPort: number;

/** Resolves once `port` accepts TCP connections (the proxy is up), or throws with `diagnostics`. */
async function listening(port: number, proc: ManagedProcess): Promise<void> {
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: LOOPBACK, port }, () => (socket.destroy(), resolve(true)));
        socket.on('error', () => resolve(false));
      }),
    10_000,
    { what: `${proc.name} to listen on ${port}`, diagnostics: () => proc.diagnostics() },
  );
}

beforeAll(async () => {
  if (gate.skip || (!TINYPROXY && !SQUID)) return;
  lab = await Lab.start({ name: 'proxy-e2e' });
  const good = await lab.pki.makeResponse(lab.leaves.ecdsa, { validMinutes: 60 });
  nginx = await lab.startNginx([{ name: 'good', leaf: lab.leaves.ecdsa, stapling: { mode: 'file', der: good } }]);
  closedPort = (await freePorts(1))[0]!;
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await lab?.stop();
});

beforeEach(() => sharedAnswerCache.clear());

const target = (host = LOOPBACK, port = nginx.port('good')): ProbeTarget => ({ target: `${host}:${port}`, host, port, module: 'm', serverName: 'localhost', labels: {} });
const moduleWith = (extra: Partial<ModuleConfig> = {}): ModuleConfig => ({
  ...defaultModule('m'),
  timeoutSeconds: 5,
  caPem: lab.pki.root.certPem,
  queryResponder: true,
  responderDestinations: LOOPBACK_ALLOWED,
  ...extra,
});

async function probeOne(module: ModuleConfig, probed = target()): Promise<ProbeResult> {
  const results = await probeTarget(probed, module, Date.now() + module.timeoutSeconds * 1000);
  expect(results).toHaveLength(1);
  return results[0]!;
}

/**
 * A result without what differs between two runs: timing, the probe's log (a proxied probe's names
 * the proxy), and the responder answer's own bytes (the lab responder signs a fresh answer per
 * request: its times, signature and size change); what the responder said and how it was asked
 * stay compared.
 */
function comparable(result: ProbeResult): unknown {
  // The log differs by design: a proxied probe's says how it went through the proxy.
  const { durationSeconds: _d, startedAtMs: _s, log: _l, responder, ...rest } = result;
  if (!responder) return rest;
  const { url, urlSource, method, up, httpStatus, problems, error, verdict } = responder;
  return { ...rest, responder: { url, urlSource, method, up, httpStatus, problems, error, valid: verdict?.valid, certStatus: verdict?.single?.certStatus } };
}

/** The direct probe, the reference for every proxied one. */
async function directResult(): Promise<ProbeResult> {
  const direct = await probeOne(moduleWith());
  expect(direct.success, direct.error ?? '').toBe(true);
  expect(direct.staple?.verdict?.single?.certStatus).toBe('good');
  expect(direct.responder?.up, direct.responder?.error ?? '').toBe(true);
  return direct;
}

describe.skipIf(gate.skip || !TINYPROXY)('through tinyproxy', () => {
  let openPort: number;
  let authPort: number;

  beforeAll(async () => {
    [openPort, authPort] = (await freePorts(2)) as [number, number];
    const common = ['Listen 127.0.0.1', 'Timeout 30', 'LogLevel Info', 'MaxClients 20', 'Allow 127.0.0.1', 'DisableViaHeader Yes'];
    const configs = {
      open: [`Port ${openPort}`, ...common],
      // Credentials required, and CONNECT only to nginx's port: anything else is refused with 403.
      auth: [`Port ${authPort}`, ...common, `BasicAuth ${USER} ${PASSWORD}`, `ConnectPort ${nginx.port('good')}`],
    };
    for (const [name, lines] of Object.entries(configs)) {
      const file = path.join(lab.dir, `tinyproxy-${name}.conf`);
      await writeFile(file, `${lines.join('\n')}\n`);
      const proc = spawnManaged({ name: `tinyproxy-${name}`, command: TINYPROXY!, args: ['-d', '-c', file] });
      processes.push(proc);
      await listening(name === 'open' ? openPort : authPort, proc);
    }
  }, 30_000);

  it('reports exactly what the direct probe reports, staple and responder answer included', async () => {
    const direct = await directResult();
    const proxied = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://${LOOPBACK}:${openPort}`) }));
    expect(comparable(proxied)).toEqual(comparable(direct));
  });

  it('leaves the name to the proxy', async () => {
    const proxied = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://${LOOPBACK}:${openPort}`) }), target('localhost'));
    expect(proxied, proxied.error ?? '').toMatchObject({ success: true, address: `localhost:${nginx.port('good')}` });
    expect(proxied.staple?.verdict?.single?.certStatus).toBe('good');
  });

  it('BasicAuth: 407 without credentials, the direct result with them', async () => {
    const bare = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://${LOOPBACK}:${authPort}`) }));
    expect(bare).toMatchObject({ success: false, failureReason: 'proxy' });
    expect(bare.error).toMatch(/HTTP\/1\.[01] 407 /);
    const direct = await directResult();
    const proxied = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://${USER}:${PASSWORD}@${LOOPBACK}:${authPort}`) }));
    expect(comparable(proxied)).toEqual(comparable(direct));
    expect(proxied.error ?? '').not.toContain(PASSWORD);
  });

  it('the ConnectPort ACL refuses another port: 403, reason proxy', async () => {
    const refused = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://${USER}:${PASSWORD}@${LOOPBACK}:${authPort}`) }), target(LOOPBACK, closedPort));
    expect(refused).toMatchObject({ success: false, failureReason: 'proxy' });
    expect(refused.error).toMatch(/HTTP\/1\.[01] 403 /);
  });
});

describe.skipIf(gate.skip || !SQUID || !NCSA_AUTH)('through squid', () => {
  let port: number;

  beforeAll(async () => {
    port = (await freePorts(1))[0]!;
    const dir = path.join(lab.dir, 'squid');
    await mkdir(dir, { recursive: true });
    // Squid drops to its own user as root: the directory and the password file must be reachable.
    await chmod(dir, 0o777);
    const hash = (await openssl(['passwd', '-1', PASSWORD])).stdout.toString('utf8').trim();
    await writeFile(path.join(dir, 'passwd'), `${USER}:${hash}\n`, { mode: 0o644 });
    const conf = [
      `http_port ${LOOPBACK}:${port}`,
      `pid_filename ${dir}/squid.pid`,
      `cache_log ${dir}/cache.log`,
      'access_log none',
      'cache deny all',
      `coredump_dir ${dir}`,
      'shutdown_lifetime 0 seconds',
      `auth_param basic program ${NCSA_AUTH} ${dir}/passwd`,
      'auth_param basic children 1 startup=1 idle=1',
      `acl allowed_port port ${nginx.port('good')} ${lab.responder.port}`,
      'acl CONNECT method CONNECT',
      'acl authed proxy_auth REQUIRED',
      'http_access deny CONNECT !allowed_port',
      'http_access allow authed',
      'http_access deny all',
    ];
    const file = path.join(dir, 'squid.conf');
    await writeFile(file, `${conf.join('\n')}\n`, { mode: 0o644 });
    const proc = spawnManaged({ name: 'squid', command: SQUID!, args: ['-N', '-f', file], logFiles: [`${dir}/cache.log`] });
    processes.push(proc);
    await listening(port, proc);
  }, 30_000);

  it('407 without credentials; with them, exactly what the direct probe reports', async () => {
    const bare = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://${LOOPBACK}:${port}`) }));
    expect(bare).toMatchObject({ success: false, failureReason: 'proxy' });
    expect(bare.error).toContain('HTTP/1.1 407 Proxy Authentication Required');
    const direct = await directResult();
    const proxied = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://${USER}:${PASSWORD}@${LOOPBACK}:${port}`) }));
    expect(comparable(proxied)).toEqual(comparable(direct));
  });

  it('the CONNECT port ACL refuses another port: 403, reason proxy', async () => {
    const refused = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://${USER}:${PASSWORD}@${LOOPBACK}:${port}`) }), target(LOOPBACK, closedPort));
    expect(refused).toMatchObject({ success: false, failureReason: 'proxy' });
    expect(refused.error).toContain('HTTP/1.1 403 Forbidden');
  });
});
