/**
 * Where responder queries and caIssuers fetches may go (src/responder/destinations.ts): the rules
 * as a table, then against real loopback servers counting the connections they accept (a refused
 * destination must not even connect), and end to end: a certificate whose AIA OCSP URL names the
 * exporter's own listening socket gets `not_allowed`, and the exporter sees no connection.
 */
import { once } from 'node:events';
import type net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import { createCertificate, type Issued } from '../../src/pki/index.js';
import {
  AnswerCache,
  checkResponder,
  destinationRefusal,
  expandListenAddresses,
  type ExchangeOutcome,
  type ResponderDestinations,
} from '../../src/responder/index.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { LOOPBACK_ALLOWED, sendDer, startHttpServer, type TestHttpServer } from './support.js';

const allow = (allowlist: string[] | null, exporterEndpoints: { address: string; port: number }[] = []): ResponderDestinations => ({ allowlist, exporterEndpoints });
const refusal = (host: string, address: string, port: number, destinations: ResponderDestinations) => destinationRefusal(host, address, port, destinations);

describe('destinationRefusal', () => {
  it('unset allowlist: public and private addresses as before; loopback and unspecified refused', () => {
    const unset = allow(null);
    for (const address of ['192.0.2.7', '10.1.2.3', '2001:db8::1']) expect(refusal(address, address, 80, unset), address).toBeNull();
    expect(refusal('ocsp.example.test', '192.0.2.7', 80, unset)).toBeNull();
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '0.0.0.0', '::', '::127.0.0.1']) {
      expect(refusal(address, address, 80, unset), address).toMatch(/is a (loopback|unspecified) address/);
    }
    // A name resolving to loopback (DNS rebinding, or /etc/hosts) is judged by the address it reaches.
    expect(refusal('ocsp.evil.test', '127.0.0.1', 80, unset)).toBe(
      'ocsp.evil.test:80 (127.0.0.1) is a loopback address (127.0.0.0/8), refused unless global.responder_allowlist lists it by address or range',
    );
  });

  it('loopback passes only an address or range entry inside the loopback block, port included', () => {
    for (const broad of [['*'], ['0.0.0.0/0'], ['*:80'], ['localhost'], ['ocsp.lab.test']]) {
      expect(refusal('127.0.0.1', '127.0.0.1', 80, allow(broad)), broad.join()).toMatch(/loopback address/);
    }
    expect(refusal('ocsp.lab.test', '127.0.0.1', 80, allow(['ocsp.lab.test']))).toMatch(/loopback address/);
    expect(refusal('127.0.0.1', '127.0.0.1', 80, allow(['127.0.0.1']))).toBeNull();
    expect(refusal('127.0.0.1', '127.0.0.1', 80, allow(['127.0.0.0/8:80']))).toBeNull();
    expect(refusal('127.0.0.1', '127.0.0.1', 81, allow(['127.0.0.0/8:80']))).toMatch(/loopback address/);
    expect(refusal('ocsp.lab.test', '127.0.0.1', 80, allow(['ocsp.lab.test', '127.0.0.1']))).toBeNull();
    expect(refusal('::1', '::1', 80, allow(['::1']))).toBeNull();
    expect(refusal('::1', '::1', 80, allow(['127.0.0.0/8']))).toMatch(/loopback address \(::1\/128\)/);
  });

  it('set allowlist: the host or the address it resolved to must match an entry', () => {
    const list = allow(['*.example-ca.test:80', '198.51.100.0/24']);
    expect(refusal('ocsp.example-ca.test', '192.0.2.7', 80, list)).toBeNull();
    expect(refusal('ocsp.example-ca.test', '192.0.2.7', 8080, list)).toBe('ocsp.example-ca.test:8080 (192.0.2.7) matches no entry of global.responder_allowlist');
    expect(refusal('ocsp.elsewhere.test', '198.51.100.9', 80, list)).toBeNull(); // by its resolved address
    expect(refusal('ocsp.elsewhere.test', '192.0.2.7', 80, list)).toMatch(/matches no entry/);
    expect(refusal('10.0.0.1', '10.0.0.1', 80, list)).toBe('10.0.0.1:80 matches no entry of global.responder_allowlist');
    // Set but empty: nothing.
    expect(refusal('ocsp.example-ca.test', '192.0.2.7', 80, allow([]))).toMatch(/matches no entry/);
  });

  it("the exporter's own listen socket needs an entry naming exactly its address and port", () => {
    const own = [{ address: '10.0.0.5', port: 9858 }];
    expect(refusal('10.0.0.5', '10.0.0.5', 9858, allow(null, own))).toBe(
      "10.0.0.5:9858 is the exporter's own listen address, refused unless global.responder_allowlist names exactly 10.0.0.5:9858",
    );
    expect(refusal('10.0.0.5', '10.0.0.5', 80, allow(null, own))).toBeNull(); // another service on the host
    for (const broad of [['*'], ['10.0.0.0/8'], ['10.0.0.5'], ['10.0.0.5:*'], ['exporter.internal.test']]) {
      expect(refusal('exporter.internal.test', '10.0.0.5', 9858, allow(broad, own)), broad.join()).toMatch(/own listen address/);
    }
    expect(refusal('10.0.0.5', '10.0.0.5', 9858, allow(['10.0.0.5:9858'], own))).toBeNull();
    // On loopback, listing the loopback lab responders does not open the exporter's own port.
    const local = [{ address: '127.0.0.1', port: 9858 }];
    expect(refusal('127.0.0.1', '127.0.0.1', 9858, allow(['127.0.0.0/8'], local))).toMatch(/own listen address/);
    expect(refusal('127.0.0.1', '127.0.0.1', 9000, allow(['127.0.0.0/8'], local))).toBeNull();
    expect(refusal('::ffff:127.0.0.1', '::ffff:127.0.0.1', 9858, allow(['127.0.0.0/8'], local))).toMatch(/own listen address/);
    expect(refusal('127.0.0.1', '127.0.0.1', 9858, allow(['127.0.0.1:9858'], local))).toBeNull();
  });

  it('expands wildcard listen addresses to the interface addresses (IPv4 only for 0.0.0.0)', () => {
    const interfaces = [
      { address: '127.0.0.1', family: 'IPv4' },
      { address: '10.0.0.5', family: 'IPv4' },
      { address: 'fe80::1%eth0', family: 'IPv6' },
    ];
    expect(expandListenAddresses([{ address: '0.0.0.0', port: 9858 }], interfaces)).toEqual([
      { address: '0.0.0.0', port: 9858 },
      { address: '127.0.0.1', port: 9858 },
      { address: '10.0.0.5', port: 9858 },
    ]);
    expect(expandListenAddresses([{ address: '::', port: 1 }, '/run/exporter.sock'], interfaces).map((e) => e.address)).toEqual(['::', '127.0.0.1', '10.0.0.5', 'fe80::1']);
    expect(expandListenAddresses([{ address: '192.0.2.1', port: 1 }], interfaces)).toEqual([{ address: '192.0.2.1', port: 1 }]);
  });
});

