/**
 * The probe's own log against real in-process servers on 127.0.0.1: a TLS server stapling a good
 * answer (every step, the presented chain, the staple's bytes, the verdict in `check`'s words), an
 * OCSP responder asked directly, a refused port, an SMTP STARTTLS server, a CONNECT proxy, a
 * hostile server whose certificate subject carries control characters and ANSI escapes (escaped in
 * the log), and one presenting a chain of huge names (the text stays within its bound).
 */
import { once } from 'node:events';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { parseProxyUrl } from '../../src/net/proxy.js';
import { chainPem, createCertificate, type Issued } from '../../src/pki/index.js';
import { MAX_LOG_TEXT_CHARS, probeLogText } from '../../src/probe/log.js';
import { probeTarget } from '../../src/probe/probe.js';
import { MAX_RECORDED_STEPS, MAX_STEP_CHARS, StepRecorder } from '../../src/probe/record.js';
import type { LookupFn } from '../../src/net/resolve.js';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.js';
import { sharedAnswerCache } from '../../src/responder/index.js';
import { escapeForTerminal } from '../../src/util/text.js';
import { certificateFacts } from '../../src/x509/certificate.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { LOOPBACK_ALLOWED } from '../responder/support.js';
import { startStarttlsServer, type StarttlsTestServer } from '../starttls/support.js';
import * as H from '../hardening/hostile.js';

/** Newlines, a fake report line, an OSC title sequence with BEL, a CSI colour, CR, bidi override, U+2028, C1 CSI. */
const EVIL_CN = 'evil\nOutcome: handshake completed\x1b]0;title\x07\x1b[31mred\r\u202e\u2028\x9b';
/** Raw controls other than the log's own newlines; none may appear in it. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let pki: TestPki;
const closers: (() => Promise<void>)[] = [];

/** A TLS server on 127.0.0.1 presenting `certPem` and stapling `staple` (none when null). */
async function tlsServer(keyPem: string, certPem: string, staple: Uint8Array | null): Promise<number> {
  return (await H.stapleServer({ key: keyPem, cert: certPem, staple })).port;
}

const targetAt = (port: number): ProbeTarget => ({ target: `127.0.0.1:${port}`, host: '127.0.0.1', port, module: 'm', serverName: 'localhost', labels: {} });
const moduleWith = (extra: Partial<ModuleConfig> = {}): ModuleConfig => ({ ...defaultModule('m'), timeoutSeconds: 3, caPem: pki.root.pem, ...extra });

async function probeOne(port: number, module: ModuleConfig): Promise<ProbeResult> {
  const [result] = await probeTarget(targetAt(port), module, Date.now() + 3000);
  return result!;
}

let goodPort = 0;
let goodStaple: Uint8Array;

beforeAll(async () => {
  pki = await makeTestPki();
  goodStaple = await stapleFor(pki, pki.leafEcdsa);
  goodPort = await tlsServer(pki.leafEcdsa.keyPem, chainPem(pki.leafEcdsa), goodStaple);
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await H.closeAll();
});

