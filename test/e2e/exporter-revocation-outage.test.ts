/**
 * The exporter against real HAProxy, Apache and nginx when the news is bad: a revoked certificate
 * stapled by HAProxy (`.ocsp` file) and by Apache (live), with the revocation time and reason the
 * CA database holds; a staple refreshed at runtime (HAProxy's `set ssl ocsp-response`), seen as a
 * new thisUpdate; and the responder going down, after which Apache staples a synthesized tryLater
 * for a certificate it had not cached while nginx keeps serving its last good staple, older at
 * every scrape. Every fact is read through `/probe` and `/metrics`; the revocation reason, which no
 * metric carries, through `check --json` (runCheck).
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/commands/check.js';
import { defaultModule, emptyConfig, type Config, type TargetConfig } from '../../src/config/schema.js';
import {
  Lab,
  LOOPBACK,
  captureStaple,
  describeOcspResponse,
  requireLabTools,
  waitFor,
  type ApacheServer,
  type HaproxyServer,
  type LabCert,
  type NginxServer,
} from './lab/index.js';
import { startExporter, summarize, unixSeconds, type AddressSummary, type RunningExporter } from './support/exporter.js';

const gate = requireLabTools(['openssl', 'faketime', 'nginx', 'haproxy', 'apache2']);

/** The revocation time `openssl ca -revoke` wrote into index.txt for `serial` (`YYMMDDHHMMSSZ`), Unix seconds. */
async function indexRevocationSeconds(indexPath: string, serial: string): Promise<number> {
  const line = (await readFile(indexPath, 'utf8')).split('\n').find((l) => l.split('\t')[3] === serial);
  const revoked = line?.split('\t')[2] ?? '';
  const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z/.exec(revoked);
  if (!line?.startsWith('R\t') || !m) throw new Error(`no revocation of ${serial} in ${indexPath}: ${line}`);
  const [, yy, mo, dd, hh, mi, ss] = m.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss) / 1000;
}

