/**
 * Hostile and broken TLS servers on 127.0.0.1, in process: one that accepts and never speaks, one
 * that hangs up mid-handshake, one that answers with garbage, one that trickles a real handshake
 * one byte a second, and real TLS servers with absurd staples, chains and certificates. Every
 * server is registered for `closeAll()`, which also destroys the sockets still open.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { chainPem, createCertificate, pemEncode, type Issued } from '../../src/pki/index.js';
import { signData } from '../../src/pki/keys.js';
import { cachedKeys } from '../helpers/pki.js';

export interface Hostile {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Connections open right now, and the most ever open at once. */
  open: number;
  maxOpen: number;
}

const closers: (() => Promise<void>)[] = [];

export async function closeAll(): Promise<void> {
  await Promise.all(closers.splice(0).map((close) => close()));
}

/** Listens on 127.0.0.1:0, counts connections, destroys them all on close. */
async function listen(server: net.Server): Promise<Hostile> {
  const sockets = new Set<net.Socket>();
  const state: Hostile = { port: 0, connections: 0, open: 0, maxOpen: 0 };
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    state.connections++;
    state.open++;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      state.open--;
    });
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as net.AddressInfo).port;
  closers.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

/** Accepts TCP and never says a word. */
export function silentServer(): Promise<Hostile> {
  // Reads (and drops) what arrives, so it notices when the client hangs up.
  return listen(net.createServer((socket) => socket.resume()));
}

/** Reads the ClientHello, then hangs up without a word. */
export function hangUpServer(): Promise<Hostile> {
  return listen(net.createServer((socket) => socket.once('data', () => socket.destroy())));
}

/** Answers the ClientHello with `bytes` (default: an HTTP error page), then closes. */
export function garbageServer(bytes: Buffer = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')): Promise<Hostile> {
  return listen(net.createServer((socket) => socket.once('data', () => socket.end(bytes))));
}

/** Answers with random bytes and keeps sending more, forever. */
export function firehoseServer(): Promise<Hostile> {
  return listen(
    net.createServer((socket) => {
      const chunk = Buffer.alloc(64 * 1024, 0x16);
      const pump = (): void => {
        while (!socket.destroyed && socket.write(chunk));
        if (!socket.destroyed) socket.once('drain', pump);
      };
      socket.once('data', pump);
    }),
  );
}

export interface TlsServerOptions {
  key: string;
  /** PEM chain, leaf first. */
  cert: string;
  /** Stapled bytes (or a maker called per handshake, e.g. fresh junk each time); null staples nothing. */
  staple: Uint8Array | null | (() => Uint8Array | Promise<Uint8Array>);
  /** More of Node's server options (versions, suites, groups). */
  tls?: tls.TlsOptions;
}

/** A real TLS server that staples `staple`; `handshakes` counts the handshakes that asked for a staple. */
export async function stapleServer(options: TlsServerOptions): Promise<Hostile & { handshakes: number }> {
  const server = tls.createServer({ ...options.tls, key: options.key, cert: options.cert });
  const fixed = options.staple instanceof Uint8Array ? Buffer.from(options.staple) : undefined;
  const make = typeof options.staple === 'function' ? options.staple : null;
  const state = Object.assign(await listen(server), { handshakes: 0 });
  server.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer | null, callback: (error: Error | null, response?: Buffer) => void) => {
    // Counted here, not at 'secureConnection': a probe hangs up as soon as it has what it needs,
    // often before the server has seen the client's Finished.
    state.handshakes++;
    if (!make) return callback(null, fixed);
    Promise.resolve(make()).then(
      (bytes) => callback(null, Buffer.from(bytes)),
      (error: unknown) => callback(error as Error),
    );
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => socket.end());
  return state;
}

/**
 * A TCP proxy in front of `upstreamPort` that passes the client's bytes on at once but the
 * server's one byte per `intervalMs`: a real handshake that never finishes in time.
 */
export async function trickleProxy(upstreamPort: number, intervalMs = 1000): Promise<Hostile> {
  return listen(
    net.createServer((client) => {
      const upstream = net.connect(upstreamPort, '127.0.0.1');
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      const pending: number[] = [];
      upstream.on('data', (data: Buffer) => pending.push(...data));
      const timer = setInterval(() => {
        const byte = pending.shift();
        if (byte !== undefined && !client.destroyed) client.write(Buffer.of(byte));
      }, intervalMs);
      client.on('close', () => clearInterval(timer));
    }),
  );
}

/** Copies `issued` with one more (non-critical, private-OID) extension of `size` bytes, re-signed by its issuer. */
export async function withHugeExtension(issued: Issued, size: number): Promise<Issued> {
  const certificate = pkijs.Certificate.fromBER(issued.der);
  const filler = new asn1js.OctetString({ valueHex: new Uint8Array(size).fill(0x41) });
  certificate.extensions = [
    ...(certificate.extensions ?? []),
    new pkijs.Extension({ extnID: '1.3.6.1.4.1.55555.1.1', critical: false, extnValue: filler.toBER() }),
  ];
  const tbs = new Uint8Array(certificate.encodeTBS().toBER());
  const signer = issued.issuer ?? issued;
  const signature = signData(signer.keys, tbs, { hash: signer.kind === 'ec-p384' ? 'SHA-384' : 'SHA-256' });
  certificate.signatureValue = new asn1js.BitString({ valueHex: signature });
  const der = new Uint8Array(certificate.toSchema(true).toBER());
  return { ...issued, der, pem: pemEncode(der, 'CERTIFICATE') };
}

/**
 * A leaf under `depth` intermediates (root → ca1 → … → ca<depth> → leaf), every CA sharing one
 * cached key so building 100 of them is quick. Returns the leaf; `chainPem(leaf)` is the chain.
 */
export async function deepChainLeaf(depth: number, root: Issued): Promise<Issued> {
  const keys = await cachedKeys('ec-p256', 'deep-chain-ca');
  let issuer = root;
  for (let i = 1; i <= depth; i++) {
    issuer = await createCertificate({ commonName: `Deep CA ${i}`, isCA: true, keys, issuer });
  }
  return createCertificate({
    commonName: 'localhost',
    issuer,
    keys: await cachedKeys('ec-p256', 'deep-chain-leaf'),
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    extendedKeyUsage: ['serverAuth'],
  });
}

/** A leaf with `count` DNS SANs (plus localhost), issued by `issuer`. */
export async function manySansLeaf(count: number, issuer: Issued): Promise<Issued> {
  const names = Array.from({ length: count }, (_, i) => `h${i}.x.test`);
  return createCertificate({
    commonName: 'localhost',
    issuer,
    keys: await cachedKeys('ec-p256', 'many-sans-leaf'),
    dnsNames: ['localhost', ...names],
    extendedKeyUsage: ['serverAuth'],
  });
}

export { chainPem };
