/**
 * `fetch_issuer`: a leaf whose server sends no intermediate, and whose AIA caIssuers URL points at a
 * real loopback HTTP server serving the issuer as DER, PEM, a PKCS#7 certs-only bundle made by
 * `openssl crl2pkcs7`, or something hostile (a wrong certificate, a huge body, a hang, a redirect,
 * garbage). The fetched certificate is used only when it issued the leaf; every failure is named
 * and bounded by the deadline; one URL is fetched once for concurrent probes and then cached.
 * End to end: a TLS server stapling a good response but sending only its leaf is judged
 * `issuer_unknown` without the option and valid with it, the issuer's source being `aia`.
 */
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import { fetchIssuer, MAX_ISSUER_BYTES, sharedIssuerCache } from '../../src/responder/issuer.js';
import { createOpensslPki, issueOpensslCertificate, openssl, opensslOcspResponse, type OpensslCert, type OpensslPki } from '../helpers/openssl.js';
import { LOOPBACK_ALLOWED, startHttpServer, type TestHttpServer } from './support.js';

let dir: string;
let pki: OpensslPki;
let http: TestHttpServer;
let pkcs7Der: Buffer;
let pkcs7Pem: string;
let hangs: Array<() => void> = [];
const leaves = new Map<string, OpensslCert>();

const PATHS = ['der', 'pem', 'p7c', 'p7pem', 'wrong', 'huge', 'hang', 'redirect', 'garbage', 'status'] as const;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ocsp-issuer-'));
  pki = await createOpensslPki(dir);
  const p7c = path.join(dir, 'issuer.p7c');
  await openssl(['crl2pkcs7', '-nocrl', '-certfile', pki.intermediate.certPath, '-certfile', pki.root.certPath, '-outform', 'DER', '-out', p7c]);
  pkcs7Der = await readFile(p7c);
  pkcs7Pem = (await openssl(['crl2pkcs7', '-nocrl', '-certfile', pki.intermediate.certPath])).stdout.toString('utf8');
  http = await startHttpServer((request, res) => {
    const name = request.path.slice(1);
    const send = (body: Buffer | string, type = 'application/pkix-cert', headers: Record<string, string> = {}): void => {
      res.writeHead(200, { 'Content-Type': type, ...headers });
      res.end(body);
    };
    switch (name) {
      case 'der':
        return send(Buffer.from(pki.intermediate.der), 'application/pkix-cert', { 'Cache-Control': 'max-age=600' });
      case 'pem':
        return send(pki.intermediate.pem, 'application/x-pem-file');
      case 'p7c':
        return send(pkcs7Der, 'application/pkcs7-mime');
      case 'p7pem':
        return send(pkcs7Pem, 'text/plain');
      case 'wrong':
        return send(Buffer.from(pki.strangerCa.der));
      case 'huge':
        return send(Buffer.alloc(MAX_ISSUER_BYTES * 4, 0x30));
      case 'hang':
        hangs.push(() => res.destroy());
        return;
      case 'redirect':
        res.writeHead(302, { Location: `http://127.0.0.1:${http.port}/der` });
        res.end();
        return;
      case 'garbage':
        return send('<html>not a certificate</html>', 'text/html');
      default:
        res.writeHead(404);
        res.end();
        return;
    }
  });
  await Promise.all(
    PATHS.map(async (name) => {
      const leaf = await issueOpensslCertificate(dir, {
        name: `leaf-${name}`,
        subject: `/O=OCSP Test/OU=${name}/CN=localhost`,
        issuer: pki.intermediate,
        extensions: [
          'basicConstraints = critical,CA:false',
          'keyUsage = critical,digitalSignature',
          'extendedKeyUsage = serverAuth',
          'subjectAltName = DNS:localhost,IP:127.0.0.1',
          `authorityInfoAccess = OCSP;URI:${pki.ocspUrl},caIssuers;URI:http://127.0.0.1:${http.port}/${name}`,
        ],
        days: 30,
      });
      leaves.set(name, leaf);
    }),
  );
});

beforeEach(() => {
  sharedIssuerCache.clear();
  http.requests.length = 0;
});

