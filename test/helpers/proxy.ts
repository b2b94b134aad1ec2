/**
 * A small real forward proxy on loopback, Node's HTTP server: CONNECT tunnels (RFC 9110 §9.3.6) and
 * absolute-form requests (RFC 9112 §3.2.2) relayed to loopback servers. It records what it was
 * asked and from which address, and `decide` may refuse (407, 403, 502…) instead of relaying.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** `host:port` for CONNECT, the absolute URL otherwise. */
  url: string;
  authorization: string | undefined;
  /** The address the exporter connected from (source_ip_address). */
  remoteAddress: string | undefined;
}

export interface TestProxy {
  port: number;
  url: string;
  seen: ProxiedRequest[];
  close(): Promise<void>;
}

/** `decide` returns 200 to relay, or the status to answer instead; with `tls` it is an https:// proxy. */
export async function startTestProxy(decide: (request: ProxiedRequest) => number = () => 200, tls?: { key: string; cert: string }): Promise<TestProxy> {
  const seen: ProxiedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const record = (req: http.IncomingMessage): ProxiedRequest => {
    const entry = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers['proxy-authorization'], remoteAddress: req.socket.remoteAddress };
    seen.push(entry);
    return entry;
  };
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const status = decide(record(req));
    if (status !== 200) {
      res.writeHead(status, status === 407 ? { 'Proxy-Authenticate': 'Basic realm="test"' } : {}).end();
      return;
    }
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const upstream = http.request({ host: target.hostname.replace(/^\[(.*)\]$/, '$1'), port: target.port, method: req.method, path: target.pathname + target.search, headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  };
  const server = tls ? https.createServer(tls, handle) : http.createServer(handle);
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    client.on('error', () => {});
    const status = decide(record(req));
    if (status !== 200) {
      client.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const url = req.url ?? '';
    const colon = url.lastIndexOf(':');
    const upstream = net.connect({ host: url.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(url.slice(colon + 1)) }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
    // Either side gone ends the tunnel: a pipe alone would keep the other side open.
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  server.on(tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
