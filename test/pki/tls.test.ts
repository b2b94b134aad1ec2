/**
 * Node's own TLS stack accepts the generated keys and chains: a loopback server staples a crafted
 * response from its 'OCSPRequest' handler and a client with `requestOCSP` receives the very same
 * bytes, with the chain verified against the fixture root and the name checked against the SANs.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainPem, type Issued } from '../../src/pki/index.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});

interface Handshake {
  authorized: boolean;
  authorizationError: string | null;
  staple: Uint8Array | null;
  /** What the server's 'OCSPRequest' handler was given: DER of the leaf and of its issuer. */
  requested: { certificate: Uint8Array; issuer: Uint8Array | null } | null;
  protocol: string | null;
}

const servers: tls.Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

async function stapleServer(leaf: Issued, staple: Uint8Array | null): Promise<{ port: number; requests: Handshake['requested'][] }> {
  const requests: Handshake['requested'][] = [];
  const server = tls.createServer({ key: leaf.keyPem, cert: chainPem(leaf) });
  server.on('OCSPRequest', (certificate: Buffer, issuer: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => {
    requests.push({ certificate: new Uint8Array(certificate), issuer: issuer ? new Uint8Array(issuer) : null });
    callback(null, staple ? Buffer.from(staple) : undefined);
  });
  server.on('secureConnection', (socket) => socket.end());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, requests };
}

function handshake(port: number, options: tls.ConnectionOptions): Promise<Omit<Handshake, 'requested'>> {
  return new Promise((resolve, reject) => {
    let staple: Uint8Array | null = null;
    // requestOCSP is a TLSSocket option that @types/node leaves out of ConnectionOptions.
    const connectOptions: tls.ConnectionOptions & { requestOCSP: boolean } = {
      port,
      host: '127.0.0.1',
      ca: pki.root.pem,
      requestOCSP: true,
      rejectUnauthorized: false,
      ...options,
    };
    const socket = tls.connect(connectOptions);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('handshake timed out'));
    }, 10_000);
    socket.on('OCSPResponse', (response: Buffer | null) => {
      staple = response ? new Uint8Array(response) : null;
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const error = socket.authorizationError;
      resolve({
        authorized: socket.authorized,
        authorizationError: error ? String(error) : null,
        staple,
        protocol: socket.getProtocol(),
      });
      socket.destroy();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe('Node TLS with generated certificates', () => {
  it.each([
    ['ECDSA', 'leafEcdsa'],
    ['RSA', 'leafRsa'],
    ['Must-Staple', 'leafMustStaple'],
  ] as const)('%s leaf: chain verifies and the client receives the stapled bytes unchanged', async (_label, name) => {
    const leaf = pki[name];
    const staple = await stapleFor(pki, leaf);
    const { port, requests } = await stapleServer(leaf, staple);
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const result = await handshake(port, { servername: 'localhost', maxVersion });
      expect(result.authorizationError).toBeNull();
      expect(result.authorized).toBe(true);
      expect(result.protocol).toBe(maxVersion);
      expect(result.staple).toEqual(staple);
    }
    expect(requests).toHaveLength(2);
    expect(requests[0]?.certificate).toEqual(leaf.der);
    expect(requests[0]?.issuer).toEqual(pki.intermediate.der);
  });

  it('matches the IP address SAN when connecting by address, without SNI', async () => {
    const { port } = await stapleServer(pki.leafEcdsa, null);
    const result = await handshake(port, {});
    expect(result.authorizationError).toBeNull();
    expect(result.authorized).toBe(true);
    expect(result.staple).toBeNull();
  });

  it('is not trusted by a client that trusts only the stranger CA', async () => {
    const { port } = await stapleServer(pki.leafEcdsa, null);
    const result = await handshake(port, { servername: 'localhost', ca: pki.strangerCa.pem });
    expect(result.authorized).toBe(false);
    expect(result.authorizationError).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  });
});