afterAll(async () => {
  for (const hang of hangs) hang();
  hangs = [];
  await http?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const soon = (ms = 2000) => Date.now() + ms;
const fetchFor = (name: (typeof PATHS)[number], deadlineMs = soon()) => fetchIssuer(leaves.get(name)!.der, { deadlineMs, destinations: LOOPBACK_ALLOWED });

describe('fetchIssuer', () => {
  it.each(['der', 'pem', 'p7c', 'p7pem'] as const)('takes the issuer served as %s, verified against the leaf', async (name) => {
    const fetched = await fetchFor(name);
    expect(fetched).toMatchObject({ url: `http://127.0.0.1:${http.port}/${name}`, source: 'network', problem: null });
    expect(Buffer.from(fetched!.issuerDer!).equals(Buffer.from(pki.intermediate.der))).toBe(true);
  });

  it('follows the responder destination rules: a caIssuers URL at loopback not listed is not_allowed, and never connects', async () => {
    const before = http.connections;
    for (const destinations of [undefined, { allowlist: null, exporterEndpoints: [] }, { allowlist: ['*'], exporterEndpoints: [] }]) {
      const fetched = await fetchIssuer(leaves.get('der')!.der, { deadlineMs: soon(), ...(destinations ? { destinations } : {}) });
      expect(fetched, JSON.stringify(destinations)).toMatchObject({ issuerDer: null, problem: 'not_allowed' });
      expect(fetched!.error).toContain(`is a loopback address (127.0.0.0/8)`);
    }
    // The exporter's own socket, even with loopback listed.
    const own = { allowlist: ['127.0.0.0/8'], exporterEndpoints: [{ address: '127.0.0.1', port: http.port }] };
    expect(await fetchIssuer(leaves.get('der')!.der, { deadlineMs: soon(), destinations: own })).toMatchObject({ problem: 'not_allowed' });
    expect(http.connections - before).toBe(0);
    expect(await fetchFor('der')).toMatchObject({ problem: null });
    expect(http.connections - before).toBe(1);
  });

  it('refuses a certificate that did not issue the leaf', async () => {
    expect(await fetchFor('wrong')).toMatchObject({ issuerDer: null, problem: 'not_the_issuer' });
  });

  it('caps the body, stops at the deadline, never follows a redirect, and names garbage', async () => {
    expect(await fetchFor('huge')).toMatchObject({ issuerDer: null, problem: 'too_large' });
    const started = Date.now();
    expect(await fetchFor('hang', started + 400)).toMatchObject({ issuerDer: null, problem: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await fetchFor('redirect')).toMatchObject({ issuerDer: null, problem: 'redirect' });
    expect(http.requests.filter((r) => r.path === '/der')).toHaveLength(0);
    expect(await fetchFor('garbage')).toMatchObject({ issuerDer: null, problem: 'not_a_certificate' });
    expect(await fetchFor('status')).toMatchObject({ issuerDer: null, problem: 'http_status' });
  });

  it('shares one fetch among concurrent probes and serves the next ones from the cache', async () => {
    const [a, b, c] = await Promise.all([fetchFor('der'), fetchFor('der'), fetchFor('der')]);
    expect([a!.source, b!.source, c!.source].sort()).toEqual(['network', 'shared', 'shared']);
    expect((await fetchFor('der'))!.source).toBe('cache');
    expect(http.requests).toHaveLength(1);
  });

  it('returns null for a leaf that names no caIssuers URL', async () => {
    expect(await fetchIssuer(pki.leafEc.der, { deadlineMs: soon() })).toBeNull();
  });
});

describe('probeTarget with fetch_issuer', () => {
  let server: tls.Server;
  let port = 0;

  beforeAll(async () => {
    const leaf = leaves.get('der')!;
    const staple = await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [leaf], signer: pki.responder, ndays: 1 });
    // The server sends its leaf only: the intermediate is missing from the chain.
    server = tls.createServer({ key: await readFile(leaf.keyPath), cert: leaf.pem });
    server.on('OCSPRequest', (_c: Buffer, _i: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => callback(null, Buffer.from(staple)));
    server.on('secureConnection', (socket) => socket.end());
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const target = () => ({ target: `127.0.0.1:${port}`, host: '127.0.0.1', port, module: 'm', serverName: 'localhost', labels: {} });
  const moduleWith = (extra: Partial<ModuleConfig>): ModuleConfig => ({ ...defaultModule('m'), timeoutSeconds: 3, caPem: pki.root.pem, responderDestinations: LOOPBACK_ALLOWED, ...extra });

  it('is issuer_unknown without the option, and never fetches', async () => {
    const [result] = await probeTarget(target(), moduleWith({}), soon(3000));
    expect(result!.staple?.verdict?.problems).toContain('issuer_unknown');
    expect(result!.issuerFetch).toBeUndefined();
    expect(http.requests).toHaveLength(0);
  });

  it('judges the staple valid with the fetched issuer, its source aia', async () => {
    const [result] = await probeTarget(target(), moduleWith({ fetchIssuer: true }), soon(3000));
    expect(result!.staple).toMatchObject({ present: true, issuerSource: 'aia', verdict: { valid: true, problems: [] } });
    expect(result!.issuerFetch).toMatchObject({ used: true, problem: null, url: `http://127.0.0.1:${http.port}/der` });
    // The presented chain itself still lacks the intermediate: that is reported as it is.
    expect(result!.chain?.verified).toBe(false);
  });
});
