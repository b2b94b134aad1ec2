/**
 * The probe through a proxy and from a chosen source address, against real loopback servers: a TLS
 * server stapling a good answer, an OCSP responder, and a real forward proxy (test/helpers/proxy.ts).
 * Through the proxy the result is the direct one (timing aside); names are left to the proxy;
 * refusals, silence and a dead proxy are reason `proxy`; no_proxy goes direct; responder queries and
 * the caIssuers fetch go through the same proxy (absolute form, or a tunnel for https://); an
 * https:// proxy and STARTTLS inside a tunnel work; source_ip_address is the peer address servers see; and
 * the new module fields survive the trip to worker threads.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { parseProxyUrl } from '../../src/net/proxy.js';
import type { LookupFn } from '../../src/net/resolve.js';
import { chainPem } from '../../src/pki/index.js';
import { createProbePool } from '../../src/probe/pool.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exchange } from '../../src/responder/http.js';
import { fetchIssuer, sharedIssuerCache } from '../../src/responder/issuer.js';
import { createOpensslPki, issueOpensslCertificate } from '../helpers/openssl.js';
import { sharedAnswerCache } from '../../src/responder/index.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { startSilentServer, type RunningServer } from '../helpers/servers.js';
import { LOOPBACK_ALLOWED } from '../responder/support.js';
import { startStarttlsServer } from '../starttls/support.js';

let pki: TestPki;
let tlsServer: tls.Server;
let tlsPort = 0;
/** Peer addresses the TLS server saw, in order. */
const tlsPeers: string[] = [];
let responder: http.Server;
let responderUrl = '';
const responderPeers: string[] = [];
let proxy: TestProxy;
let silent: RunningServer;

