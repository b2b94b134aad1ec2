/**
 * The handshake's presented chain against real TLS servers on 127.0.0.1, over TLS 1.3 and 1.2:
 * leaf + intermediate, a self-signed root at the end listed once, a lone leaf.
 */
import { once } from 'node:events';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Issued } from '../../src/pki/index.js';
import { handshake } from '../../src/probe/tls.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';

const closers: (() => Promise<void>)[] = [];
let pki: TestPki;
const context = tls.createSecureContext({ ca: [] });

beforeAll(async () => {
  pki = await makeTestPki();
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

/** A server presenting `certs` (leaf first, then in this order) with the leaf's key. */
async function serverPresenting(leaf: Issued, certs: Issued[]): Promise<number> {
  const server = tls.createServer({ key: leaf.keyPem, cert: certs.map((c) => c.pem).join('') });
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

async function presented(port: number, maxVersion?: tls.SecureVersion): Promise<Buffer[]> {
  const secureContext = maxVersion ? tls.createSecureContext({ ca: [], maxVersion }) : context;
  const result = await handshake({ address: '127.0.0.1', port, serverName: 'localhost', secureContext, deadlineMs: Date.now() + 2000 });
  if (!result.ok) throw new Error(`handshake failed: ${result.error}`);
  return result.chainDer;
}

const derOf = (certs: Issued[]): Buffer[] => certs.map((c) => Buffer.from(c.der));

describe('handshake: presented chain', () => {
  it('leaf + intermediate, over TLS 1.3 and 1.2', async () => {
    const port = await serverPresenting(pki.leafEcdsa, [pki.leafEcdsa, pki.intermediate]);
    expect(await presented(port)).toEqual(derOf([pki.leafEcdsa, pki.intermediate]));
    expect(await presented(port, 'TLSv1.2')).toEqual(derOf([pki.leafEcdsa, pki.intermediate]));
  });

  it('a self-signed root at the end is listed once', async () => {
    const port = await serverPresenting(pki.leafEcdsa, [pki.leafEcdsa, pki.intermediate, pki.root]);
    expect(await presented(port)).toEqual(derOf([pki.leafEcdsa, pki.intermediate, pki.root]));
  });

  it('only the leaf', async () => {
    const port = await serverPresenting(pki.leafEcdsa, [pki.leafEcdsa]);
    expect(await presented(port)).toEqual(derOf([pki.leafEcdsa]));
  });
});
