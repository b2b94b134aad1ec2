/**
 * Loopback TLS servers for the monitoring end-to-end tests: each is a real Node TLS server stapling
 * whatever its `staple` slot holds at the moment of the handshake (swappable, like a server that
 * refreshes or stops refreshing), plus a small PKI whose leaf and intermediate name real loopback
 * OCSP responders, so the exporter's `query_responder` and `query_chain_responders` families appear
 * in the real /metrics output with verified answers.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { chainPem, createCertificate, createOcspResponse, type Issued } from '../../src/pki/index.js';
import { sendDer, startHttpServer, type TestHttpServer } from '../responder/support.js';

export interface StapleServer {
  port: number;
  /** `127.0.0.1:port` */
  target: string;
  /** What the next handshake staples; null staples nothing. */
  staple: Uint8Array | null;
  /** Handshakes that asked for a staple. */
  readonly handshakes: number;
  close(): Promise<void>;
}

/** A TLS server on 127.0.0.1:0 presenting `leaf` and its chain, stapling `staple`. */
export async function startStapleServer(leaf: Issued, staple: Uint8Array | null): Promise<StapleServer> {
  const server = tls.createServer({ key: leaf.keyPem, cert: chainPem(leaf) });
  const state = { staple, handshakes: 0 };
  server.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => {
    state.handshakes++;
    callback(null, state.staple ? Buffer.from(state.staple) : undefined);
  });
  server.on('secureConnection', (socket) => socket.end());
  // Probes close right after the handshake; resets are expected.
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    target: `127.0.0.1:${port}`,
    get staple() {
      return state.staple;
    },
    set staple(value: Uint8Array | null) {
      state.staple = value;
    },
    get handshakes() {
      return state.handshakes;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface ResponderPki {
  root: Issued;
  /** Names `chainResponder` in its AIA. */
  intermediate: Issued;
  /** 'localhost', IP 127.0.0.1, names `leafResponder` in its AIA. */
  leaf: Issued;
  /** Answers "good" about the leaf (signed by the intermediate), fresh. */
  leafResponder: TestHttpServer;
  /** Answers "good" about the intermediate (signed by the root), fresh. */
  chainResponder: TestHttpServer;
  /** A staple saying "good" about the leaf; by default fresh (thisUpdate an hour ago, nextUpdate in 3 days). */
  staple(options?: { thisUpdate?: Date; nextUpdate?: Date }): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Whole seconds: OCSP times are GeneralizedTime without fractions. */
function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** root → intermediate → leaf, with both responders running on loopback and answering "good". */
export async function startResponderPki(): Promise<ResponderPki> {
  // The URLs go into the certificates, so the responders start first and learn their answers later.
  let leafAnswer: Uint8Array | null = null;
  let chainAnswer: Uint8Array | null = null;
  const answer = (der: () => Uint8Array | null) => (_: unknown, res: import('node:http').ServerResponse) => {
    const value = der();
    if (value) sendDer(res, value);
    else res.writeHead(503).end();
  };
  const leafResponder = await startHttpServer(answer(() => leafAnswer));
  const chainResponder = await startHttpServer(answer(() => chainAnswer));
  try {
    const root = await createCertificate({ commonName: 'Monitoring Test Root CA', isCA: true });
    const intermediate = await createCertificate({ commonName: 'Monitoring Test Intermediate CA', isCA: true, issuer: root, ocspUrls: [chainResponder.url] });
    const leaf = await createCertificate({
      commonName: 'localhost',
      issuer: intermediate,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      ocspUrls: [leafResponder.url],
      extendedKeyUsage: ['serverAuth'],
    });
    const now = Date.now();
    const fresh = { thisUpdate: wholeSeconds(now - HOUR_MS), nextUpdate: wholeSeconds(now + 3 * DAY_MS) };
    leafAnswer = await createOcspResponse({ signer: intermediate, producedAt: fresh.thisUpdate, singles: [{ leaf, issuer: intermediate, status: 'good', ...fresh }] });
    chainAnswer = await createOcspResponse({ signer: root, producedAt: fresh.thisUpdate, singles: [{ leaf: intermediate, issuer: root, status: 'good', ...fresh }] });
    return {
      root,
      intermediate,
      leaf,
      leafResponder,
      chainResponder,
      staple: async (options = {}) => {
        const thisUpdate = options.thisUpdate ?? fresh.thisUpdate;
        const nextUpdate = options.nextUpdate ?? fresh.nextUpdate;
        return createOcspResponse({ signer: intermediate, producedAt: thisUpdate, singles: [{ leaf, issuer: intermediate, status: 'good', thisUpdate, nextUpdate }] });
      },
      close: async () => {
        await Promise.all([leafResponder.close(), chainResponder.close()]);
      },
    };
  } catch (error) {
    await Promise.all([leafResponder.close(), chainResponder.close()]);
    throw error;
  }
}