let pki: TestPki;
const servers: TestHttpServer[] = [];
beforeAll(async () => {
  pki = await makeTestPki();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A leaf like the fixture's, its AIA OCSP URLs chosen by the test (as a hostile server's certificate would be). */
function leafNaming(ocspUrls: string[]): Promise<Issued> {
  return createCertificate({ commonName: 'localhost', issuer: pki.intermediate, keys: pki.leafEcdsa.keys, dnsNames: ['localhost'], ocspUrls });
}

async function goodResponderFor(leaf: () => Issued): Promise<TestHttpServer> {
  const s = await startHttpServer(async (_, res) => sendDer(res, await stapleFor(pki, leaf(), { signer: pki.responder })));
  servers.push(s);
  return s;
}

const deadline = () => Date.now() + 3000;
const freshCache = () => new AnswerCache<ExchangeOutcome>();

describe('checkResponder against a listening loopback server', () => {
  it('an AIA URL at 127.0.0.1 not listed is not_allowed, and no connection reaches the server', async () => {
    let leaf!: Issued;
    const s = await goodResponderFor(() => leaf);
    leaf = await leafNaming([`http://127.0.0.1:${s.port}/internal/admin`]);
    for (const destinations of [undefined, allow(null), allow(['*']), allow(['0.0.0.0/0']), allow(['*.example-ca.test'])]) {
      const result = await checkResponder(leaf.der, pki.intermediate.der, { deadlineMs: deadline(), cache: freshCache(), ...(destinations ? { destinations } : {}) });
      expect(result, JSON.stringify(destinations)).toMatchObject({ up: false, urlSource: 'aia', problems: ['not_allowed'], source: 'network', httpStatus: null, method: null });
      expect(result.error).toContain(`responder http://127.0.0.1:${s.port}/internal/admin: 127.0.0.1:${s.port}`);
    }
    expect(s.connections).toBe(0);

    // Listed explicitly, the same responder is asked and answers.
    const listed = await checkResponder(leaf.der, pki.intermediate.der, { deadlineMs: deadline(), cache: freshCache(), destinations: allow(['127.0.0.1']) });
    expect(listed).toMatchObject({ up: true, problems: [] });
    expect(s.connections).toBe(1);
  });

  it('an AIA URL with a query string is bad_url even when its host is allowed (RFC 6960 A.1), and is never asked', async () => {
    let leaf!: Issued;
    const s = await goodResponderFor(() => leaf);
    const hostile = `http://127.0.0.1:${s.port}/internal/admin?delete=all`;
    leaf = await leafNaming([hostile]);
    const result = await checkResponder(leaf.der, pki.intermediate.der, { deadlineMs: deadline(), cache: freshCache(), destinations: LOOPBACK_ALLOWED });
    expect(result).toMatchObject({ up: false, url: hostile, problems: ['bad_url'], source: null });
    expect(result.error).toContain('RFC 6960 Appendix A.1');
    expect(s.connections).toBe(0);

    // A usable URL after it is chosen instead, and the request goes to its path only.
    const both = await leafNaming([hostile, `http://127.0.0.1:${s.port}/ocsp`]);
    leaf = both;
    const chosen = await checkResponder(both.der, pki.intermediate.der, { deadlineMs: deadline(), cache: freshCache(), destinations: LOOPBACK_ALLOWED });
    expect(chosen).toMatchObject({ up: true, url: `http://127.0.0.1:${s.port}/ocsp` });
    expect(s.requests.map((r) => r.path.split('?')[0]!.startsWith('/ocsp'))).toEqual([true]);
    expect(s.requests.every((r) => !r.path.includes('?'))).toBe(true);
  });
});

describe("the exporter's own listen address", () => {
  let app: App;
  let tlsServer: tls.Server;
  let exporterConnections = 0;

  afterAll(async () => {
    await app?.close();
    if (tlsServer) await new Promise((resolve) => tlsServer.close(resolve));
  });

  it('is refused as a responder even when a broad pattern matches, and the exporter sees no connection', async () => {
    const yaml = (allowlist: string[], tlsPort: number) =>
      [
        'global:',
        '  min_probe_interval: 0s',
        `  responder_allowlist: ${JSON.stringify(allowlist)}`,
        'modules:',
        '  default:',
        '    query_responder: true',
        '    server_name: localhost',
        '    ca_file: ca.pem',
        'targets:',
        `  - 127.0.0.1:${tlsPort}`,
      ].join('\n');
    let configText = '';
    const load = () => parseConfig(configText, 'c.yaml', { baseDir: '/', readFile: () => pki.root.pem });
    // Start with a placeholder; the real config needs both ports.
    configText = yaml(['*'], 1);
    const store = new ConfigStore(load(), load);
    app = buildApp({ store, logLevel: 'silent', processMetrics: false });
    app.server.server.on('connection', () => (exporterConnections += 1));
    const exporterPort = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);

    // The probed server's certificate names the exporter's own reload endpoint as its responder.
    const leaf = await leafNaming([`http://127.0.0.1:${exporterPort}/-/reload`]);
    tlsServer = tls.createServer({ cert: leaf.pem + pki.intermediate.pem, key: leaf.keyPem });
    tlsServer.on('tlsClientError', () => undefined);
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    const tlsPort = (tlsServer.address() as net.AddressInfo).port;

    const scrape = async () => (await app.server.inject({ url: '/metrics' })).body;
    const problemOf = (text: string) => /^ocsp_responder_problem\{[^}]*problem="([a-z_]+)"[^}]*\} 1$/m.exec(text)?.[1];

    // Broad patterns, loopback itself listed: still refused, as the exporter's own socket.
    configText = yaml(['*', '127.0.0.0/8'], tlsPort);
    expect(app.reloadConfig()).toEqual({ ok: true });
    const refused = await scrape();
    expect(refused).toMatch(/^ocsp_probe_success\{[^}]*\} 1$/m);
    expect(problemOf(refused)).toBe('not_allowed');
    expect(exporterConnections).toBe(0);

    // Named exactly, the request goes out (and meets the exporter's 404 for GET /-/reload/<request>).
    configText = yaml([`127.0.0.1:${exporterPort}`], tlsPort);
    expect(app.reloadConfig()).toEqual({ ok: true });
    const allowed = await scrape();
    expect(problemOf(allowed)).toBe('http_status');
    expect(exporterConnections).toBe(1);
  });
});