describe('the probe log', () => {
  it('shows every step of a good probe, the presented chain, the staple bytes and the verdict as check words it', async () => {
    const result = await probeOne(goodPort, moduleWith());
    expect(result.success, result.error ?? '').toBe(true);
    const [leaf, intermediate, root] = [pki.leafEcdsa, pki.intermediate, pki.root].map((c) => certificateFacts(c.der));
    const seconds = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(result.presented).toEqual([
      { subject: leaf!.subject, issuer: intermediate!.subject, serial: leaf!.serialNumber, notBefore: seconds(leaf!.notBefore), notAfter: seconds(leaf!.notAfter) },
      { subject: intermediate!.subject, issuer: root!.subject, serial: intermediate!.serialNumber, notBefore: seconds(intermediate!.notBefore), notAfter: seconds(intermediate!.notAfter) },
    ]);

    const text = probeLogText(result);
    const hexStart = Buffer.from(goodStaple.subarray(0, 32)).toString('hex');
    const expectedInOrder = [
      `Probe of 127.0.0.1:${goodPort} (address 127.0.0.1:${goodPort}, module m) started at `,
      `TCP connected to 127.0.0.1:${goodPort} from 127.0.0.1:`,
      'TLS handshake done',
      `staple received: ${goodStaple.length} bytes, starting ${hexStart}…`,
      'chain and staple judged',
      'Outcome: handshake completed (ocsp_probe_duration_seconds ',
      'TLS: TLSv1.3, cipher TLS_',
      'SNI localhost',
      'Presented chain: 2 certificate(s)',
      `[0] subject   ${leaf!.subject}`,
      `issuer    ${intermediate!.subject}`,
      `[1] subject   ${intermediate!.subject}`,
      'Verdict:',
      'Chain:        verified (2 certificates)',
      'Must-Staple:  no',
      `Staple:       VALID, ${goodStaple.length} bytes, issuer from chain`,
      'Status:       GOOD',
      'Next update:',
    ];
    let from = 0;
    for (const expected of expectedInOrder) {
      const at = text.indexOf(expected, from);
      expect(at, `"${expected}" after offset ${from} in:\n${text}`).toBeGreaterThanOrEqual(from);
      from = at + expected.length;
    }
    // Each recorded step carries its time since the probe started.
    expect(text).toMatch(/^\+\d+\.\d{3}s TLS handshake done/m);
  });

  it('a name: its resolution and each address probed (probe_all_addresses), or the failure to resolve', async () => {
    const lookup: LookupFn = async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '127.0.0.2', family: 4 },
    ];
    const named: ProbeTarget = { ...targetAt(goodPort), target: `web.example.test:${goodPort}`, host: 'web.example.test' };
    const results = await probeTarget(named, moduleWith({ probeAllAddresses: true }), Date.now() + 3000, { lookup });
    expect(results.map((r) => r.address)).toEqual([`127.0.0.1:${goodPort}`, `127.0.0.2:${goodPort}`]);
    for (const result of results) {
      const text = probeLogText(result);
      expect(text).toContain('resolved web.example.test (ip_protocol any) to 127.0.0.1, 127.0.0.2 (probe_all_addresses: each is probed)');
      expect(text).toContain(`(address ${result.address}, module m)`);
    }
    const unresolved = await probeTarget(named, moduleWith(), Date.now() + 3000, { lookup: async () => [] });
    const text = probeLogText(unresolved[0]!);
    expect(text).toContain('resolving web.example.test (ip_protocol any) failed');
    expect(text).toMatch(/Outcome: probe failed \(dns\)/);
  });

  it('a refused connection: the steps up to the failure and the reason', async () => {
    const refused = tls.createServer();
    refused.listen(0, '127.0.0.1');
    await once(refused, 'listening');
    const port = (refused.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => refused.close(() => resolve()));
    const result = await probeOne(port, moduleWith());
    expect(result.failureReason).toBe('connect');
    const text = probeLogText(result);
    expect(text).toContain(`(address 127.0.0.1:${port}, module m)`);
    expect(text).toMatch(/Outcome: probe failed \(connect\) after \d+\.\d{3} s: .*ECONNREFUSED/);
    expect(text).not.toContain('TLS handshake done');
  });

  it('the responder query, step by step', async () => {
    const answer = await stapleFor(pki, pki.leafEcdsa, { status: 'revoked' });
    const responder = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(Buffer.from(answer)));
    });
    responder.listen(0, '127.0.0.1');
    await once(responder, 'listening');
    closers.push(() => new Promise((resolve) => responder.close(() => resolve())));
    const responderUrl = `http://127.0.0.1:${(responder.address() as net.AddressInfo).port}/`;
    sharedAnswerCache.clear();
    const result = await probeOne(goodPort, moduleWith({ queryResponder: true, responderUrl, responderDestinations: LOOPBACK_ALLOWED }));
    expect(result.responder?.up, result.responder?.error ?? '').toBe(true);
    const text = probeLogText(result);
    expect(text).toContain('responder queries done');
    expect(text).toContain('Responder query (query_responder):');
    expect(text).toContain(`URL        ${responderUrl} (from responder_url)`);
    expect(text).toMatch(/request {4}(GET|POST) \(answer from network at \S+ in \d+\.\d{3} s\)/);
    expect(text).toContain('answer     HTTP 200');
    expect(text).toContain('verdict    up, revoked');
    // check's own line about the disagreement, in its words.
    expect(text).toContain("the staple says good but the CA's responder says revoked");
  });

  it('STARTTLS: the plaintext connection, the upgrade, then the handshake', async () => {
    let smtp: StarttlsTestServer | undefined;
    smtp = await startStarttlsServer({ keyPem: pki.leafEcdsa.keyPem, certPem: chainPem(pki.leafEcdsa), staple: goodStaple }, async (peer) => {
      peer.write('220 mail.test ESMTP ready\r\n');
      if (!(await peer.readLine())?.startsWith('EHLO ')) return;
      peer.write('250-mail.test\r\n250 STARTTLS\r\n');
      if ((await peer.readLine()) !== 'STARTTLS') return;
      peer.write('220 2.0.0 Ready to start TLS\r\n');
      peer.upgrade();
    });
    closers.push(() => smtp!.close());
    const result = await probeOne(smtp.port, moduleWith({ starttls: 'smtp' }));
    expect(result.success, result.error ?? '').toBe(true);
    const text = probeLogText(result);
    const steps = [`connecting to 127.0.0.1:${smtp.port}, STARTTLS smtp first`, `TCP connected to 127.0.0.1:${smtp.port} from 127.0.0.1:`, 'STARTTLS (smtp) done', 'TLS handshake done'];
    let from = 0;
    for (const step of steps) {
      const at = text.indexOf(step, from);
      expect(at, `"${step}" in:\n${text}`).toBeGreaterThanOrEqual(from);
      from = at;
    }
  });

  it('through a proxy: the tunnel and the local address it was opened from', async () => {
    let proxy: TestProxy | undefined;
    proxy = await startTestProxy();
    closers.push(() => proxy!.close());
    const result = await probeOne(goodPort, moduleWith({ proxy: parseProxyUrl(proxy.url) }));
    expect(result.success, result.error ?? '').toBe(true);
    const text = probeLogText(result);
    expect(text).toContain(`connecting to 127.0.0.1:${goodPort} through the proxy ${proxy.url}`);
    expect(text).toMatch(new RegExp(`tunnel open: proxy ${proxy.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/? \\(connected from 127\\.0\\.0\\.1:\\d+\\) answered CONNECT 127\\.0\\.0\\.1:${goodPort} with 2xx`));
    // Inside the tunnel there is no TCP connect of its own.
    expect(text).not.toContain('TCP connected');
  });

  it("escapes a hostile server's certificate subject: no raw control character, no forged line", async () => {
    const evil = await createCertificate({
      commonName: EVIL_CN,
      issuer: pki.intermediate,
      keys: await cachedKeys('ec-p256', 'log-evil-leaf'),
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      extendedKeyUsage: ['serverAuth'],
    });
    const port = await tlsServer(evil.keyPem, evil.pem + pki.intermediate.pem, await stapleFor(pki, evil));
    const result = await probeOne(port, moduleWith());
    expect(result.success, result.error ?? '').toBe(true);
    expect(result.presented?.[0]?.subject).toContain('\x1b'); // the data keeps what was sent…
    const text = probeLogText(result);
    expect(text).not.toMatch(RAW_CONTROL); // …the log shows it escaped
    expect(text).toContain(escapeForTerminal(result.presented![0]!.subject));
    expect(text).toContain('\\x1b[31mred');
    // The forged outcome exists only inside the escaped subject, never as a line of its own.
    expect(text.split('\n').filter((line) => line.startsWith('Outcome:'))).toEqual([expect.stringMatching(/^Outcome: handshake completed \(ocsp_probe_duration_seconds \d/)]);
  });
});