describe.skipIf(gate.skip)('exporter against HAProxy, Apache and nginx: revocation, refresh, responder outage', () => {
  let lab: Lab;
  let haproxy: HaproxyServer;
  let apache: ApacheServer;
  let nginx: NginxServer;
  let exporter: RunningExporter;
  let refreshLeaf: LabCert;
  let refreshInitial: Buffer;
  /** Whether the static targets include Apache's never-asked-about site (added once the responder is down). */
  let withApacheDown = false;
  const T: Record<'haproxyRevoked' | 'haproxyRefresh' | 'apacheRevoked' | 'apacheDown' | 'nginxLive', string> = {
    haproxyRevoked: '',
    haproxyRefresh: '',
    apacheRevoked: '',
    apacheDown: '',
    nginxLive: '',
  };

  function config(): Config {
    const c = emptyConfig();
    c.global.minProbeIntervalSeconds = 0;
    c.global.probeAllowlist = ['127.0.0.1/32'];
    c.modules.default = { ...defaultModule(), timeoutSeconds: 5, caPem: lab.pki.root.certPem + lab.pki.intermediate.certPem };
    const target = (name: string): TargetConfig => {
      const port = Number(name.slice(name.lastIndexOf(':') + 1));
      return { target: name, host: LOOPBACK, port, module: 'default', serverName: null, labels: {} };
    };
    c.targets = [T.haproxyRevoked, T.haproxyRefresh, T.apacheRevoked, T.nginxLive, ...(withApacheDown ? [T.apacheDown] : [])].map(target);
    return c;
  }

  beforeAll(async () => {
    const started = Date.now();
    lab = await Lab.start({ name: 'exporter-outage' });
    let apacheDownLeaf: LabCert;
    [refreshLeaf, apacheDownLeaf] = await Promise.all([lab.issueLeaf({ name: 'haproxy-refresh' }), lab.issueLeaf({ name: 'apache-down' })]);
    // Made ten minutes ago (HAProxy refuses answers from the future), replaced later by a fresh
    // one. Signed by the issuer: the delegated responder's certificate is younger than that.
    const [revokedFile, refreshFile] = await Promise.all([
      lab.pki.makeResponse(lab.leaves.revoked),
      lab.pki.makeResponse(refreshLeaf, { at: new Date(Date.now() - 10 * 60_000), signer: 'issuer' }),
    ]);
    refreshInitial = refreshFile;
    [haproxy, apache, nginx] = await Promise.all([
      lab.startHaproxy([
        { name: 'revoked', leaf: lab.leaves.revoked, ocsp: revokedFile },
        { name: 'refresh', leaf: refreshLeaf, ocsp: refreshFile },
      ]),
      lab.startApache([
        { name: 'revoked', leaf: lab.leaves.revoked },
        // Nobody asks Apache about this certificate until the responder is gone.
        { name: 'down', leaf: apacheDownLeaf },
      ]),
      lab.startNginx([{ name: 'live', leaf: lab.leaves.ecdsa, stapling: { mode: 'live' } }]),
    ]);
    T.haproxyRevoked = `${LOOPBACK}:${haproxy.port('revoked')}`;
    T.haproxyRefresh = `${LOOPBACK}:${haproxy.port('refresh')}`;
    T.apacheRevoked = `${LOOPBACK}:${apache.port('revoked')}`;
    T.apacheDown = `${LOOPBACK}:${apache.port('down')}`;
    T.nginxLive = `${LOOPBACK}:${nginx.port('live')}`;
    exporter = await startExporter({ load: config });
    console.info(
      `exporter-outage setup: ${Date.now() - started} ms (${JSON.stringify({ ...lab.timings, haproxy: haproxy.startupMs, apache: apache.startupMs, nginx: nginx.startupMs })})`,
    );
  });

  afterAll(async () => {
    await exporter?.close();
    await lab?.stop();
  });

  const viaProbe = async (target: string): Promise<AddressSummary> => summarize(await exporter.probe(target), { target });
  const viaMetrics = async (target: string): Promise<AddressSummary> => summarize(await exporter.scrape(), { target });

  it('a revoked certificate stapled by HAProxy and by Apache: revoked, at the time the CA database says, for keyCompromise', async () => {
    const revokedAt = await indexRevocationSeconds(lab.pki.indexPath, lab.leaves.revoked.serial);
    const expected = { success: 1, present: 1, valid: 1, problems: [], certStatus: 'revoked', revoked: 1, revocationTime: revokedAt };
    for (const [server, target] of [['haproxy', T.haproxyRevoked], ['apache', T.apacheRevoked]] as const) {
      expect(await viaProbe(target), `${server} /probe`).toMatchObject(expected);
      expect(await viaMetrics(target), `${server} /metrics`).toMatchObject(expected);

      // The reason is carried by no metric: `check --json` reports it from the same probe.
      const port = Number(target.split(':')[1]);
      let out = '';
      const exit = await runCheck(
        { target, host: LOOPBACK, port, serverName: null, module: 'default', config: config(), json: true },
        { stdout: (text) => void (out += text), stderr: () => undefined },
      );
      expect(exit, `${server} check exit status`).toBe(1);
      const [report] = JSON.parse(out) as { staple: { certStatus: string; revocationTime: string; revocationReason: string } }[];
      expect(report!.staple, server).toMatchObject({
        certStatus: 'revoked',
        revocationReason: 'keyCompromise',
        // check prints whole seconds: 2026-11-25T09:07:04Z
        revocationTime: new Date(revokedAt * 1000).toISOString().replace('.000Z', 'Z'),
      });
      // And OpenSSL reads the same from the bytes the server staples.
      const text = await describeOcspResponse((await captureStaple(LOOPBACK, port)).staple!);
      expect(text).toMatchObject({ certStatus: 'revoked', revocationReason: 'keyCompromise', serial: lab.leaves.revoked.serial });
    }
  });

  it('a staple replaced through HAProxy\'s admin socket: the exporter reports the new thisUpdate', async () => {
    const before = await describeOcspResponse(refreshInitial);
    for (const summary of [await viaProbe(T.haproxyRefresh), await viaMetrics(T.haproxyRefresh)]) {
      expect(summary).toMatchObject({ valid: 1, certStatus: 'good', thisUpdate: unixSeconds(before.thisUpdate) });
      // Ten minutes old: the age says so.
      expect(summary.ageSeconds).toBeGreaterThanOrEqual(600);
    }

    const fresh = await lab.pki.makeResponse(refreshLeaf);
    const after = await describeOcspResponse(fresh);
    expect(after.thisUpdate!.getTime()).toBeGreaterThan(before.thisUpdate!.getTime());
    await haproxy.setOcspResponse(fresh);
    for (const summary of [await viaProbe(T.haproxyRefresh), await viaMetrics(T.haproxyRefresh)]) {
      expect(summary).toMatchObject({
        valid: 1,
        certStatus: 'good',
        sizeBytes: fresh.length,
        thisUpdate: unixSeconds(after.thisUpdate),
        nextUpdate: unixSeconds(after.nextUpdate),
        producedAt: unixSeconds(after.producedAt),
      });
      expect(summary.ageSeconds).toBeLessThan(60);
    }
  });

  it('responder down: Apache staples tryLater (not_successful), nginx keeps its last staple, older at every scrape', async () => {
    // nginx fetches lazily: make sure it holds a staple before the responder goes.
    const held = await waitFor(async () => {
      const s = await viaProbe(T.nginxLive);
      return s.present === 1 ? s : null;
    }, 5000, { what: 'nginx to staple', diagnostics: () => nginx.diagnostics() });
    expect(held).toMatchObject({ valid: 1, certStatus: 'good' });

    await lab.responder.kill();
    try {
      // Apache meets this certificate for the first time and cannot reach the responder.
      const tryLater = { success: 1, present: 1, valid: 0, problems: ['not_successful'], certStatus: undefined, revoked: undefined };
      expect(await viaProbe(T.apacheDown), apache.diagnostics()).toMatchObject(tryLater);
      withApacheDown = true;
      expect(exporter.app.reloadConfig()).toEqual({ ok: true });

      const first = await exporter.scrape();
      await sleep(300);
      const second = await exporter.scrape();
      expect(summarize(first, { target: T.apacheDown })).toMatchObject(tryLater);
      expect(summarize(second, { target: T.apacheDown })).toMatchObject(tryLater);

      const [a, b] = [summarize(first, { target: T.nginxLive }), summarize(second, { target: T.nginxLive })];
      for (const s of [a, b]) {
        expect(s).toMatchObject({ success: 1, present: 1, valid: 1, problems: [], certStatus: 'good', thisUpdate: held.thisUpdate, stale: 0 });
      }
      // Both scrapes probed afresh (min_probe_interval 0): the same staple, judged later.
      expect(b.ageSeconds! - a.ageSeconds!).toBeGreaterThanOrEqual(0.29);
      expect((await viaProbe(T.nginxLive)).thisUpdate).toBe(held.thisUpdate);
    } finally {
      await lab.responder.restart();
    }
  });
});
