/**
 * The native engine against Node's TLS server (OpenSSL inside) on loopback, differentially against
 * Node's own client (probe/tls.ts): for every suite and group the engine offers, TLS 1.3 and 1.2,
 * ECDSA and RSA leaves, the same staple bytes, chain, protocol and cipher. The server side is
 * independent of our code, so a wrong key schedule or record layer cannot agree with it.
 */
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule } from '../../src/config/schema.js';
import { handshake, secureContextFor, type HandshakeRequest, type HandshakeResult } from '../../src/probe/tls.js';
import { nativeHandshake } from '../../src/tls-native/engine.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let staple: Buffer;

beforeAll(async () => {
  pki = await makeTestPki();
  staple = Buffer.from(await stapleFor(pki, pki.leafEcdsa));
});

interface ServerOptions {
  leaf: 'ecdsa' | 'rsa';
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
  ecdhCurve?: string;
  sigalgs?: string;
  staple?: boolean;
  requestCert?: boolean;
}

const servers: tls.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

async function startServer(options: ServerOptions): Promise<{ port: number; handshakeErrors: string[] }> {
  const leaf = options.leaf === 'ecdsa' ? pki.leafEcdsa : pki.leafRsa;
  const handshakeErrors: string[] = [];
  const server = tls.createServer({
    cert: leaf.pem + pki.intermediate.pem,
    key: leaf.keyPem,
    ...(options.minVersion ? { minVersion: options.minVersion } : {}),
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    ...(options.ecdhCurve ? { ecdhCurve: options.ecdhCurve } : {}),
    ...(options.sigalgs ? { sigalgs: options.sigalgs } : {}),
    ...(options.requestCert ? { requestCert: true, rejectUnauthorized: false } : {}),
  });
  server.on('OCSPRequest', (_c: Buffer, _i: Buffer | null, done: (error: Error | null, response?: Buffer) => void) => done(null, options.staple === false ? undefined : staple));
  server.on('tlsClientError', (error: Error) => handshakeErrors.push(error.message));
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    socket.on('error', (error) => handshakeErrors.push(`after handshake: ${error.message}`));
    socket.resume();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, handshakeErrors };
}

function request(port: number, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): HandshakeRequest {
  const module = { ...defaultModule('native_test'), maxVersion };
  return { address: '127.0.0.1', port, serverName: 'localhost', secureContext: secureContextFor(module), deadlineMs: Date.now() + 5000 };
}

function summary(result: HandshakeResult | { ok: 'fallback'; why: string }): unknown {
  if (result.ok !== true) return result;
  return { staple: result.staple?.toString('hex') ?? null, chain: result.chainDer.map((d) => d.toString('hex')), protocol: result.protocol, cipher: result.cipher };
}

async function bothEngines(port: number, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<[unknown, unknown]> {
  const node = await handshake(request(port, maxVersion));
  const native = await nativeHandshake(request(port, maxVersion), { minVersion: 'TLSv1.2', maxVersion });
  return [summary(native), summary(node)];
}

const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
const TLS12_SUITES = {
  ecdsa: ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
  rsa: ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'],
} as const;

describe('native engine = Node engine against an OpenSSL server', () => {
  for (const leaf of ['ecdsa', 'rsa'] as const) {
    for (const suite of TLS13_SUITES) {
      for (const group of ['X25519', 'P-256', 'P-384']) {
        it(`TLS 1.3 ${suite} ${group} ${leaf} leaf`, async () => {
          // Node's server takes TLS 1.3 suites from `ciphers` too (OpenSSL's ciphersuites list).
          const server = await startServer({ leaf, minVersion: 'TLSv1.3', ciphers: suite, ecdhCurve: group });
          const [native, node] = await bothEngines(server.port);
          expect(native).toMatchObject({ protocol: 'TLSv1.3', cipher: suite });
          expect(native).toEqual(node);
          // Past a HelloRetryRequest (any group but X25519, which both clients send a share for),
          // Node's server staples nothing, to either client: its OCSPRequest runs for the first hello.
          expect((native as { staple: string | null }).staple).toBe(group === 'X25519' ? staple.toString('hex') : null);
          expect(server.handshakeErrors).toEqual([]);
        });
      }
    }
    for (const suite of TLS12_SUITES[leaf]) {
      for (const group of ['X25519', 'P-256', 'P-384']) {
        it(`TLS 1.2 ${suite} ${group} ${leaf} leaf`, async () => {
          const server = await startServer({ leaf, maxVersion: 'TLSv1.2', ciphers: suite, ecdhCurve: group });
          const [native, node] = await bothEngines(server.port);
          expect(native).toMatchObject({ protocol: 'TLSv1.2' });
          expect(native).toEqual(node);
          expect((native as { staple: string }).staple).toBe(staple.toString('hex'));
          expect(server.handshakeErrors).toEqual([]);
        });
      }
    }
  }

  it('TLS 1.2 RSA leaf with PKCS#1 v1.5 signatures only', async () => {
    const server = await startServer({ leaf: 'rsa', maxVersion: 'TLSv1.2', sigalgs: 'RSA+SHA256' });
    const [native, node] = await bothEngines(server.port);
    expect(native).toEqual(node);
  });

  it('no staple: null on both', async () => {
    const server = await startServer({ leaf: 'ecdsa', staple: false });
    const [native, node] = await bothEngines(server.port);
    expect(native).toMatchObject({ staple: null });
    expect(native).toEqual(node);
  });

  it('a server asking for a client certificate still completes', async () => {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const server = await startServer({ leaf: 'ecdsa', requestCert: true, maxVersion });
      const [native, node] = await bothEngines(server.port, maxVersion);
      expect(native).toEqual(node);
    }
  });

  it('HelloRetryRequest: a server that only takes P-384', async () => {
    const server = await startServer({ leaf: 'ecdsa', minVersion: 'TLSv1.3', ecdhCurve: 'P-384' });
    const [native, node] = await bothEngines(server.port);
    expect(native).toEqual(node);
    expect(server.handshakeErrors).toEqual([]);
  });

  it('a server with only CBC suites: the native engine asks for a fallback', async () => {
    const server = await startServer({ leaf: 'ecdsa', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' });
    const native = await nativeHandshake(request(server.port, 'TLSv1.2'), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    expect(native).toMatchObject({ ok: 'fallback' });
  });
});
