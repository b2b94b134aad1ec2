/**
 * The probe against hostile and broken servers (test/hardening/hostile.ts): each ends within its
 * timeout with the right failure reason, or succeeds with the staple judged; no connection is left
 * open; memory stays bounded over hundreds of such probes; and the exporter itself, a real
 * `buildApp` on a real port, keeps answering `/metrics` and `/-/healthy` with good targets in the
 * same sweep unaffected.
 */
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { createOcspResponse, type Issued } from '../../src/pki/index.js';
import { nested } from '../fuzz/harness.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { find, parseExposition, valueOf } from '../metrics/exposition.js';
import { FakeStore, makeConfig, target } from '../server/fakes.js';
import * as H from './hostile.js';
import { describeGrowth, settledMemory } from './memory.js';
import { DEFAULT_ENGINE } from '../../src/probe/engines.js';

/** What each TLS engine says about the same broken server (the suite runs with either as the default). */
interface EngineWords {
  node: RegExp;
  native: RegExp;
}

/**
 * A TLS failure reads in Node's words whichever engine is the default: the native engine hands a
 * failed handshake over to Node's (src/probe/engines.ts), and its own words are kept in the hand-over.
 */
function expectTlsWords(result: ProbeResult, words: EngineWords): void {
  expect(result.error).toMatch(words.node);
  if (DEFAULT_ENGINE === 'native') expect(result.handshake).toMatchObject({ engine: 'node', fallback: { reason: 'failed', why: expect.stringMatching(words.native) } });
  else expect(result.handshake).toEqual({ engine: 'node', fallback: null });
}

const TIMEOUT_S = 1.5;
/** Timers fire late on a loaded 2-core machine; a probe must still end close to its deadline. */
const SLACK_MS = 700;

const hostileModule: ModuleConfig = { ...defaultModule('hostile'), timeoutSeconds: TIMEOUT_S, serverName: 'localhost' };
const tls12: ModuleConfig = { ...hostileModule, name: 'tls12', maxVersion: 'TLSv1.2' };
const tls13: ModuleConfig = { ...hostileModule, name: 'tls13', minVersion: 'TLSv1.3' };

let pki: TestPki;
const port: Record<string, number> = {};
const servers: Record<string, H.Hostile> = {};
let hugeExtensionLeaf: Issued;
let closedPort: number;

async function add(name: string, server: Promise<H.Hostile>): Promise<void> {
  servers[name] = await server;
  port[name] = servers[name].port;
}

beforeAll(async () => {
  pki = await makeTestPki();
  const leaf = pki.leafEcdsa;
  const goodStaple = await stapleFor(pki, leaf);
  const serve = (l: Issued, staple: H.TlsServerOptions['staple']) => H.stapleServer({ key: l.keyPem, cert: H.chainPem(l), staple });
  const [deepLeaf, sansLeaf] = await Promise.all([H.deepChainLeaf(100, pki.root), H.manySansLeaf(4000, pki.intermediate)]);
  hugeExtensionLeaf = await H.withHugeExtension(leaf, 80_000);
  const oversizedLeaf = await H.withHugeExtension(leaf, 200_000);
  // A parseable staple with a 60 KB embedded certificate, different bytes every handshake: what a
  // cache keyed by response could hoard.
  const bigResponder = await H.withHugeExtension(pki.responder, 60_000);
  const bigStaple = () =>
    createOcspResponse({
      signer: pki.responder,
      embedCertificates: [bigResponder],
      nonce: randomBytes(16),
      singles: [{ leaf, issuer: pki.intermediate, status: 'good', thisUpdate: new Date(Date.now() - 3_600_000), nextUpdate: new Date(Date.now() + 86_400_000) }],
    });

  await Promise.all([
    add('good', serve(leaf, goodStaple)),
    add('good2', serve(pki.leafRsa, await stapleFor(pki, pki.leafRsa))),
    add('silent', H.silentServer()),
    add('hangUp', H.hangUpServer()),
    add('garbage', H.garbageServer()),
    add('firehose', H.firehoseServer()),
    add('junk1MiB', serve(leaf, () => randomBytes(1 << 20))),
    add('junk60KiB', serve(leaf, () => randomBytes(60_000))),
    add('nested', serve(leaf, nested(12_000))),
    add('chain100', serve(deepLeaf, await stapleFor(pki, deepLeaf))),
    add('sans4000', serve(sansLeaf, await stapleFor(pki, sansLeaf))),
    add('extension80k', serve(hugeExtensionLeaf, await stapleFor(pki, hugeExtensionLeaf))),
    add('extension200k', serve(oversizedLeaf, goodStaple)),
    add('bigEmbedded', serve(leaf, bigStaple)),
  ]);
  await add('trickle', H.trickleProxy(port.good!, 1000));
  // A port nobody listens on: bound and released again.
  const probePort = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probePort.once('listening', resolve));
  closedPort = (probePort.address() as net.AddressInfo).port;
  await new Promise((resolve) => probePort.close(resolve));
}, 60_000);

