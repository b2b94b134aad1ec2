/**
 * Staple files (`staple_files:`) against the real servers that serve them, the exporter probing
 * the same servers in the same /metrics scrape: the file series (labels `file`, `certificate`) and
 * the probed series (`target`, `address`, `module`) must say the same thing, value by value.
 *
 * - HAProxy 2.6 serving `<bundle>.pem.ocsp` (layout `haproxy:` over its directory), each staple
 *   replaced on disk and through the admin socket (`set ssl ocsp-response`): good, expired, wrong
 *   certificate, revoked. HAProxy judges a staple's window by its own clock and never serves an
 *   expired one, so it runs 2.5 h behind (libfaketime) and every staple it serves is issued 3 h
 *   ago by the issuer itself (a delegated responder certificate minutes old would make them
 *   unauthorized_responder). HAProxy refuses another certificate's response outright: there the
 *   file speaks (wrong_certificate) while the server keeps serving its previous staple.
 * - nginx `ssl_stapling_file` with the explicit pair (`staple:` + `certificate:` + `issuer:`):
 *   good, expired, wrong certificate, each swapped on disk and nginx reloaded.
 * - A stalled refresher: a file whose mtime is 13 h old holding a staple valid for 21 h more has
 *   passed its rewrite deadline (mtime + half the window) while file and probe both say valid; the
 *   real rule OcspStapleFileRefreshStalled, evaluated by a real Prometheus scraping the exporter
 *   (`for:` shortened), fires for it and not for a freshly written file. In the same Prometheus,
 *   OcspStapleFileUnreadable fires for a pair never written, and OcspCertificateRevoked for the
 *   revoked file and for the server serving it.
 * - The file removed: `ocsp_staple_file_readable 0`, `ocsp_staple_file_error{reason="missing"} 1`,
 *   the probe unaffected; written again: readable.
 *
 * OpenSSL (`openssl ocsp -respin -resp_text`) reads the dates and the revocation time independently.
 */
import { rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { find, type Exposition } from '../metrics/exposition.js';
import { requireTools } from '../grafana/tools.js';
import {
  Lab,
  LOOPBACK,
  captureStaple,
  describeOcspResponse,
  requireLabTools,
  waitFor,
  type HaproxyServer,
  type LabCert,
  type NginxServer,
} from './lab/index.js';
import { startExporter, unixSeconds, type RunningExporter } from './support/exporter.js';
import { startRulesPrometheus, type RulesPrometheus } from './support/rules-prometheus.js';
import { compareStapleFacts, familiesOf, opensslRevocationTime, stapleFacts, type StapleFacts } from './support/staple-series.js';

const gate = requireLabTools(['openssl', 'faketime', 'haproxy', 'nginx']);
const prometheusGate = requireTools(['prometheus']);

/** HAProxy's clock: 2.5 h behind. */
const HAPROXY_CLOCK_OFFSET_SECONDS = -9000;
/** Staples HAProxy serves are issued this long ago: inside HAProxy's window, expired ones too. */
const BACKDATE_MS = 3 * 3_600_000;
/** The stalled file was last written this long ago (its 24 h staple, issued 3 h ago, lasts 21 h more). */
const STALLED_AGE_SECONDS = 13 * 3600;
/** Two scrapes a few steps apart: the clock-relative series (age, seconds until) move by at most this. */
const BETWEEN_SCRAPES_SECONDS = 30;

/** What every judged staple file must say, as its probe does (among all the shared families compared). */
const CORE_FAMILIES = [
  'ocsp_staple_present',
  'ocsp_staple_size_bytes',
  'ocsp_staple_valid',
  'ocsp_staple_cert_status',
  'ocsp_staple_this_update_timestamp_seconds',
  'ocsp_staple_next_update_timestamp_seconds',
  'ocsp_staple_produced_at_timestamp_seconds',
];

const M = {
  readable: 'ocsp_staple_file_readable',
  error: 'ocsp_staple_file_error',
  modified: 'ocsp_staple_file_modified_timestamp_seconds',
  deadline: 'ocsp_staple_file_rewrite_deadline_timestamp_seconds',
} as const;

type HaproxySite = 'walk' | 'stalled' | 'fresh';

describe.skipIf(gate.skip)('staple files against real HAProxy and nginx', () => {
  let lab: Lab;
  let haproxy: HaproxyServer;
  let nginx: NginxServer;
  let exporter: RunningExporter;
  let rules: RulesPrometheus | undefined;
  let leaves: Record<HaproxySite | 'pair' | 'elsewhere', LabCert>;
  let issuedAt: Date;
  let stalledModified: number;
  const served: Partial<Record<HaproxySite, Buffer>> = {};

  const bundleOf = (site: HaproxySite): string => path.join(haproxy.dir, `${site}.pem`);
  const stapleOf = (site: HaproxySite): string => `${bundleOf(site)}.ocsp`;
  const targetOf = (port: number): string => `${LOOPBACK}:${port}`;
  const haproxyTarget = (site: HaproxySite): string => targetOf(haproxy.port(site));
  const pairFile = (): string => nginx.staplingFilePath('pair');
  const pairTarget = (): string => targetOf(nginx.port('pair'));
  /** An explicit pair whose staple the refresh job never wrote. */
  const neverWritten = (): string => path.join(lab.dir, 'never-written.ocsp');

  function configYaml(): string {
    return [
      'global:',
      '  concurrency: 4',
      '  min_probe_interval: 0s',
      '  probe_allowlist: ["127.0.0.1/32"]',
      'modules:',
      '  default:',
      '    timeout: 5s',
      `    ca_file: ${lab.pki.trustPath}`,
      'targets:',
      ...(['walk', 'stalled', 'fresh'] as const).map((site) => `  - target: ${haproxyTarget(site)}`),
      `  - target: ${pairTarget()}`,
      'staple_files:',
      `  - haproxy: ${path.join(haproxy.dir, '*.pem')}`,
      `  - staple: ${pairFile()}`,
      `    certificate: ${leaves.pair.certPath}`,
      `    issuer: ${lab.pki.intermediate.certPath}`,
      `  - staple: ${neverWritten()}`,
      `    certificate: ${lab.leaves.ecdsa.certPath}`,
      '',
    ].join('\n');
  }

  // Longer than the default: a lab, two servers, the exporter and Prometheus (~15 s, twice that on a busy machine).
  beforeAll(async () => {
    const started = Date.now();
    lab = await Lab.start({ name: 'staple-files-real' });
    // HAProxy keeps one staple per certificate: a leaf per site. The nginx pair is another server.
    // `elsewhere` is served by neither: its answer is "another certificate's" for both.
    const [walk, fresh] = await Promise.all(['walk', 'fresh'].map((name) => lab.issueLeaf({ name: `files-${name}` })));
    const { ecdsa, rsa } = lab.leaves;
    leaves = { walk: walk!, stalled: ecdsa, fresh: fresh!, pair: ecdsa, elsewhere: rsa };
    issuedAt = new Date(started - BACKDATE_MS);
    [served.walk, served.stalled, served.fresh] = await Promise.all(
      (['walk', 'stalled', 'fresh'] as const).map((site) => lab.pki.makeResponse(leaves[site], { at: issuedAt, signer: 'issuer' })),
    );
    const pairGood = await lab.pki.makeResponse(leaves.pair);
    [haproxy, nginx] = await Promise.all([
      lab.startHaproxy(
        (['walk', 'stalled', 'fresh'] as const).map((site) => ({ name: site, leaf: leaves[site], ocsp: served[site]! })),
        { clockOffsetSeconds: HAPROXY_CLOCK_OFFSET_SECONDS },
      ),
      lab.startNginx([{ name: 'pair', leaf: leaves.pair, stapling: { mode: 'file', der: pairGood } }]),
    ]);
    // The stalled refresher: the file HAProxy loaded has not been written for 13 h.
    stalledModified = Math.floor(started / 1000) - STALLED_AGE_SECONDS;
    await utimes(stapleOf('stalled'), stalledModified, stalledModified);
    const configPath = path.join(lab.dir, 'exporter.yaml');
    await writeFile(configPath, configYaml());
    exporter = await startExporter({ file: configPath });
    // Prometheus' first scrape lands ~6 s after its start: start it now, the alert test comes last.
    if (!prometheusGate.skip) rules = await startRulesPrometheus(exporter.baseUrl);
    console.info(`staple-files-real setup: ${Date.now() - started} ms (${JSON.stringify({ ...lab.timings, haproxyStartMs: haproxy.startupMs, nginxStartMs: nginx.startupMs })})`);
  }, 120_000);

  afterAll(async () => {
    await rules?.stop();
    await exporter?.close();
    await lab?.stop();
  });

  /** Replaces a HAProxy staple as a refresh job does: a new file renamed over the old, then the admin socket. */
  async function refreshHaproxy(site: HaproxySite, der: Buffer): Promise<{ accepted: boolean; reply: string }> {
    const file = stapleOf(site);
    await writeFile(`${file}.new`, der);
    await rename(`${file}.new`, file);
    try {
      return { accepted: true, reply: await haproxy.setOcspResponse(der) };
    } catch (error) {
      return { accepted: false, reply: error instanceof Error ? error.message : String(error) };
    }
  }

  interface BothSides {
    scrape: Exposition;
    file: StapleFacts;
    probe: StapleFacts;
  }

  /** One /metrics scrape: the file's series and the probe's, reduced to what they say. */
  async function scrapeBoth(file: string, target: string): Promise<BothSides> {
    const scrape = await exporter.scrape();
    return { scrape, file: stapleFacts(scrape, { file }), probe: stapleFacts(scrape, { target }) };
  }

  function problemsOf(facts: StapleFacts): string[] {
    return [...facts].filter(([key, value]) => key.startsWith('ocsp_staple_problem{') && value === 1).map(([key]) => /problem="([^"]*)"/.exec(key)![1]!).sort();
  }

  function certStatusOf(facts: StapleFacts): string | undefined {
    return [...facts].find(([key, value]) => key.startsWith('ocsp_staple_cert_status{') && value === 1)?.[0].match(/status="([^"]*)"/)?.[1];
  }

  /** The file's identity series: exactly one per name for `file`. */
  function fileSeries(scrape: Exposition, file: string, name: string): number | undefined {
    const found = find(scrape, name, { file });
    if (found.length > 1) throw new Error(`several ${name} series for ${file}`);
    return found[0]?.value;
  }

  interface ExpectedState {
    valid: number;
    problems: string[];
    certStatus: 'good' | 'revoked';
    revoked?: number;
  }

  /** File and probe agree value by value; the state is the expected one; the dates are OpenSSL's. */
  async function expectAgreement(both: BothSides, der: Buffer, expected: ExpectedState, label: string): Promise<void> {
    const context = `${label}\nfile: ${JSON.stringify([...both.file])}\nprobe: ${JSON.stringify([...both.probe])}`;
    expect(familiesOf(both.file), context).toEqual(expect.arrayContaining(CORE_FAMILIES));
    expect(compareStapleFacts(both.file, both.probe), context).toEqual({ onlyLeft: [], onlyRight: [], differing: [] });
    expect(both.file.get('ocsp_staple_present'), context).toBe(1);
    expect({
      valid: both.file.get('ocsp_staple_valid'),
      problems: problemsOf(both.file),
      certStatus: certStatusOf(both.file),
      revoked: both.file.get('ocsp_cert_revoked'),
    }, context).toEqual({ revoked: undefined, ...expected });
    const text = await describeOcspResponse(der);
    expect({
      thisUpdate: both.file.get('ocsp_staple_this_update_timestamp_seconds'),
      nextUpdate: both.file.get('ocsp_staple_next_update_timestamp_seconds'),
      producedAt: both.file.get('ocsp_staple_produced_at_timestamp_seconds'),
      revocationTime: both.file.get('ocsp_cert_revocation_timestamp_seconds'),
    }, context).toEqual({
      thisUpdate: unixSeconds(text.thisUpdate),
      nextUpdate: unixSeconds(text.nextUpdate),
      producedAt: unixSeconds(text.producedAt),
      revocationTime: expected.revoked === 1 ? opensslRevocationTime(text.text) : undefined,
    });
  }

  /** What HAProxy hands out for `site` right now. */
  async function servedBy(site: HaproxySite): Promise<Buffer | null> {
    return (await captureStaple(LOOPBACK, haproxy.port(site))).staple;
  }

  describe('HAProxy: the .ocsp file it serves, replaced on disk and over the admin socket', () => {
    it('good: file and probe series agree, dates as OpenSSL reads them', async () => {
      expect((await servedBy('walk'))?.equals(served.walk!), haproxy.diagnostics()).toBe(true);
      const both = await scrapeBoth(stapleOf('walk'), haproxyTarget('walk'));
      expect(fileSeries(both.scrape, stapleOf('walk'), M.readable)).toBe(1);
      expect(find(both.scrape, M.readable, { file: stapleOf('walk') })[0]?.labels.certificate).toBe(bundleOf('walk'));
      await expectAgreement(both, served.walk!, { valid: 1, problems: [], certStatus: 'good', revoked: 0 }, 'good');
    });

    it('expired (HAProxy, 2.5 h behind, still serves it): file and probe agree on expired', async () => {
      const expired = await lab.pki.makeResponse(leaves.walk, { at: issuedAt, validMinutes: 60, signer: 'issuer' });
      const { accepted, reply } = await refreshHaproxy('walk', expired);
      expect(accepted, reply).toBe(true);
      expect((await servedBy('walk'))?.equals(expired)).toBe(true);
      served.walk = expired;
      await expectAgreement(await scrapeBoth(stapleOf('walk'), haproxyTarget('walk')), expired, { valid: 0, problems: ['expired'], certStatus: 'good' }, 'expired');
    });

    it('wrong certificate: HAProxy refuses it and keeps serving the previous staple, the file says wrong_certificate', async () => {
      const before = await scrapeBoth(stapleOf('walk'), haproxyTarget('walk'));
      const wrong = await lab.pki.makeResponse(leaves.elsewhere, { at: issuedAt, signer: 'issuer' });
      const { accepted, reply } = await refreshHaproxy('walk', wrong);
      expect(accepted).toBe(false);
      expect(reply).toMatch(/Certificate ID does not match any certificate or issuer/);
      expect((await servedBy('walk'))?.equals(served.walk!)).toBe(true);

      const after = await scrapeBoth(stapleOf('walk'), haproxyTarget('walk'));
      // The probe still sees the expired staple, exactly as before.
      expect(compareStapleFacts(after.probe, before.probe, { clockToleranceSeconds: BETWEEN_SCRAPES_SECONDS })).toEqual({ onlyLeft: [], onlyRight: [], differing: [] });
      // The file is judged for what it holds: the other leaf's good answer.
      const text = await describeOcspResponse(wrong);
      expect(text.serial).toBe(leaves.elsewhere.serial);
      expect({
        valid: after.file.get('ocsp_staple_valid'),
        problems: problemsOf(after.file),
        revoked: after.file.get('ocsp_cert_revoked'),
        thisUpdate: after.file.get('ocsp_staple_this_update_timestamp_seconds'),
        nextUpdate: after.file.get('ocsp_staple_next_update_timestamp_seconds'),
      }, JSON.stringify([...after.file])).toEqual({
        valid: 0,
        problems: ['wrong_certificate'],
        revoked: undefined,
        thisUpdate: unixSeconds(text.thisUpdate),
        nextUpdate: unixSeconds(text.nextUpdate),
      });
    });

    it('revoked: file and probe agree, revocation time as OpenSSL reads it', async () => {
      await lab.revoke(leaves.walk, 'keyCompromise');
      const revoked = await lab.pki.makeResponse(leaves.walk, { at: issuedAt, signer: 'issuer' });
      const { accepted, reply } = await refreshHaproxy('walk', revoked);
      expect(accepted, reply).toBe(true);
      expect((await servedBy('walk'))?.equals(revoked)).toBe(true);
      served.walk = revoked;
      await expectAgreement(await scrapeBoth(stapleOf('walk'), haproxyTarget('walk')), revoked, { valid: 1, problems: [], certStatus: 'revoked', revoked: 1 }, 'revoked');
    });

    it('the file removed: readable 0 with reason missing, the probe unaffected; written again: readable', async () => {
      const before = await scrapeBoth(stapleOf('walk'), haproxyTarget('walk'));
      await rm(stapleOf('walk'));
      const gone = await scrapeBoth(stapleOf('walk'), haproxyTarget('walk'));
      expect(fileSeries(gone.scrape, stapleOf('walk'), M.readable)).toBe(0);
      const errors = find(gone.scrape, M.error, { file: stapleOf('walk') });
      expect(errors.filter((s) => s.value === 1).map((s) => s.labels.reason)).toEqual(['missing']);
      // HAProxy keeps the staple in memory: the probe says the same as before.
      expect(compareStapleFacts(gone.probe, before.probe, { clockToleranceSeconds: BETWEEN_SCRAPES_SECONDS })).toEqual({ onlyLeft: [], onlyRight: [], differing: [] });
      // Nothing is judged: no staple series claim anything about a file that is not there.
      expect(gone.file.get('ocsp_staple_present')).toBe(0);
      expect(gone.file.get('ocsp_staple_valid')).toBeUndefined();

      await writeFile(stapleOf('walk'), served.walk!);
      const back = await scrapeBoth(stapleOf('walk'), haproxyTarget('walk'));
      expect(fileSeries(back.scrape, stapleOf('walk'), M.readable)).toBe(1);
      expect(find(back.scrape, M.error, { file: stapleOf('walk') }).filter((s) => s.value === 1)).toEqual([]);
      await expectAgreement(back, served.walk!, { valid: 1, problems: [], certStatus: 'revoked', revoked: 1 }, 'revoked, written again');
    });
  });

  describe('nginx ssl_stapling_file: the explicit pair (staple, certificate, issuer)', () => {
    it('good, then expired, then another certificate\'s answer: file and probe agree on each', async () => {
      const good = await lab.pki.makeResponse(leaves.pair);
      const expired = await lab.pki.makeResponse(leaves.pair, { at: new Date(Date.now() - BACKDATE_MS), validMinutes: 60, signer: 'issuer' });
      const wrong = await lab.pki.makeResponse(leaves.elsewhere);
      const states: [string, Buffer, ExpectedState][] = [
        ['good', good, { valid: 1, problems: [], certStatus: 'good', revoked: 0 }],
        ['expired', expired, { valid: 0, problems: ['expired'], certStatus: 'good' }],
        ['wrong certificate', wrong, { valid: 0, problems: ['wrong_certificate'], certStatus: 'good' }],
      ];
      for (const [label, der, expected] of states) {
        await nginx.replaceStaplingFile('pair', der);
        const both = await scrapeBoth(pairFile(), pairTarget());
        expect(find(both.scrape, M.readable, { file: pairFile() })[0]?.labels.certificate).toBe(leaves.pair.certPath);
        await expectAgreement(both, der, expected, `nginx ${label}`);
      }
    });
  });

  describe('a stalled refresher: the file stops being rewritten while its staple is still valid', () => {
    it('past its rewrite deadline (mtime + half the window) while file and probe both say valid', async () => {
      const both = await scrapeBoth(stapleOf('stalled'), haproxyTarget('stalled'));
      const now = Date.now() / 1000;
      const modified = fileSeries(both.scrape, stapleOf('stalled'), M.modified);
      const deadline = fileSeries(both.scrape, stapleOf('stalled'), M.deadline);
      expect(modified).toBe((await stat(stapleOf('stalled'))).mtimeMs / 1000);
      expect(modified).toBe(stalledModified);
      const thisUpdate = both.file.get('ocsp_staple_this_update_timestamp_seconds')!;
      const end = both.file.get('ocsp_staple_end_timestamp_seconds')!;
      expect(deadline).toBe(stalledModified + 0.5 * (end - thisUpdate));
      expect(deadline).toBeLessThan(now);
      for (const [side, facts] of [['file', both.file], ['probe', both.probe]] as const) {
        expect(facts.get('ocsp_staple_valid'), side).toBe(1);
        expect(facts.get('ocsp_staple_seconds_until_end'), side).toBeGreaterThan(0);
        // 3 h into a 24 h window: nothing about the staple itself looks old yet; only the file's mtime tells.
        expect(facts.get('ocsp_staple_stale'), side).toBe(0);
      }
      await expectAgreement(both, served.stalled!, { valid: 1, problems: [], certStatus: 'good', revoked: 0 }, 'stalled');

      // A freshly written file: its deadline is ahead.
      const fresh = await scrapeBoth(stapleOf('fresh'), haproxyTarget('fresh'));
      expect(fileSeries(fresh.scrape, stapleOf('fresh'), M.deadline)).toBeGreaterThan(now);
    });

    it.skipIf(prometheusGate.skip)('the real rule OcspStapleFileRefreshStalled fires for the stalled file only (real Prometheus)', async () => {
      const prometheus = rules!.prometheus;
      // Both files must have been scraped and judged before "not firing" means anything.
      await waitFor(
        async () => (await prometheus.query(`${M.readable}{file=~"${stapleOf('stalled')}|${stapleOf('fresh')}"} == 1`)).length === 2,
        20_000,
        { what: 'Prometheus to scrape both HAProxy staple files', intervalMs: 250, diagnostics: () => prometheus.diagnostics() },
      );
      const firing = await waitFor(
        async () => {
          const alerts = await rules!.alerts('OcspStapleFileRefreshStalled');
          return alerts.length > 0 ? alerts : null;
        },
        15_000,
        { what: 'OcspStapleFileRefreshStalled to fire', intervalMs: 250, diagnostics: () => prometheus.diagnostics() },
      );
      expect(firing.map((a) => a.labels.file)).toEqual([stapleOf('stalled')]);
      expect(firing[0]!.labels).toMatchObject({ severity: 'warning', certificate: bundleOf('stalled') });
      expect(firing[0]!.annotations.summary).toContain(stapleOf('stalled'));
      expect(firing[0]!.annotations.runbook_url).toMatch(/docs\/runbook\.md#ocspstaplefilerefreshstalled$/);
      // Not even pending for the fresh file, the rewritten walk file, the nginx pair or the file never written.
      const all = (await prometheus.alerts()).filter((a) => a.labels.alertname === 'OcspStapleFileRefreshStalled');
      expect(all.map((a) => a.labels.file)).toEqual([stapleOf('stalled')]);
    });

    it.skipIf(prometheusGate.skip)('the other file rules in the same Prometheus: a file never written is unreadable, a revoked file and its server both alert', async () => {
      const unreadable = await waitFor(
        async () => {
          const alerts = await rules!.alerts('OcspStapleFileUnreadable');
          return alerts.length > 0 ? alerts : null;
        },
        15_000,
        { what: 'OcspStapleFileUnreadable to fire', intervalMs: 250, diagnostics: () => rules!.prometheus.diagnostics() },
      );
      expect(unreadable.map((a) => [a.labels.file, a.labels.reason])).toEqual([[neverWritten(), 'missing']]);
      expect(unreadable[0]!.annotations.summary).toBe(`Staple file ${neverWritten()} cannot be read: missing`);

      // The walk file and the HAProxy site serving it hold the same revoked staple: one alert each.
      const revoked = await waitFor(
        async () => {
          const alerts = await rules!.alerts('OcspCertificateRevoked');
          return alerts.length >= 2 ? alerts : null;
        },
        15_000,
        { what: 'OcspCertificateRevoked for the walk file and its server', intervalMs: 250 },
      );
      const bySource = revoked.map((a) => (a.labels.file ? `file ${a.labels.file}` : `target ${a.labels.target}`)).sort();
      expect(bySource).toEqual([`file ${stapleOf('walk')}`, `target ${haproxyTarget('walk')}`]);
      const fileAlert = revoked.find((a) => a.labels.file)!;
      expect(fileAlert.annotations.summary).toBe(`Certificate ${bundleOf('walk')} of staple file ${stapleOf('walk')} is revoked`);
    });
  });
});
