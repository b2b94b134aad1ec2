/**
 * responder_checks end to end, with `openssl ocsp` as the CA's responder (the lab, test/e2e/lab/):
 * a good and a revoked certificate (time and reason as the CA database has them), a responder
 * that is down (connection refused), one that hangs (a TCP listener that never answers: bounded
 * by the module timeout), one answering tryLater (OpenSSL's responder cannot: a tiny in-process
 * one sends the lab's tryLater DER) and a real `openssl ocsp` signing with a delegated responder
 * certificate that has expired (issued under faketime). Judged through /metrics of the whole app
 * and through `check --responder-check`, whose output is compared with `openssl ocsp`'s own.
 */
import http from 'node:http';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { main } from '../../src/cli.js';
import { loadConfigFile } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import { fakeProbe } from '../server/fakes.js';
import { parseExposition, valueOf } from '../metrics/exposition.js';
import { Lab, TRY_LATER_DER, binaryPath, fakeTimeEnv, freePort, freePorts, openssl, postOcspRequest, requireLabTools, run, spawnManaged, waitFor, type LabCert, type ManagedProcess } from './lab/index.js';

const gate = requireLabTools(['openssl', 'faketime']);
const DAY_MS = 86_400_000;

describe.skipIf(gate.skip)('responder_checks against openssl ocsp', () => {
  let lab: Lab;
  let app: App;
  let configFile: string;
  let expiredResponder: ManagedProcess;
  let expiredSignerNotAfter: Date;
  const closers: Array<() => Promise<void>> = [];
  let leaves: Record<'good' | 'revoked' | 'down' | 'hanging' | 'tryLater' | 'expiredSigner', LabCert>;
  let hangingAccepted = 0;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'responder-checks' });
    // The lab starts with this leaf revoked (keyCompromise) in the CA database.
    await lab.responder.waitForStatus(lab.leaves.revoked, 'revoked');

    // Down: a port nothing listens on. Hanging: accepts, reads, never answers.
    const downPort = await freePort();
    const hanging = net.createServer((socket) => {
      hangingAccepted += 1;
      socket.on('data', () => {});
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => hanging.close(() => resolve())));
    const hangingPort = (hanging.address() as net.AddressInfo).port;
    const sockets = new Set<net.Socket>();
    hanging.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
    closers.push(async () => sockets.forEach((s) => s.destroy()));
    // tryLater (RFC 6960 §4.2.1: "try again later"), what an overloaded or HSM-less responder says.
    const tryLater = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(TRY_LATER_DER));
    });
    await new Promise<void>((resolve) => tryLater.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => tryLater.close(() => resolve())));
    const tryLaterPort = (tryLater.address() as net.AddressInfo).port;

    // A delegated responder certificate (id-kp-OCSPSigning, issued by the intermediate) valid 10 to 8 days ago.
    const work = path.join(lab.dir, 'expired-responder');
    await run('mkdir', ['-p', work]);
    const key = path.join(work, 'responder.key');
    const csr = path.join(work, 'responder.csr');
    const ext = path.join(work, 'ext.cnf');
    const cert = path.join(work, 'responder.crt');
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    await openssl(['req', '-new', '-key', key, '-subj', '/O=OCSP Lab/CN=Expired OCSP Responder', '-out', csr]);
    await writeFile(ext, '[ext]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = OCSPSigning\n');
    const issuedAt = new Date(Date.now() - 10 * DAY_MS).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
    await run(binaryPath('openssl'), ['x509', '-req', '-in', csr, '-CA', lab.pki.intermediate.certPath,
      '-CAkey', lab.pki.intermediate.keyPath, '-set_serial', '0x5e1f', '-days', '2', '-extfile', ext, '-extensions', 'ext', '-out', cert], { env: fakeTimeEnv(`@${issuedAt}`) });
    const notAfterLine = (await openssl(['x509', '-in', cert, '-noout', '-enddate'])).stdout.toString('utf8').trim();
    expiredSignerNotAfter = new Date(notAfterLine.replace(/^notAfter=/, ''));
    expect(expiredSignerNotAfter.getTime()).toBeLessThan(Date.now() - 7 * DAY_MS);
    const [expiredPort] = await freePorts(1);
    expiredResponder = spawnManaged({
      name: 'openssl-ocsp-expired-signer',
      command: binaryPath('openssl'),
      args: ['ocsp', '-index', lab.pki.indexPath, '-port', String(expiredPort), '-rsigner', cert, '-rkey', key, '-CA', lab.pki.intermediate.certPath, '-nmin', '60', '-timeout', '2'],
      cwd: work,
    });
    closers.push(() => expiredResponder.stop());
    const probeRequest = await lab.pki.ocspRequest(lab.leaves.ecdsa);
    await waitFor(async () => (await postOcspRequest(`http://127.0.0.1:${expiredPort}`, probeRequest, 1000).catch(() => null)) !== null, 10_000, { what: 'the expired-signer responder' });

    // Each non-lab responder gets its own leaf and module (responder_url): the lab's AIA URL is the live responder.
    const leaf = (name: string) => lab.issueLeaf({ name });
    leaves = {
      good: lab.leaves.ecdsa,
      revoked: lab.leaves.revoked,
      down: await leaf('rc-down'),
      hanging: await leaf('rc-hanging'),
      tryLater: await leaf('rc-trylater'),
      expiredSigner: await leaf('rc-expired-signer'),
    };
    const modules = {
      down: `http://127.0.0.1:${downPort}/`,
      hanging: `http://127.0.0.1:${hangingPort}/`,
      tryLater: `http://127.0.0.1:${tryLaterPort}/`,
      expiredSigner: `http://127.0.0.1:${expiredPort}/`,
    };
    configFile = path.join(lab.dir, 'exporter.yml');
    await writeFile(
      configFile,
      [
        'global:',
        "  responder_allowlist: ['127.0.0.0/8']",
        'modules:',
        '  default:',
        '    timeout: 2s',
        ...Object.entries(modules).flatMap(([name, url]) => [`  ${name}:`, `    responder_url: ${url}`, `    timeout: ${name === 'hanging' ? '1500ms' : '2s'}`]),
        'responder_checks:',
        // The chain file: leaf then intermediate, so the issuer comes from the bundle.
        ...Object.entries(leaves).map(([name, cert]) => `  - certificate: ${path.relative(lab.dir, cert.chainPath)}\n    labels: { case: ${name} }${name in modules ? `\n    module: ${name}` : ''}`),
        '',
      ].join('\n'),
    );
    const store = new ConfigStore(loadConfigFile(configFile), () => loadConfigFile(configFile));
    app = buildApp({ store, probe: fakeProbe().probe, logLevel: 'warn', processMetrics: false });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await lab?.stop();
  });

  const id = (name: keyof typeof leaves) => ({ certificate: leaves[name].chainPath, case: name });

  it('one scrape: up and good, revoked with time and reason, down, hanging (bounded), tryLater, expired signer', async () => {
    const started = Date.now();
    const res = await app.server.inject('/metrics');
    const elapsedMs = Date.now() - started;
    expect(res.statusCode).toBe(200);
    console.info(`responder_checks scrape of 6 certificates: ${elapsedMs} ms`);
    // The hanging responder costs its module's 1.5 s timeout, not more.
    expect(elapsedMs).toBeGreaterThanOrEqual(1400);
    expect(elapsedMs).toBeLessThan(4000);
    const m = parseExposition(res.body);

    expect(valueOf(m, 'ocsp_responder_up', id('good'))).toBe(1);
    expect(valueOf(m, 'ocsp_responder_cert_status', { ...id('good'), status: 'good' })).toBe(1);
    expect(valueOf(m, 'ocsp_cert_revoked', id('good'))).toBe(0);
    expect(valueOf(m, 'ocsp_responder_signer_not_after_timestamp_seconds', id('good'))).toBeGreaterThan(Date.now() / 1000);
    expect(valueOf(m, 'ocsp_responder_seconds_until_next_update', id('good'))).toBeGreaterThan(23 * 3600);

    expect(valueOf(m, 'ocsp_responder_up', id('revoked'))).toBe(1);
    expect(valueOf(m, 'ocsp_cert_revoked', id('revoked'))).toBe(1);
    const revokedAt = valueOf(m, 'ocsp_cert_revocation_timestamp_seconds', id('revoked'))!;
    const { stdout } = await openssl(['ocsp', '-issuer', lab.pki.intermediate.certPath, '-cert', leaves.revoked.certPath, '-url', lab.responder.url, '-CAfile', lab.pki.root.certPath]);
    const opensslText = stdout.toString('utf8');
    expect(opensslText).toMatch(/Reason: keyCompromise/);
    const opensslRevoked = new Date(/Revocation Time: (.+)/.exec(opensslText)![1]!).getTime() / 1000;
    expect(revokedAt).toBe(opensslRevoked);

    expect(valueOf(m, 'ocsp_responder_up', id('down'))).toBe(0);
    expect(valueOf(m, 'ocsp_responder_problem', { ...id('down'), problem: 'connect' })).toBe(1);

    expect(valueOf(m, 'ocsp_responder_up', id('hanging'))).toBe(0);
    expect(valueOf(m, 'ocsp_responder_problem', { ...id('hanging'), problem: 'timeout' })).toBe(1);
    expect(hangingAccepted).toBeGreaterThanOrEqual(1);

    expect(valueOf(m, 'ocsp_responder_up', id('tryLater'))).toBe(0);
    expect(valueOf(m, 'ocsp_responder_response_status', { ...id('tryLater'), status: 'tryLater' })).toBe(1);
    expect(valueOf(m, 'ocsp_responder_problem', { ...id('tryLater'), problem: 'not_successful' })).toBe(1);

    expect(valueOf(m, 'ocsp_responder_up', id('expiredSigner'))).toBe(0);
    expect(valueOf(m, 'ocsp_responder_problem', { ...id('expiredSigner'), problem: 'signer_expired' })).toBe(1);
    expect(valueOf(m, 'ocsp_responder_signer_not_after_timestamp_seconds', id('expiredSigner'))).toBe(expiredSignerNotAfter.getTime() / 1000);

    for (const name of Object.keys(leaves) as Array<keyof typeof leaves>) {
      expect(valueOf(m, 'ocsp_responder_check_certificate_readable', id(name))).toBe(1);
    }
    expect(res.body.match(/^# TYPE ocsp_responder_up /gm)).toHaveLength(1);
  }, 30_000);

  it('the next scrape reuses the verified answers (cache hit) and asks the failing ones again only after their short failure TTL', async () => {
    const m = parseExposition((await app.server.inject('/metrics')).body);
    expect(valueOf(m, 'ocsp_responder_cache_hit', id('good'))).toBe(1);
    expect(valueOf(m, 'ocsp_responder_cache_hit', id('revoked'))).toBe(1);
    expect(valueOf(m, 'ocsp_responder_up', id('good'))).toBe(1);
  }, 30_000);

  it('check --responder-check prints the answer, its verdict and the exit code; --json has the same facts', async () => {
    const out: string[] = [];
    const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(t) };
    const good = await main(['check', '--responder-check', leaves.good.chainPath, '--config.file', configFile], io);
    expect(good).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/Responder:\s+UP: http:\/\/127\.0\.0\.1:\d+ \(AIA; (GET|POST)/);
    expect(text).toMatch(/Status:\s+GOOD/);
    expect(text).toMatch(/Signed by:\s+delegated responder/);

    out.length = 0;
    const revoked = await main(['check', '--responder-check', leaves.revoked.chainPath, '--config.file', configFile, '--json'], io);
    expect(revoked).toBe(1);
    const [report] = JSON.parse(out.join('')) as Array<{ responder: { up: boolean; answer: { certStatus: string; revocationReason: string } } }>;
    expect(report!.responder.up).toBe(true);
    expect(report!.responder.answer).toMatchObject({ certStatus: 'revoked', revocationReason: 'keyCompromise' });

    out.length = 0;
    const expired = await main(['check', '--responder-check', leaves.expiredSigner.chainPath, '--module', 'expiredSigner', '--config.file', configFile], io);
    expect(expired).toBe(1);
    expect(out.join('')).toMatch(/Responder:\s+DOWN or invalid/);
    expect(out.join('')).toContain('- signer_expired: ');
  }, 30_000);
});