afterAll(async () => {
  await H.closeAll();
});

function probeOf(name: string, module: ModuleConfig = hostileModule): Promise<ProbeResult[]> {
  const p = name === 'closed' ? closedPort : port[name]!;
  return probeTarget({ target: `127.0.0.1:${p}`, host: '127.0.0.1', port: p, module: module.name, serverName: null, labels: {} }, module, Date.now() + module.timeoutSeconds * 1000);
}

async function timed(name: string, module?: ModuleConfig): Promise<{ result: ProbeResult; ms: number }> {
  const started = Date.now();
  const results = await probeOf(name, module);
  expect(results).toHaveLength(1);
  return { result: results[0]!, ms: Date.now() - started };
}

describe('each hostile server ends the probe in time with the right outcome', () => {
  it('control: the well-behaved server gives a valid staple', async () => {
    const { result } = await timed('good');
    expect(result).toMatchObject({ success: true, failureReason: null, staple: { present: true, verdict: { valid: true } } });
  });

  it.each([
    ['accepts and never speaks', 'silent', 'timeout', /TLS handshake timed out/],
    ['trickles the handshake one byte a second', 'trickle', 'timeout', /TLS handshake timed out/],
    ['closes mid-handshake', 'hangUp', 'tls', /ECONNRESET|disconnected|closed/],
    ['sends an HTTP error page instead of TLS', 'garbage', 'tls', { node: /wrong version number/, native: /did not answer with TLS \(first bytes "HTTP\/1\.1/ }],
    ['floods junk without end', 'firehose', 'tls', { node: /wrong version number/, native: /did not answer with TLS/ }],
    ['refuses the connection', 'closed', 'connect', /ECONNREFUSED/],
    ['presents a 200 KB certificate (over OpenSSL’s 100 KiB message limit)', 'extension200k', 'tls', { node: /excessive message size/, native: /handshake message \(type 11\) of \d+ bytes \(at most 131072 allowed\)/ }],
  ])('%s → %s', async (_what, name, reason, message) => {
    const { result, ms } = await timed(name);
    expect(result).toMatchObject({ success: false, failureReason: reason, staple: null });
    if (message instanceof RegExp) expect(result.error).toMatch(message);
    else expectTlsWords(result, message);
    expect(ms).toBeLessThan(TIMEOUT_S * 1000 + SLACK_MS);
    if (reason === 'timeout') expect(ms).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 50);
  });

  it('staples 1 MiB of junk → the TLS stack refuses it (TLS 1.2: message too large; TLS 1.3: the server cannot send it)', async () => {
    const over12 = await timed('junk1MiB', tls12);
    expect(over12.result).toMatchObject({ success: false, failureReason: 'tls' });
    expectTlsWords(over12.result, { node: /excessive message size/, native: /handshake message \(type 22\) of \d+ bytes/ });
    const over13 = await timed('junk1MiB', tls13);
    expect(over13.result).toMatchObject({ success: false, failureReason: 'tls' });
    expectTlsWords(over13.result, { node: /alert internal error/, native: /alert internal_error \(80\)/ });
    expect(Math.max(over12.ms, over13.ms)).toBeLessThan(TIMEOUT_S * 1000 + SLACK_MS);
  });

  it('staples 60 KB of junk → success, staple unparseable', async () => {
    const { result } = await timed('junk60KiB');
    expect(result).toMatchObject({ success: true, staple: { present: true, sizeBytes: 60_000, verdict: { valid: false, problems: ['unparseable'] } } });
  });

  it('staples 12,000 levels of nested SEQUENCEs → success, staple unparseable', async () => {
    const { result } = await timed('nested');
    expect(result.staple?.verdict?.problems).toEqual(['unparseable']);
    expect(result.staple?.verdict?.parseError?.code).toBe('ERR_OCSP_MALFORMED');
  });

  it('presents a 100-certificate chain → success, chain walk capped, staple still verified against the presented issuer', async () => {
    const { result } = await timed('chain100');
    expect(result.success).toBe(true);
    expect(result.chain?.length).toBe(32);
    expect(result.staple?.issuerSource).toBe('chain');
    expect(result.staple?.verdict?.valid).toBe(true);
  });

  it('presents a certificate with 4,000 SANs → success, leaf read, staple valid', async () => {
    const { result } = await timed('sans4000');
    expect(result.leaf?.subject).toBe('CN=localhost');
    expect(result.staple?.verdict?.valid).toBe(true);
  });

  it('presents an 80 KB certificate (a huge extension) → success, leaf refused as too large, staple still reported', async () => {
    const { result } = await timed('extension80k');
    expect(hugeExtensionLeaf.der.length).toBeGreaterThan(65_536);
    expect(result).toMatchObject({ success: true, leaf: null, staple: { present: true } });
    expect(result.error).toMatch(/^unreadable leaf certificate: certificate is \d+ bytes, more than the 65536-byte limit/);
    expect(result.staple?.verdict?.problems).toContain('issuer_unknown');
  });

  it('leaves no connection open at any hostile server', async () => {
    const deadline = Date.now() + 2000;
    const open = () => Object.entries(servers).filter(([, s]) => s.open > 0).map(([name, s]) => `${name}:${s.open}`);
    while (open().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(open()).toEqual([]);
  });
});

describe('memory stays bounded', () => {
  it('over 320 probes of the fast hostile servers, fresh junk and fresh 60 KB-certificate staples each time', async () => {
    const names = ['junk60KiB', 'nested', 'bigEmbedded', 'sans4000', 'extension80k', 'junk60KiB', 'hangUp', 'garbage', 'firehose', 'junk1MiB', 'good', 'extension200k'];
    const round = async (n: number) => {
      for (let i = 0; i < n; i += 8) await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((j) => probeOf(names[(i + j) % names.length]!)));
    };
    await round(48); // warm-up: TLS contexts, caches' first entries, JIT
    const before = await settledMemory();
    await round(320);
    const after = await settledMemory();
    const growth = after.retainedMiB - before.retainedMiB;
    console.info(`320 hostile probes: ${describeGrowth(before, after)}`);
    // 320 probes, most with 60 KB or more of fresh bytes: ~20 MiB if anything kept them.
    expect(growth).toBeLessThan(12);
  }, 60_000);
});

describe('the exporter serving a sweep with hostile targets in it', () => {
  let app: App;
  let base: string;
  const hostileNames = ['silent', 'trickle', 'hangUp', 'garbage', 'firehose', 'junk60KiB', 'nested', 'chain100', 'extension80k', 'extension200k'];

  beforeAll(async () => {
    const targets = [...['good', 'good2'], ...hostileNames, 'closed'].map((name) =>
      target(`127.0.0.1:${name === 'closed' ? closedPort : port[name]}`, { module: 'hostile', serverName: 'localhost', labels: { kind: name } }),
    );
    const config = makeConfig(targets, { concurrency: 4, minProbeIntervalSeconds: 0 }, [hostileModule]);
    app = buildApp({ store: new FakeStore(config), logLevel: 'silent', processMetrics: false });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
  });

  function fetchText(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; ms: number }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      get(`${base}${path}`, { headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, ms: Date.now() - started }));
      }).on('error', reject);
    });
  }

  it('answers /metrics within the scrape budget, good targets unaffected, each hostile one with its reason; /-/healthy answers meanwhile', async () => {
    let scrapeDone = false;
    const scrape = fetchText('/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '5' }).finally(() => (scrapeDone = true));
    // While the sweep waits on the silent and trickling targets (1.5 s each):
    await new Promise((resolve) => setTimeout(resolve, 200));
    const healthy = await fetchText('/-/healthy');
    expect(healthy.status).toBe(200);
    expect(scrapeDone, '/-/healthy answered while the sweep was still running').toBe(false);
    expect(healthy.ms).toBeLessThan(1000);
    const second = fetchText('/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '5' });

    const [first, joined] = await Promise.all([scrape, second]);
    expect(first.status).toBe(200);
    expect(joined.status).toBe(200);
    // Two timeouts of 1.5 s each under concurrency 4, plus the fast ones: well inside 4.5 s.
    expect(first.ms).toBeLessThan(4500);
    expect(app.sweeper.lastSweep?.probed).toBe(hostileNames.length + 3);

    const metrics = parseExposition(first.body);
    for (const kind of ['good', 'good2']) {
      expect(valueOf(metrics, 'ocsp_probe_success', { kind }), kind).toBe(1);
      expect(valueOf(metrics, 'ocsp_staple_valid', { kind }), kind).toBe(1);
    }
    const reasonOf = (kind: string) => find(metrics, 'ocsp_probe_failure', { kind }).find((s) => s.value === 1)?.labels.reason ?? null;
    expect(Object.fromEntries([...hostileNames, 'closed'].map((kind) => [kind, reasonOf(kind)]))).toEqual({
      silent: 'timeout',
      trickle: 'timeout',
      hangUp: 'tls',
      garbage: 'tls',
      firehose: 'tls',
      junk60KiB: null,
      nested: null,
      chain100: null,
      extension80k: null,
      extension200k: 'tls',
      closed: 'connect',
    });
    expect(valueOf(metrics, 'ocsp_staple_problem', { kind: 'junk60KiB', problem: 'unparseable' })).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_problem', { kind: 'nested', problem: 'unparseable' })).toBe(1);
    expect(valueOf(metrics, 'ocsp_staple_valid', { kind: 'chain100' })).toBe(1);
  });

  it('keeps answering scrape after scrape', async () => {
    for (let i = 0; i < 2; i++) {
      const { status, body } = await fetchText('/metrics', { 'X-Prometheus-Scrape-Timeout-Seconds': '5' });
      expect(status).toBe(200);
      expect(valueOf(parseExposition(body), 'ocsp_probe_success', { kind: 'good' })).toBe(1);
    }
  });
});