describe('the probe log is bounded', () => {
  it(`a chain of huge names stays within ${MAX_LOG_TEXT_CHARS} characters and says it was cut`, async () => {
    // 12 CAs with 3,000-character names: subjects and issuers alone are ~72,000 characters.
    let issuer: Issued = pki.root;
    const chain: Issued[] = [];
    for (let i = 0; i < 12; i++) {
      issuer = await createCertificate({ commonName: `CA ${i} ${'x'.repeat(3000)}`, issuer, isCA: true, keys: await cachedKeys('ec-p256', 'log-huge-ca') });
      chain.unshift(issuer);
    }
    const leaf = await createCertificate({
      commonName: 'localhost',
      issuer,
      keys: await cachedKeys('ec-p256', 'log-huge-leaf'),
      dnsNames: ['localhost'],
      extendedKeyUsage: ['serverAuth'],
    });
    const port = await tlsServer(leaf.keyPem, [leaf, ...chain].map((c) => c.pem).join(''), null);
    const result = await probeOne(port, moduleWith());
    expect(result.success, result.error ?? '').toBe(true);
    expect(result.presented).toHaveLength(13);
    const text = probeLogText(result);
    expect(text.length).toBeLessThanOrEqual(MAX_LOG_TEXT_CHARS + 1);
    expect(text).toMatch(/… truncated \(the log is longer than this page shows\)\n$/);
    expect(text).toContain('Presented chain: 13 certificate(s)');
  });

  it(`the recorder keeps at most ${MAX_RECORDED_STEPS} steps of at most ${MAX_STEP_CHARS} characters`, () => {
    const steps = new StepRecorder(Date.now());
    for (let i = 0; i < MAX_RECORDED_STEPS + 10; i++) steps.add('y'.repeat(MAX_STEP_CHARS * 3));
    expect(steps.lines).toHaveLength(MAX_RECORDED_STEPS);
    expect(steps.lines.every((line) => line.text.length === MAX_STEP_CHARS + 1 && line.text.endsWith('…'))).toBe(true);
    // A fork carries the steps so far without sharing the list.
    const fork = steps.fork();
    expect(fork.lines).toEqual(steps.lines);
    expect(fork.lines).not.toBe(steps.lines);
  });
});
