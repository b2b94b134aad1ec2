/**
 * Lab self-test of the harness itself: a taken port is recognised from each real server's own
 * complaint (so starts retry on fresh ports), a server that cannot start fails fast with its error
 * log in the message, and stopping the lab leaves no process behind.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApacheServer,
  HaproxyServer,
  Lab,
  LabError,
  LOOPBACK,
  NginxServer,
  OcspResponder,
  freePort,
  requireLabTools,
  withFreePorts,
} from './lab/index.js';

const gate = requireLabTools(['openssl', 'faketime', 'nginx', 'haproxy', 'apache2']);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('lab: port retry', () => {
  it('retries with fresh ports on LAB_PORT_IN_USE and rethrows other errors at once', async () => {
    const seen: number[][] = [];
    const result = await withFreePorts(2, async (ports) => {
      seen.push(ports);
      if (seen.length < 3) throw new LabError('LAB_PORT_IN_USE', 'taken');
      return 'started';
    });
    expect(result).toBe('started');
    expect(seen).toHaveLength(3);
    for (const ports of seen) expect(new Set(ports).size).toBe(2);

    let calls = 0;
    await expect(
      withFreePorts(1, async () => {
        calls += 1;
        throw new LabError('LAB_NOT_READY', 'broken');
      }),
    ).rejects.toMatchObject({ code: 'LAB_NOT_READY' });
    expect(calls).toBe(1);
  });
});

describe.skipIf(gate.skip)('lab: lifecycle against real servers', () => {
  let lab: Lab;
  let blocker: net.Server;
  let takenPort: number;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'lab-lifecycle' });
    takenPort = await freePort();
    // Holds the port; drops whatever connects (readiness probes), so close() never waits on them.
    blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(takenPort, LOOPBACK, resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => blocker?.close(resolve));
    await lab?.stop();
  });

  it('recognises a taken port from each server and the responder (LAB_PORT_IN_USE)', async () => {
    const site = { name: 'taken', leaf: lab.leaves.ecdsa };
    // Settle each start at once (they run concurrently) so no rejection goes unhandled.
    const settle = (start: Promise<unknown>): Promise<unknown> => start.then(() => null, (e: unknown) => e);
    const attempts: Array<[string, Promise<unknown>]> = [
      ['nginx', settle(NginxServer.start({ dir: lab.serverDir('nginx-taken'), pki: lab.pki, sites: [{ ...site, stapling: { mode: 'off' } }], ports: [takenPort] }))],
      ['haproxy', settle(HaproxyServer.start({ dir: lab.serverDir('haproxy-taken'), sites: [site], ports: [takenPort] }))],
      ['apache', settle(ApacheServer.start({ dir: lab.serverDir('apache-taken'), pki: lab.pki, sites: [site], ports: [takenPort] }))],
      ['openssl ocsp', settle(OcspResponder.start(lab.pki, { port: takenPort }))],
    ];
    for (const [name, attempt] of attempts) {
      const error = await attempt;
      expect(error, name).toBeInstanceOf(LabError);
      expect((error as LabError).code, `${name}: ${(error as Error).message}`).toBe('LAB_PORT_IN_USE');
    }
  });

  it('fails fast with the server error log when a server cannot start (LAB_NOT_READY)', async () => {
    const broken = { ...lab.leaves.ecdsa, keyPath: `${lab.dir}/no-such.key` };
    const started = Date.now();
    const error = await lab.startNginx([{ name: 'broken', leaf: broken, stapling: { mode: 'off' } }], { name: 'nginx-broken' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LabError);
    expect((error as LabError).code).toBe('LAB_NOT_READY');
    expect((error as Error).message).toMatch(/cannot load certificate key .*no-such\.key/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops every server process (workers included) and the responder with lab.stop()', async () => {
    const nginx = await lab.startNginx([{ name: 'a', leaf: lab.leaves.ecdsa, stapling: { mode: 'off' } }]);
    const haproxy = await lab.startHaproxy([{ name: 'a', leaf: lab.leaves.ecdsa }]);
    const apache = await lab.startApache([{ name: 'a', leaf: lab.leaves.ecdsa }]);
    const leaders = [nginx.process.pid, haproxy.process.pid, apache.process.pid, lab.responder.process.pid];
    // nginx and Apache fork workers into the same process group.
    const groups = leaders.slice(0, 3);
    for (const pid of leaders) expect(alive(pid)).toBe(true);
    await lab.stop();
    for (const pid of leaders) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const pgid of groups) {
      expect(() => process.kill(-pgid, 0), `process group ${pgid}`).toThrow();
    }
  });
});
