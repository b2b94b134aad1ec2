/**
 * Small real HTTP servers on loopback for the responder client's tests: each records every request
 * it gets (method, path, headers, body) and answers through a handler, so tests can play a good
 * responder, a hanging one, one sending garbage or redirects, and count what reached it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResponderDestinations } from '../../src/responder/destinations.js';

export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Handler = (request: SeenRequest, res: http.ServerResponse) => void | Promise<void>;

export interface TestHttpServer {
  url: string;
  port: number;
  requests: SeenRequest[];
  /** TCP connections accepted so far, requests or not: a refused destination must not even connect. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startHttpServer(handler: Handler): Promise<TestHttpServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(seen);
      void Promise.resolve(handler(seen, res)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The DER OCSPRequest a recorded request carried: the GET path's base64 (RFC 6960 Appendix A.1) or the POST body. */
export function requestDer(seen: SeenRequest): Buffer {
  if (seen.method === 'POST') return seen.body;
  const last = seen.path.split('/').pop() ?? '';
  return Buffer.from(decodeURIComponent(last), 'base64');
}

/** Answers `der` as application/ocsp-response. */
export function sendDer(res: http.ServerResponse, der: Uint8Array): void {
  res.writeHead(200, { 'Content-Type': 'application/ocsp-response', 'Content-Length': der.length });
  res.end(Buffer.from(der));
}

/**
 * The destinations under which the client may ask these loopback servers: loopback is refused unless
 * `global.responder_allowlist` lists it by address (src/responder/destinations.ts), so the tests do.
 */
export const LOOPBACK_ALLOWED = { allowlist: ['127.0.0.0/8', '::1'], exporterEndpoints: [] } as const satisfies ResponderDestinations;
