/**
 * The exporter against real nginx, configured through a real YAML file (`loadConfigFile`), read
 * over HTTP through `/probe` and `/metrics`. Live stapling from the lab responder (lazy: the first
 * handshake after start has no staple, and the exporter must say exactly that), crafted
 * `ssl_stapling_file` responses that nginx serves unchanged (expired, not yet valid, for another
 * certificate, signed by a stranger, bad signature, tryLater), stapling off, TLS 1.2 and 1.3 with
 * ECDSA and RSA leaves, and a server sending only its leaf (issuer from the module's CA file).
 * OpenSSL (`openssl ocsp -resp_text`) is the judge of what the staple says.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/commands/check.js';
import { loadConfigFile } from '../../src/config/load.js';
import { loadOpensslCertificate, issueOpensslCertificate, opensslOcspResponse } from '../helpers/openssl.js';
import {
  Lab,
  LOOPBACK,
  TRY_LATER_DER,
  captureStaple,
  describeOcspResponse,
  requireLabTools,
  waitFor,
  type LabCert,
  type NginxServer,
} from './lab/index.js';
import { startExporter, summarize, unixSeconds, type AddressSummary, type RunningExporter } from './support/exporter.js';

const gate = requireLabTools(['openssl', 'faketime', 'nginx']);

const CRAFTED = ['expired', 'not-yet-valid', 'wrong-certificate', 'stranger', 'bad-signature', 'try-later'] as const;
type Crafted = (typeof CRAFTED)[number];
const EXPECTED_PROBLEM: Record<Crafted, string> = {
  expired: 'expired',
  'not-yet-valid': 'not_yet_valid',
  'wrong-certificate': 'wrong_certificate',
  stranger: 'unauthorized_responder',
  'bad-signature': 'bad_signature',
  'try-later': 'not_successful',
};

/** A response about `leaf` signed by a responder of an unrelated CA (OCSPSigning EKU, but not from our issuer). */
async function strangerResponse(lab: Lab, leaf: LabCert): Promise<Buffer> {
  const dir = path.join(lab.dir, 'stranger');
  await mkdir(dir, { recursive: true });
  const ca = await issueOpensslCertificate(dir, {
    name: 'stranger-ca',
    subject: '/O=Elsewhere/CN=Stranger Root CA',
    issuer: null,
    extensions: ['basicConstraints = critical,CA:true', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash'],
  });
  const signer = await issueOpensslCertificate(dir, {
    name: 'stranger-responder',
    subject: '/O=Elsewhere/CN=Stranger OCSP Responder',
    issuer: ca,
    extensions: ['basicConstraints = critical,CA:false', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = OCSPSigning'],
  });
  const inter = lab.pki.intermediate;
  const der = await opensslOcspResponse({
    dir,
    issuer: await loadOpensslCertificate(inter.name, 'ec-p256', inter.certPath, inter.keyPath),
    certs: [await loadOpensslCertificate(leaf.name, 'ec-p256', leaf.certPath, leaf.keyPath)],
    signer,
    nmin: 24 * 60,
  });
  return Buffer.from(der);
}

describe.skipIf(gate.skip)('exporter against nginx', () => {
  let lab: Lab;
  let nginx: NginxServer;
  let exporter: RunningExporter;
  let configPath: string;
  const files: Partial<Record<Crafted | 'leaf-only', Buffer>> = {};
  const targetOf = (site: string): string => `${LOOPBACK}:${nginx.port(site)}`;

  /** The YAML the exporter reads; `withVersions` adds TLS 1.2-only and 1.3-only targets for the live sites. */
  function configYaml(withVersions: boolean): string {
    const target = (site: string, module = 'default') =>
      `  - target: ${targetOf(site)}\n    module: ${module}\n    labels:\n      site: ${site}\n`;
    const sites = ['ecdsa-live', 'rsa-live', 'off', 'leaf-only', ...CRAFTED];
    return [
      'global:',
      '  concurrency: 8',
      '  min_probe_interval: 0s',
      '  probe_allowlist: ["127.0.0.1/32"]',
      'modules:',
      '  default:',
      '    timeout: 5s',
      `    ca_file: ${lab.pki.trustPath}`,
      ...['tls12:TLS12', 'tls13:TLS13'].flatMap((spec) => {
        const [name, version] = spec.split(':');
        return [`  ${name}:`, '    timeout: 5s', `    ca_file: ${lab.pki.trustPath}`, `    min_version: ${version}`, `    max_version: ${version}`];
      }),
      // No CA file: Node's system store, which knows nothing of the lab's intermediate.
      '  no_ca_file:',
      '    timeout: 5s',
      'targets:',
      ...sites.map((site) => target(site)),
      target('leaf-only', 'no_ca_file'),
      ...(withVersions ? ['ecdsa-live', 'rsa-live'].flatMap((site) => [target(site, 'tls12'), target(site, 'tls13')]) : []),
      '',
    ].join('\n');
  }

  beforeAll(async () => {
    const started = Date.now();
    lab = await Lab.start({ name: 'exporter-nginx' });
    const { ecdsa, rsa } = lab.leaves;
    const now = Date.now();
    [files.expired, files['not-yet-valid'], files['wrong-certificate'], files.stranger, files['bad-signature'], files['leaf-only']] = await Promise.all([
      // Signed by the issuer itself three hours ago, valid for one: expired two hours ago. (The
      // delegated responder's certificate is only minutes old: a response it "signed" three hours
      // ago would rightly be unauthorized_responder as well.)
      lab.pki.makeResponse(ecdsa, { at: new Date(now - 3 * 3_600_000), validMinutes: 60, signer: 'issuer' }),
      // Two days ahead: far beyond the module's 5-minute clock skew.
      lab.pki.makeResponse(ecdsa, { at: new Date(now + 2 * 86_400_000) }),
      // A good, well-signed answer, but about the RSA leaf.
      lab.pki.makeResponse(rsa),
      strangerResponse(lab, ecdsa),
      lab.pki.makeResponse(ecdsa, { badSignature: true }),
      lab.pki.makeResponse(ecdsa),
    ]);
    files['try-later'] = TRY_LATER_DER;
    // The same key and certificate, but the file nginx serves holds the leaf alone (no intermediate).
    const leafOnly: LabCert = { ...ecdsa, chainPath: ecdsa.certPath };
    nginx = await lab.startNginx([
      { name: 'ecdsa-live', leaf: ecdsa, stapling: { mode: 'live' } },
      { name: 'rsa-live', leaf: rsa, stapling: { mode: 'live' } },
      { name: 'off', leaf: ecdsa, stapling: { mode: 'off' } },
      { name: 'leaf-only', leaf: leafOnly, stapling: { mode: 'file', der: files['leaf-only']! } },
      ...CRAFTED.map((name) => ({ name, leaf: ecdsa, stapling: { mode: 'file' as const, der: files[name]! } })),
    ]);
    configPath = path.join(lab.dir, 'exporter.yaml');
    await writeFile(configPath, configYaml(false));
    exporter = await startExporter({ file: configPath });
    console.info(`exporter-nginx setup: ${Date.now() - started} ms (${JSON.stringify({ ...lab.timings, nginxStartMs: nginx.startupMs })})`);
  });

  afterAll(async () => {
    await exporter?.close();
    await lab?.stop();
  });

  const viaProbe = async (site: string, module = 'default'): Promise<AddressSummary> =>
    summarize(await exporter.probe(targetOf(site), module), { target: targetOf(site), module });
  const viaMetrics = async (site: string, module = 'default'): Promise<AddressSummary> =>
    summarize(await exporter.scrape(), { target: targetOf(site), module });
  /** The parts that do not change between two probes of the same unchanged staple. */
  const stable = ({ ageSeconds: _age, ...rest }: AddressSummary) => rest;

  it('loaded its configuration from the YAML file', () => {
    expect(exporter.store.current.file).toBe(configPath);
    expect(exporter.store.current.targets).toHaveLength(11);
    expect(exporter.store.current.modules.default?.caPem).toContain('BEGIN CERTIFICATE');
  });

  it('live stapling: no staple on the first handshake after start (/probe), then the responder answer', async () => {
    // The very first status_request nginx sees for this site: it starts fetching, staples nothing.
    const first = await viaProbe('ecdsa-live');
    expect(first, nginx.diagnostics()).toMatchObject({ success: 1, failureReason: null, present: 0, problems: [] });
    expect(first.valid).toBeUndefined();
    expect(first.revoked).toBeUndefined();

    const later = await waitFor(async () => {
      const s = await viaProbe('ecdsa-live');
      return s.present === 1 ? s : null;
    }, 5000, { what: 'the exporter to see nginx staple ecdsa-live', diagnostics: () => nginx.diagnostics() });
    const staple = (await captureStaple(LOOPBACK, nginx.port('ecdsa-live'))).staple!;
    const text = await describeOcspResponse(staple);
    expect(text).toMatchObject({ responseStatus: 'successful', certStatus: 'good', serial: lab.leaves.ecdsa.serial });
    expect(later).toMatchObject({
      success: 1,
      present: 1,
      valid: 1,
      problems: [],
      certStatus: 'good',
      revoked: 0,
      sizeBytes: staple.length,
      thisUpdate: unixSeconds(text.thisUpdate),
      nextUpdate: unixSeconds(text.nextUpdate),
      producedAt: unixSeconds(text.producedAt),
      chainVerified: 1,
      stale: 0,
    });
    // The responder runs with its default -nmin of 24 h.
    expect(later.nextUpdate! - later.thisUpdate!).toBe(24 * 3600);
    expect(later.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(later.ageSeconds).toBeLessThan(60);
  });

  it('live stapling: no staple on the first handshake after start (/metrics), then the responder answer', async () => {
    // rsa-live has seen no status_request yet: this scrape's handshake is its first.
    const first = await viaMetrics('rsa-live');
    expect(first, nginx.diagnostics()).toMatchObject({ success: 1, failureReason: null, present: 0, problems: [] });
    expect(first.valid).toBeUndefined();

    const later = await waitFor(async () => {
      const s = await viaMetrics('rsa-live');
      return s.present === 1 ? s : null;
    }, 5000, { what: 'the exporter to see nginx staple rsa-live', diagnostics: () => nginx.diagnostics() });
    const staple = (await captureStaple(LOOPBACK, nginx.port('rsa-live'))).staple!;
    const text = await describeOcspResponse(staple);
    expect(text).toMatchObject({ certStatus: 'good', serial: lab.leaves.rsa.serial });
    expect(later).toMatchObject({
      present: 1,
      valid: 1,
      problems: [],
      certStatus: 'good',
      revoked: 0,
      sizeBytes: staple.length,
      thisUpdate: unixSeconds(text.thisUpdate),
      nextUpdate: unixSeconds(text.nextUpdate),
      producedAt: unixSeconds(text.producedAt),
    });
    // And /probe agrees on every fact of the same staple.
    expect(stable(await viaProbe('rsa-live'))).toEqual(stable(later));
  });

  it.each(CRAFTED)('ssl_stapling_file %s: staple present, invalid, with the right problem', async (site) => {
    const expected = { success: 1, present: 1, valid: 0, problems: [EXPECTED_PROBLEM[site]], sizeBytes: files[site]!.length };
    const probed = await viaProbe(site);
    expect(probed).toMatchObject(expected);
    // Only a valid staple may speak about revocation.
    expect(probed.revoked).toBeUndefined();
    const scraped = await viaMetrics(site);
    expect(scraped).toMatchObject(expected);
    expect(stable(scraped)).toEqual(stable(probed));
  });

  it('ssl_stapling_file: the dates of the crafted responses are reported as OpenSSL reads them', async () => {
    const scrape = await exporter.scrape();
    for (const site of ['expired', 'not-yet-valid', 'bad-signature', 'stranger', 'wrong-certificate'] as const) {
      const text = await describeOcspResponse(files[site]!);
      const summary = summarize(scrape, { target: targetOf(site) });
      expect(summary, site).toMatchObject({
        thisUpdate: unixSeconds(text.thisUpdate),
        nextUpdate: unixSeconds(text.nextUpdate),
        producedAt: unixSeconds(text.producedAt),
        certStatus: 'good',
      });
    }
    // tryLater carries no SingleResponse: no dates, no status.
    const tryLater = summarize(scrape, { target: targetOf('try-later') });
    expect(tryLater).toMatchObject({ thisUpdate: undefined, nextUpdate: undefined, producedAt: undefined, certStatus: undefined });
  });

  it('stapling off: no staple, probe still successful', async () => {
    for (const summary of [await viaProbe('off'), await viaMetrics('off')]) {
      expect(summary).toMatchObject({ success: 1, failureReason: null, present: 0, problems: [], chainVerified: 1 });
      expect(summary.valid).toBeUndefined();
      expect(summary.revoked).toBeUndefined();
    }
  });

  it('leaf only (no intermediate sent): the issuer comes from the CA file, without it the issuer is unknown', async () => {
    const withCa = { success: 1, present: 1, valid: 1, problems: [], certStatus: 'good', revoked: 0 };
    expect(await viaProbe('leaf-only')).toMatchObject(withCa);
    const scrape = await exporter.scrape();
    expect(summarize(scrape, { target: targetOf('leaf-only'), module: 'default' })).toMatchObject(withCa);

    const withoutCa = { success: 1, present: 1, valid: 0, problems: ['issuer_unknown'], chainVerified: 0 };
    expect(await viaProbe('leaf-only', 'no_ca_file')).toMatchObject(withoutCa);
    expect(summarize(scrape, { target: targetOf('leaf-only'), module: 'no_ca_file' })).toMatchObject(withoutCa);
    // Nginx really sent the leaf alone.
    expect((await captureStaple(LOOPBACK, nginx.port('leaf-only'))).issuerDer).toBeNull();
  });

  type CheckReport = { issuerSource: string | null; chain: { length: number; verified: boolean }; staple: { certStatus: string } | null };
  const checkLeafOnly = async (): Promise<{ exit: number; report: CheckReport }> => {
    let out = '';
    const exit = await runCheck(
      { target: targetOf('leaf-only'), host: LOOPBACK, port: nginx.port('leaf-only'), serverName: null, module: 'default', config: loadConfigFile(configPath), json: true },
      { stdout: (text) => void (out += text), stderr: () => undefined },
    );
    return { exit, report: (JSON.parse(out) as CheckReport[])[0]! };
  };

  it('leaf only: check --json (same config file) agrees the staple is good', async () => {
    const { exit, report } = await checkLeafOnly();
    expect(exit).toBe(0);
    expect(report.staple?.certStatus).toBe('good');
  });

  // Node completes getPeerCertificate(true) from the context's trust store, which once made a
  // leaf-only server look complete; probes now handshake with an empty store (src/x509/chain.ts).
  it('leaf only: check --json says the issuer came from the CA file and the server sent one certificate', async () => {
    const { report } = await checkLeafOnly();
    expect({ issuerSource: report.issuerSource, chainLength: report.chain.length }).toEqual({ issuerSource: 'ca_file', chainLength: 1 });
    // The path still verifies: the intermediate comes from the CA file, as a browser would fetch it.
    expect(report.chain.verified).toBe(true);
  });

  it('TLS 1.2 and TLS 1.3 modules, ECDSA and RSA leaves: the staple is there in every combination', async () => {
    // Added by editing the YAML file and reloading, as an operator would.
    await writeFile(configPath, configYaml(true));
    const reload = await fetch(`${exporter.baseUrl}/-/reload`, { method: 'POST' });
    expect(reload.status, await reload.text()).toBe(200);
    expect(exporter.store.current.targets).toHaveLength(15);

    const scrape = await exporter.scrape();
    for (const site of ['ecdsa-live', 'rsa-live']) {
      for (const [module, version] of [['tls12', 'TLSv1.2'], ['tls13', 'TLSv1.3']] as const) {
        const expected = { success: 1, tlsVersion: version, present: 1, valid: 1, problems: [], certStatus: 'good', chainVerified: 1 };
        expect(await viaProbe(site, module), `${site} ${module} /probe`).toMatchObject(expected);
        expect(summarize(scrape, { target: targetOf(site), module }), `${site} ${module} /metrics`).toMatchObject(expected);
      }
    }
  });
});