beforeAll(async () => {
  pki = await makeTestPki();
  const staple = await stapleFor(pki, pki.leafEcdsa);
  tlsServer = tls.createServer({ key: pki.leafEcdsa.keyPem, cert: chainPem(pki.leafEcdsa) });
  tlsServer.on('OCSPRequest', (_c: Buffer, _i: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => callback(null, Buffer.from(staple)));
  // At TCP accept: a TLS 1.3 client may be done and gone before the server sees secureConnection.
  tlsServer.on('connection', (socket: net.Socket) => tlsPeers.push(socket.remoteAddress ?? ''));
  tlsServer.on('secureConnection', (socket) => socket.end());
  tlsServer.on('tlsClientError', () => {});
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  tlsPort = (tlsServer.address() as net.AddressInfo).port;

  const revoked = await stapleFor(pki, pki.leafEcdsa, { status: 'revoked', signer: pki.responder });
  responder = http.createServer((req, res) => {
    responderPeers.push(req.socket.remoteAddress ?? '');
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/ocsp-response' }).end(Buffer.from(revoked)));
  });
  responder.listen(0, '127.0.0.1');
  await once(responder, 'listening');
  responderUrl = `http://127.0.0.1:${(responder.address() as net.AddressInfo).port}/`;

  proxy = await startTestProxy();
  silent = await startSilentServer();
});

beforeEach(() => {
  proxy.seen.length = 0;
  tlsPeers.length = 0;
  responderPeers.length = 0;
  sharedAnswerCache.clear();
});

afterAll(async () => {
  await proxy.close();
  await silent.close();
  await new Promise((resolve) => tlsServer.close(resolve));
  responder.closeAllConnections();
  await new Promise((resolve) => responder.close(resolve));
});

const target = (host = '127.0.0.1'): ProbeTarget => ({ target: `${host}:${tlsPort}`, host, port: tlsPort, module: 'm', serverName: 'localhost', labels: {} });
const moduleWith = (extra: Partial<ModuleConfig>): ModuleConfig => ({ ...defaultModule('m'), timeoutSeconds: 3, caPem: pki.root.pem, responderDestinations: LOOPBACK_ALLOWED, ...extra });
const viaProxy = (extra: Partial<ModuleConfig> = {}): ModuleConfig => moduleWith({ proxy: parseProxyUrl(proxy.url), ...extra });

/** A result without what differs between two runs: timing, and the log (it names the proxy and local ports). */
function timeless(result: ProbeResult): unknown {
  const { durationSeconds: _d, startedAtMs: _s, log: _l, ...rest } = result;
  const responder = rest.responder ? { ...rest.responder, durationSeconds: 0, fetchedAtMs: 0, source: 'x' } : rest.responder;
  return { ...rest, ...(rest.responder ? { responder } : {}) };
}

async function probeOne(module: ModuleConfig, probed = target(), deadlineMs = Date.now() + 3000, lookup?: LookupFn): Promise<ProbeResult> {
  const results = await probeTarget(probed, module, deadlineMs, lookup ? { lookup } : {});
  expect(results).toHaveLength(1);
  return results[0]!;
}

describe('probe through a proxy', () => {
  it('reports exactly what the direct probe reports (timing aside), over a CONNECT tunnel', async () => {
    const direct = await probeOne(moduleWith({}));
    const proxied = await probeOne(viaProxy());
    expect(direct.success).toBe(true);
    expect(direct.staple?.verdict?.single?.certStatus).toBe('good');
    expect(timeless(proxied)).toEqual(timeless(direct));
    expect(proxy.seen).toEqual([{ method: 'CONNECT', url: `127.0.0.1:${tlsPort}`, authorization: undefined, remoteAddress: '127.0.0.1' }]);
  });

  it('through an https:// proxy: TLS to the proxy (proxy_ca_file), the tunnel inside, the same result', async () => {
    const secure = await startTestProxy(() => 200, { key: pki.leafEcdsa.keyPem, cert: chainPem(pki.leafEcdsa) });
    try {
      const module = moduleWith({ proxy: { ...parseProxyUrl(`https://localhost:${secure.port}`), caPem: pki.root.pem }, queryResponder: true, responderUrl });
      const direct = await probeOne({ ...module, proxy: null });
      sharedAnswerCache.clear();
      const proxied = await probeOne(module);
      expect(proxied.success, proxied.error ?? '').toBe(true);
      expect(timeless(proxied)).toEqual(timeless(direct));
      expect(secure.seen.map((s) => s.method)).toEqual(['CONNECT', 'GET']);
    } finally {
      await secure.close();
    }
  });

  it('leaves names to the proxy: no lookup, CONNECT carries the name as written', async () => {
    let lookups = 0;
    const lookup = async () => {
      lookups += 1;
      throw Object.assign(new Error('no DNS in this test'), { code: 'ENOTFOUND' });
    };
    const result = await probeOne(viaProxy(), target('localhost'), Date.now() + 3000, lookup);
    expect(result).toMatchObject({ success: true, address: `localhost:${tlsPort}` });
    expect(lookups).toBe(0);
    expect(proxy.seen.map((s) => s.url)).toEqual([`localhost:${tlsPort}`]);
  });

  it('sends the credentials of the proxy URL; a 407 without them is reason proxy', async () => {
    const expected = `Basic ${Buffer.from('probe:pw').toString('base64')}`;
    const strict = await startTestProxy((request) => (request.authorization === expected ? 200 : 407));
    try {
      const refused = await probeOne(moduleWith({ proxy: parseProxyUrl(strict.url) }));
      expect(refused).toMatchObject({ success: false, failureReason: 'proxy' });
      expect(refused.error).toContain('HTTP/1.1 407 Proxy Authentication Required');
      const allowed = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://probe:pw@127.0.0.1:${strict.port}`) }));
      expect(allowed.success).toBe(true);
      expect(strict.seen.map((s) => s.authorization)).toEqual([undefined, expected]);
    } finally {
      await strict.close();
    }
  });

  it('a proxy that never answers is reason proxy, at the deadline', async () => {
    const started = Date.now();
    const result = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://127.0.0.1:${silent.port}`) }), target(), started + 400);
    expect(result).toMatchObject({ success: false, failureReason: 'proxy' });
    expect(result.error).toContain('no answer within the probe');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('a proxy that is down is reason proxy, naming it', async () => {
    const gone = await startTestProxy();
    await gone.close();
    const result = await probeOne(moduleWith({ proxy: parseProxyUrl(`http://u:secret@127.0.0.1:${gone.port}`) }));
    expect(result).toMatchObject({ success: false, failureReason: 'proxy' });
    expect(result.error).toContain(`proxy http://u:***@127.0.0.1:${gone.port}: CONNECT 127.0.0.1:${tlsPort}: cannot connect to the proxy: connect ECONNREFUSED 127.0.0.1:${gone.port}`);
    expect(result.error).not.toContain('secret');
  });

  it('no_proxy matching the target goes direct; not matching goes through', async () => {
    expect((await probeOne(viaProxy({ noProxy: ['127.0.0.0/8'] }))).success).toBe(true);
    expect(proxy.seen).toHaveLength(0);
    expect((await probeOne(viaProxy({ noProxy: [`127.0.0.1:${tlsPort + 1}`, 'other.example'] }))).success).toBe(true);
    expect(proxy.seen).toHaveLength(1);
  });

  it('the guard still refuses a metadata IP literal, before asking the proxy', async () => {
    const result = await probeOne(viaProxy(), { ...target('169.254.169.254'), port: 443 });
    expect(result).toMatchObject({ success: false, failureReason: 'blocked' });
    expect(proxy.seen).toHaveLength(0);
  });

  it('asks the responder through the same proxy, in absolute form', async () => {
    const result = await probeOne(viaProxy({ queryResponder: true, responderUrl }));
    expect(result.success).toBe(true);
    expect(result.responder).toMatchObject({ up: true, url: responderUrl });
    expect(result.responder?.verdict?.single?.certStatus).toBe('revoked');
    expect(proxy.seen.map((s) => s.method)).toEqual(['CONNECT', 'GET']);
    expect(proxy.seen[1]!.url.startsWith(responderUrl)).toBe(true);
  });

  it('the new module fields reach worker threads', async () => {
    const pool = createProbePool({ workers: 1 });
    try {
      const [result] = await pool.probe(target(), viaProxy({ sourceIpAddress: '127.0.0.2', noProxy: ['other.example'] }), Date.now() + 3000);
      expect(result!.success, `${result!.failureReason}: ${result!.error}`).toBe(true);
      expect(proxy.seen).toEqual([expect.objectContaining({ method: 'CONNECT', remoteAddress: '127.0.0.2' })]);
    } finally {
      await pool.close();
    }
  });
});

describe('responder queries through a proxy (transport)', () => {
  const request = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);

  it('an https:// responder goes through a CONNECT tunnel; TLS to a plain-HTTP port then fails as connect', async () => {
    const port = new URL(responderUrl).port;
    const outcome = await exchange({ url: `https://127.0.0.1:${port}/`, request, deadlineMs: Date.now() + 2000, allowHttps: true, destinations: LOOPBACK_ALLOWED, route: { proxy: parseProxyUrl(proxy.url) } });
    expect(outcome).toMatchObject({ ok: false, problem: 'connect' });
    expect(proxy.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`CONNECT 127.0.0.1:${port}`]);
  });

  it("a proxy refusing the tunnel is a connect problem carrying the proxy's status line", async () => {
    const refusing = await startTestProxy(() => 403);
    try {
      const outcome = await exchange({ url: 'https://ocsp.example.test/', request, deadlineMs: Date.now() + 2000, allowHttps: true, route: { proxy: parseProxyUrl(refusing.url) } });
      expect(outcome).toMatchObject({ ok: false, problem: 'connect' });
      if (!outcome.ok) expect(outcome.error).toContain('CONNECT ocsp.example.test:443: the proxy answered HTTP/1.1 403 Forbidden');
    } finally {
      await refusing.close();
    }
  });

  it('a name is not resolved locally; the allowlist judges it as written', async () => {
    const outcome = await exchange({
      url: 'http://ocsp.example.test/',
      request,
      deadlineMs: Date.now() + 2000,
      destinations: { allowlist: ['ocsp.example.test'], exporterEndpoints: [] },
      lookup: async () => {
        throw new Error('no lookup through a proxy');
      },
      route: { proxy: parseProxyUrl(proxy.url) },
    });
    // The test proxy cannot resolve the name either: its 502 comes back as the answer's status.
    expect(outcome).toMatchObject({ ok: false, problem: 'http_status', httpStatus: 502 });
    expect(proxy.seen.map((s) => `${s.method} ${s.url}`)).toEqual([expect.stringMatching(/^GET http:\/\/ocsp\.example\.test\/MA/)]);
    const refused = await exchange({ url: 'http://other.example.test/', request, deadlineMs: Date.now() + 2000, destinations: { allowlist: ['ocsp.example.test'], exporterEndpoints: [] }, route: { proxy: parseProxyUrl(proxy.url) } });
    expect(refused).toMatchObject({ ok: false, problem: 'not_allowed' });
    expect(proxy.seen).toHaveLength(1);
  });
});

describe('the caIssuers fetch through a proxy', () => {
  it('asks the caIssuers URL through the module proxy, in absolute form', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'proxy-issuer-'));
    const opensslPki = await createOpensslPki(dir);
    const issuers = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/pkix-cert' }).end(Buffer.from(opensslPki.intermediate.der)));
    issuers.listen(0, '127.0.0.1');
    await once(issuers, 'listening');
    const url = `http://127.0.0.1:${(issuers.address() as net.AddressInfo).port}/issuer.der`;
    try {
      const leaf = await issueOpensslCertificate(dir, {
        name: 'leaf-aia',
        subject: '/O=OCSP Test/CN=localhost',
        issuer: opensslPki.intermediate,
        extensions: ['basicConstraints = critical,CA:false', 'subjectAltName = DNS:localhost', `authorityInfoAccess = caIssuers;URI:${url}`],
        days: 30,
      });
      sharedIssuerCache.clear();
      const fetched = await fetchIssuer(leaf.der, { deadlineMs: Date.now() + 3000, destinations: LOOPBACK_ALLOWED, route: { proxy: parseProxyUrl(proxy.url) } });
      expect(fetched).toMatchObject({ url, problem: null });
      expect(Buffer.from(fetched!.issuerDer!).equals(Buffer.from(opensslPki.intermediate.der))).toBe(true);
      expect(proxy.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`GET ${url}`]);
    } finally {
      issuers.closeAllConnections();
      await new Promise((resolve) => issuers.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('STARTTLS through a proxy', () => {
  it("keeps the server's greeting that arrives in the same packet as the proxy's 200", async () => {
    const smtp = await startStarttlsServer({ keyPem: pki.leafEcdsa.keyPem, certPem: chainPem(pki.leafEcdsa), staple: await stapleFor(pki, pki.leafEcdsa) }, async (peer) => {
      peer.write('220 mail.test ESMTP ready\r\n');
      if (!(await peer.readLine())?.startsWith('EHLO ')) return;
      peer.write('250-mail.test\r\n250 STARTTLS\r\n');
      if ((await peer.readLine()) !== 'STARTTLS') return;
      peer.write('220 2.0.0 Ready to start TLS\r\n');
      peer.upgrade();
    });
    // A proxy that waits for the server's first bytes and sends them with its 200, in one write.
    const sockets = new Set<net.Socket>();
    const eager = net.createServer((client) => {
      sockets.add(client);
      client.on('error', () => {});
      client.once('data', () => {
        const upstream = net.connect({ host: '127.0.0.1', port: smtp.port });
        sockets.add(upstream);
        upstream.on('error', () => client.destroy());
        upstream.once('data', (greeting: Buffer) => {
          client.write(Buffer.concat([Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n'), greeting]));
          upstream.pipe(client);
          client.pipe(upstream);
        });
      });
    });
    eager.listen(0, '127.0.0.1');
    await once(eager, 'listening');
    try {
      const module = moduleWith({ starttls: 'smtp', proxy: parseProxyUrl(`http://127.0.0.1:${(eager.address() as net.AddressInfo).port}`) });
      const result = await probeOne(module, { ...target(), target: `127.0.0.1:${smtp.port}`, port: smtp.port });
      expect(result.error).toBeNull();
      expect(result).toMatchObject({ success: true });
      expect(result.staple?.verdict?.single?.certStatus).toBe('good');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => eager.close(resolve));
      await smtp.close();
    }
  });
});

describe('source_ip_address', () => {
  it('is the peer address the TLS server sees, and the one the responder sees', async () => {
    const result = await probeOne(moduleWith({ sourceIpAddress: '127.0.0.2', ipProtocol: 'ip4', queryResponder: true, responderUrl }));
    expect(result.success).toBe(true);
    expect(result.responder?.up).toBe(true);
    expect(tlsPeers).toEqual(['127.0.0.2']);
    expect(responderPeers).toEqual(['127.0.0.2']);
  });

  it('through a proxy, binds the connection to the proxy', async () => {
    expect((await probeOne(viaProxy({ sourceIpAddress: '127.0.0.2' }))).success).toBe(true);
    expect(proxy.seen[0]!.remoteAddress).toBe('127.0.0.2');
    expect(tlsPeers).toEqual(['127.0.0.1']);
  });

  it('an address this host does not have fails the probe as connect', async () => {
    const result = await probeOne(moduleWith({ sourceIpAddress: '192.0.2.77' }));
    expect(result).toMatchObject({ success: false, failureReason: 'connect' });
    expect(result.error).toContain('EADDRNOTAVAIL');
  });
});
