/**
 * In-process STARTTLS servers on 127.0.0.1 for the probe's tests: a plaintext dialogue written per
 * test (a `Peer` reads lines and bytes, writes answers), then `upgrade()` hands the raw socket to a
 * real tls.Server, whose OCSPRequest handler staples the given response (Node's server side of
 * status_request, RFC 6066 §8).
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface Peer {
  /** The next line the client sent, without CRLF; null when the client went away. */
  readLine(): Promise<string | null>;
  readBytes(count: number): Promise<Buffer | null>;
  /** What the client sent up to and including `marker` (Latin-1); null when it went away first. */
  readUntil(marker: string): Promise<string | null>;
  write(data: string | Uint8Array): void;
  /** From now on the socket speaks TLS (the staple, if any, goes with the handshake). */
  upgrade(): void;
  readonly socket: net.Socket;
}

export interface StarttlsTestServer {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** TLS handshakes completed by the tls.Server. */
  handshakes: number;
  close(): Promise<void>;
}

export interface TlsIdentity {
  keyPem: string;
  certPem: string;
  /** DER of the OCSP response to staple; null staples nothing. */
  staple: Uint8Array | null;
}

export async function startStarttlsServer(identity: TlsIdentity, dialogue: (peer: Peer) => Promise<void>): Promise<StarttlsTestServer> {
  const sockets = new Set<net.Socket>();
  const tlsServer = tls.createServer({ key: identity.keyPem, cert: identity.certPem });
  tlsServer.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer, callback: (error: Error | null, response?: Buffer) => void) => {
    callback(null, identity.staple ? Buffer.from(identity.staple) : undefined);
  });
  tlsServer.on('tlsClientError', () => {});
  const state: StarttlsTestServer = {
    port: 0,
    connections: 0,
    handshakes: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  tlsServer.on('secureConnection', (socket) => {
    state.handshakes++;
    socket.on('error', () => {});
    socket.end();
  });
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let ended = false;
    let wake: (() => void) | null = null;
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      wake?.();
    };
    socket.on('data', onData);
    socket.on('close', () => {
      ended = true;
      wake?.();
    });
    const waitMore = () => new Promise<void>((resolve) => (wake = resolve));
    const peer: Peer = {
      socket,
      async readLine() {
        for (;;) {
          const lf = buffered.indexOf(0x0a);
          if (lf >= 0) {
            const line = buffered.subarray(0, lf + 1).toString('latin1').replace(/\r?\n$/, '');
            buffered = buffered.subarray(lf + 1);
            return line;
          }
          if (ended) return null;
          await waitMore();
        }
      },
      async readBytes(count) {
        while (buffered.length < count) {
          if (ended) return null;
          await waitMore();
        }
        const bytes = buffered.subarray(0, count);
        buffered = buffered.subarray(count);
        return Buffer.from(bytes);
      },
      async readUntil(marker) {
        for (;;) {
          const at = buffered.indexOf(marker, 0, 'latin1');
          if (at >= 0) {
            const text = buffered.subarray(0, at + marker.length).toString('latin1');
            buffered = buffered.subarray(at + marker.length);
            return text;
          }
          if (ended) return null;
          await waitMore();
        }
      },
      write(data) {
        if (!socket.destroyed) socket.write(data);
      },
      upgrade() {
        socket.off('data', onData);
        socket.pause();
        if (buffered.length > 0) socket.unshift(buffered);
        tlsServer.emit('connection', socket);
      },
    };
    dialogue(peer).catch(() => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}
