/**
 * `probe_all_addresses` against real servers: one name that resolves to three loopback addresses
 * (127.0.0.2, .3, .4), each a real nginx listener on the same port, as the nodes behind a DNS
 * round robin or a load balancer. Two serve a fresh staple, one a staple past half its validity
 * window (still valid: its server's refresh has stalled). The exporter must report one series set
 * per address and flag only the stale node. The resolver is the probe's injectable `lookup`, so
 * /etc/hosts stays untouched; everything else (sockets, TLS, nginx) is real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule, emptyConfig, type Config } from '../../src/config/schema.js';
import { systemLookup, type LookupFn } from '../../src/net/resolve.js';
import { Lab, LabError, captureStaple, describeOcspResponse, freePort, requireLabTools, type NginxServer } from './lab/index.js';
import { startExporter, summarizeAll, unixSeconds, type AddressSummary, type RunningExporter } from './support/exporter.js';

const gate = requireLabTools(['openssl', 'faketime', 'nginx']);

const NAME = 'nodes.lab.test';
const NODES = { fresh1: '127.0.0.2', fresh2: '127.0.0.3', stale: '127.0.0.4' } as const;

/** Resolves NAME to every node (in this order), anything else as the system would. */
const lookup: LookupFn = async (host, options) =>
  host === NAME ? Object.values(NODES).map((address) => ({ address, family: 4 })) : systemLookup(host, options);

describe.skipIf(gate.skip)('exporter: probe_all_addresses against nginx nodes on 127.0.0.2-4', () => {
  let lab: Lab;
  let nginx: NginxServer;
  let exporter: RunningExporter;
  let port: number;
  let target: string;
  let fresh: Buffer;
  let stale: Buffer;

  function config(): Config {
    const c = emptyConfig();
    c.global.minProbeIntervalSeconds = 0;
    const lab_ = { timeoutSeconds: 5, serverName: 'localhost', caPem: lab.pki.root.certPem + lab.pki.intermediate.certPem };
    c.modules.default = { ...defaultModule(), ...lab_ };
    c.modules.all = { ...defaultModule('all'), ...lab_, probeAllAddresses: true, ipProtocol: 'ip4' };
    c.targets = ['default', 'all'].map((module) => ({ target, host: NAME, port, module, serverName: null, labels: { pool: 'web' } }));
    return c;
  }

  beforeAll(async () => {
    const started = Date.now();
    lab = await Lab.start({ name: 'exporter-addresses' });
    const leaf = lab.leaves.ecdsa;
    [fresh, stale] = await Promise.all([
      lab.pki.makeResponse(leaf),
      // 40 minutes into a 60-minute window: valid, but past the half-way point where a healthy
      // server has refreshed. Signed by the issuer (the delegated responder is younger than that).
      lab.pki.makeResponse(leaf, { at: new Date(Date.now() - 40 * 60_000), validMinutes: 60, signer: 'issuer' }),
    ]);
    // Three listeners on one port, one per address: the port must be free on all of them.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        nginx = await lab.startNginx(
          (Object.entries(NODES) as [keyof typeof NODES, string][]).map(([name, host]) => ({
            name,
            host,
            leaf,
            stapling: { mode: 'file' as const, der: name === 'stale' ? stale : fresh },
          })),
          { ports: [port, port, port], name: `nginx-${attempt}` },
        );
        break;
      } catch (error) {
        if (!(error instanceof LabError && error.code === 'LAB_PORT_IN_USE') || attempt === 3) throw error;
      }
    }
    target = `${NAME}:${port}`;
    exporter = await startExporter(config(), { lookup });
    console.info(`exporter-addresses setup: ${Date.now() - started} ms (nginx ${nginx.startupMs} ms)`);
  });

  afterAll(async () => {
    await exporter?.close();
    await lab?.stop();
  });

  it('the nodes really are separate listeners serving different staples', async () => {
    for (const [name, address] of Object.entries(NODES)) {
      const got = await captureStaple(address, port);
      expect(got.staple?.equals(name === 'stale' ? stale : fresh), name).toBe(true);
    }
  });

  const assertPerAddress = async (byAddress: Map<string, AddressSummary>): Promise<void> => {
    expect([...byAddress.keys()].sort()).toEqual(Object.values(NODES).map((a) => `${a}:${port}`));
    const [freshText, staleText] = await Promise.all([describeOcspResponse(fresh), describeOcspResponse(stale)]);
    for (const [name, address] of Object.entries(NODES)) {
      const s = byAddress.get(`${address}:${port}`)!;
      const text = name === 'stale' ? staleText : freshText;
      expect(s, name).toMatchObject({
        target,
        module: 'all',
        success: 1,
        present: 1,
        valid: 1,
        problems: [],
        certStatus: 'good',
        chainVerified: 1,
        thisUpdate: unixSeconds(text.thisUpdate),
        nextUpdate: unixSeconds(text.nextUpdate),
        // Only the node whose staple is past half its window is flagged.
        stale: name === 'stale' ? 1 : 0,
      });
    }
    expect(byAddress.get(`${NODES.stale}:${port}`)!.ageSeconds).toBeGreaterThan(30 * 60);
  };

  it('/probe: one series set per address, only the stale node flagged', async () => {
    await assertPerAddress(summarizeAll(await exporter.probe(target, 'all'), { target, module: 'all' }));
  });

  it('/metrics: one series set per address, only the stale node flagged; without probe_all_addresses, one address', async () => {
    const scrape = await exporter.scrape();
    await assertPerAddress(summarizeAll(scrape, { target, module: 'all', pool: 'web' }));
    const single = summarizeAll(scrape, { target, module: 'default' });
    expect([...single.keys()]).toEqual([`${NODES.fresh1}:${port}`]);
    const probed = summarizeAll(await exporter.probe(target, 'default'), { target, module: 'default' });
    expect([...probed.keys()]).toEqual([`${NODES.fresh1}:${port}`]);
  });
});
