/**
 * The CONNECT tunnel (src/net/proxy.ts) against in-process proxies on loopback: Node's own HTTP
 * server answering CONNECT (success, 407 with and without credentials, 403, 502, over TLS too) and
 * raw TCP servers answering what no proxy should (nothing, a 1 MB header, half a status line,
 * garbage with terminal escapes). Also the proxy URL parser and the no_proxy matching table.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bypassesProxy, parseNoProxyEntry, splitNoProxy } from '../../src/net/no-proxy.js';
import { MAX_PROXY_HEADER_BYTES, openTunnel, parseProxyUrl, ProxyError, proxyFor, type ProxyRoute } from '../../src/net/proxy.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';

const closers: (() => Promise<void>)[] = [];
let pki: TestPki;

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

beforeAll(async () => {
  pki = await makeTestPki();
});

function track(server: net.Server): number {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  closers.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

/** A TCP server that greets first (like SMTP), then echoes: proves bytes right after the 2xx are kept. */
async function greetingEchoServer(): Promise<number> {
  const server = net.createServer((socket) => {
    socket.write('220 hello\r\n');
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return track(server);
}

interface SeenConnect {
  url: string | undefined;
  authorization: string | undefined;
  host: string | undefined;
  remoteAddress: string | undefined;
}

/** A real CONNECT proxy (Node's HTTP server); `answer` decides the status, 200 pipes to the target. */
async function connectProxy(answer: (seen: SeenConnect) => number, options: { tls?: boolean } = {}): Promise<{ port: number; seen: SeenConnect[] }> {
  const seen: SeenConnect[] = [];
  const server = options.tls
    ? https.createServer({ key: pki.leafEcdsa.keyPem, cert: pki.leafEcdsa.pem + pki.intermediate.pem })
    : http.createServer();
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    client.on('error', () => {});
    const entry: SeenConnect = {
      url: req.url,
      authorization: req.headers['proxy-authorization'],
      host: req.headers.host,
      remoteAddress: req.socket.remoteAddress,
    };
    seen.push(entry);
    const status = answer(entry);
    if (status !== 200) {
      client.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: 0\r\n${status === 407 ? 'Proxy-Authenticate: Basic realm="test"\r\n' : ''}\r\n`);
      return;
    }
    const [host, port] = [req.url!.slice(0, req.url!.lastIndexOf(':')), Number(req.url!.slice(req.url!.lastIndexOf(':') + 1))];
    const upstream = net.connect({ host: host.replace(/^\[(.*)\]$/, '$1'), port }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: track(server), seen };
}

/** A TCP server playing a broken proxy: `behave` gets each connection once the CONNECT request arrived. */
async function rawProxy(behave: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => {
    socket.once('data', () => behave(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return track(server);
}

function route(port: number, extra: Partial<ProxyRoute> = {}): ProxyRoute {
  return { ...parseProxyUrl(`http://127.0.0.1:${port}`), ...extra };
}

async function tunnelError(promise: Promise<net.Socket>): Promise<ProxyError> {
  try {
    const socket = await promise;
    socket.destroy();
  } catch (error) {
    expect(error).toBeInstanceOf(ProxyError);
    return error as ProxyError;
  }
  throw new Error('the tunnel opened');
}

/** Reads from `socket` until `text` has arrived (2 s at most). */
async function readUntil(socket: net.Socket, text: string): Promise<string> {
  let got = '';
  socket.resume();
  const deadline = Date.now() + 2000;
  while (!got.includes(text) && Date.now() < deadline) {
    const chunk = await Promise.race([once(socket, 'data').then(([c]) => String(c)), new Promise<string>((r) => setTimeout(() => r(''), 100))]);
    got += chunk;
  }
  return got;
}

describe('openTunnel', () => {
  it('tunnels through a CONNECT proxy and keeps what the server sent right after the 2xx', async () => {
    const target = await greetingEchoServer();
    const proxy = await connectProxy(() => 200);
    const socket = await openTunnel({ proxy: route(proxy.port), host: '127.0.0.1', port: target, deadlineMs: Date.now() + 2000 });
    try {
      expect(await readUntil(socket, '220 hello\r\n')).toBe('220 hello\r\n');
      socket.write('ping');
      expect(await readUntil(socket, 'ping')).toBe('ping');
    } finally {
      socket.destroy();
    }
    expect(proxy.seen[0]).toMatchObject({ url: `127.0.0.1:${target}`, host: `127.0.0.1:${target}`, authorization: undefined });
  });

  it('asks for a name as written (the proxy resolves it) and brackets IPv6', async () => {
    const proxy = await connectProxy(() => 403);
    await tunnelError(openTunnel({ proxy: route(proxy.port), host: 'ocsp.example.test', port: 443, deadlineMs: Date.now() + 2000 }));
    await tunnelError(openTunnel({ proxy: route(proxy.port), host: '2001:db8::1', port: 8443, deadlineMs: Date.now() + 2000 }));
    expect(proxy.seen.map((s) => s.url)).toEqual(['ocsp.example.test:443', '[2001:db8::1]:8443']);
  });

  it('407 without credentials says to add them; with them, the Proxy-Authorization header is sent and accepted', async () => {
    const expected = `Basic ${Buffer.from('us@r:p:ss').toString('base64')}`;
    const proxy = await connectProxy((seen) => (seen.authorization === expected ? 200 : 407));
    const target = await greetingEchoServer();
    const bare = await tunnelError(openTunnel({ proxy: route(proxy.port), host: '127.0.0.1', port: target, deadlineMs: Date.now() + 2000 }));
    expect(bare.code).toBe('ERR_PROXY_STATUS');
    expect(bare.status).toBe(407);
    expect(bare.message).toContain('HTTP/1.1 407 Proxy Authentication Required');
    expect(bare.message).toContain('the proxy wants credentials');

    // Percent-encoded userinfo is decoded before encoding (RFC 3986 §3.2.1, RFC 7617).
    const withAuth = parseProxyUrl(`http://us%40r:p%3Ass@127.0.0.1:${proxy.port}`);
    expect(withAuth.shown).toBe(`http://us%40r:***@127.0.0.1:${proxy.port}`);
    const socket = await openTunnel({ proxy: withAuth, host: '127.0.0.1', port: target, deadlineMs: Date.now() + 2000 });
    socket.destroy();
    expect(proxy.seen.map((s) => s.authorization)).toEqual([undefined, expected]);

    const wrong = await tunnelError(openTunnel({ proxy: parseProxyUrl(`http://us:wrong@127.0.0.1:${proxy.port}`), host: '127.0.0.1', port: target, deadlineMs: Date.now() + 2000 }));
    expect(wrong.status).toBe(407);
    expect(wrong.message).toContain('refused the credentials');
    expect(wrong.message).not.toContain('wrong');
  });

  it.each([
    [403, 'HTTP/1.1 403 Forbidden', 'check its ACLs'],
    [502, 'HTTP/1.1 502 Bad Gateway', 'could not reach the target'],
  ])('%i is an error carrying the status line', async (status, line, hint) => {
    const proxy = await connectProxy(() => status);
    const error = await tunnelError(openTunnel({ proxy: route(proxy.port), host: '127.0.0.1', port: 1, deadlineMs: Date.now() + 2000 }));
    expect(error.code).toBe('ERR_PROXY_STATUS');
    expect(error.status).toBe(status);
    expect(error.message).toBe(`proxy http://127.0.0.1:${proxy.port}: CONNECT 127.0.0.1:1: the proxy answered ${line} (${error.message.split('(').at(-1)}`);
    expect(error.message).toContain(hint);
  });

  it('a proxy that never answers ends at the deadline', async () => {
    const port = await rawProxy(() => {});
    const started = Date.now();
    const error = await tunnelError(openTunnel({ proxy: route(port), host: '127.0.0.1', port: 443, deadlineMs: started + 300 }));
    const elapsed = Date.now() - started;
    expect(error.code).toBe('ERR_PROXY_TIMEOUT');
    expect(error.message).toContain('no answer within the probe');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
  });

  it('a 1 MB answer header is refused once it passes 16 KiB, with a bounded message', async () => {
    const port = await rawProxy((socket) => {
      let written = 0;
      socket.write('HTTP/1.1 200 Connection Established\r\n');
      const line = `X-Padding: ${'a'.repeat(1000)}\r\n`;
      // 1 MB of header lines, or until the client hangs up.
      const pump = (): void => {
        while (written < 1024 * 1024 && !socket.destroyed) {
          written += line.length;
          if (!socket.write(line)) return void socket.once('drain', pump);
        }
      };
      socket.on('error', () => {});
      pump();
    });
    const error = await tunnelError(openTunnel({ proxy: route(port), host: '127.0.0.1', port: 443, deadlineMs: Date.now() + 3000 }));
    expect(error.code).toBe('ERR_PROXY_TOO_LARGE');
    expect(error.message).toContain(`exceeds ${MAX_PROXY_HEADER_BYTES} bytes`);
    expect(error.message).toContain('HTTP/1.1 200 Connection Established');
    expect(error.message.length).toBeLessThan(400);
  });

  it('a proxy closing mid-reply is an error saying how far it got', async () => {
    const port = await rawProxy((socket) => socket.end('HTTP/1.1 200 Conn'));
    const error = await tunnelError(openTunnel({ proxy: route(port), host: '127.0.0.1', port: 443, deadlineMs: Date.now() + 2000 }));
    expect(error.code).toBe('ERR_PROXY_CLOSED');
    expect(error.message).toContain('closed the connection after 17 bytes of its answer: HTTP/1.1 200 Conn');
  });

  it('an answer that is not HTTP is malformed; control characters in it are escaped', async () => {
    const port = await rawProxy((socket) => socket.end('SSH-2.0-OpenSSH\x1b]0;owned\x07\r\n\r\n'));
    const error = await tunnelError(openTunnel({ proxy: route(port), host: '127.0.0.1', port: 443, deadlineMs: Date.now() + 2000 }));
    expect(error.code).toBe('ERR_PROXY_MALFORMED');
    expect(error.message).toContain('SSH-2.0-OpenSSH\\x1b]0;owned\\x07');
    expect(error.message).not.toMatch(/[\x00-\x1f]/);
  });

  it('a refused connection to the proxy is ERR_PROXY_CONNECT', async () => {
    const closed = await rawProxy(() => {});
    await closers.pop()!();
    const error = await tunnelError(openTunnel({ proxy: route(closed), host: '127.0.0.1', port: 443, deadlineMs: Date.now() + 2000 }));
    expect(error.code).toBe('ERR_PROXY_CONNECT');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('an https:// proxy: TLS to the proxy (verified against proxy_ca_file), then CONNECT inside', async () => {
    const target = await greetingEchoServer();
    const proxy = await connectProxy(() => 200, { tls: true });
    const trusted = { ...parseProxyUrl(`https://localhost:${proxy.port}`), caPem: pki.root.pem };
    const socket = await openTunnel({ proxy: trusted, host: '127.0.0.1', port: target, deadlineMs: Date.now() + 2000 });
    try {
      expect(await readUntil(socket, '220 hello\r\n')).toBe('220 hello\r\n');
    } finally {
      socket.destroy();
    }
    // Without the CA, Node's store does not know the test root: refused before any CONNECT is sent.
    const untrusted = await tunnelError(openTunnel({ proxy: parseProxyUrl(`https://localhost:${proxy.port}`), host: '127.0.0.1', port: target, deadlineMs: Date.now() + 2000 }));
    expect(untrusted.code).toBe('ERR_PROXY_TLS');
    expect(proxy.seen).toHaveLength(1);
  });

  it('binds the connection to the proxy to localAddress (source_ip_address)', async () => {
    const proxy = await connectProxy(() => 403);
    await tunnelError(openTunnel({ proxy: route(proxy.port), host: '127.0.0.1', port: 443, deadlineMs: Date.now() + 2000, localAddress: '127.0.0.2' }));
    expect(proxy.seen[0]!.remoteAddress).toBe('127.0.0.2');
  });
});

describe('parseProxyUrl', () => {
  it.each([
    ['http://proxy.example:3128', { protocol: 'http:', host: 'proxy.example', port: 3128, authorization: null, shown: 'http://proxy.example:3128' }],
    ['https://proxy.example', { protocol: 'https:', host: 'proxy.example', port: 443, authorization: null }],
    ['http://proxy.example/', { port: 80 }],
    ['proxy.example:8080', { protocol: 'http:', host: 'proxy.example', port: 8080 }],
    ['http://[::1]:3128', { host: '::1', port: 3128, shown: 'http://[::1]:3128' }],
    ['http://u:s3cret@p:1', { authorization: `Basic ${Buffer.from('u:s3cret').toString('base64')}`, shown: 'http://u:***@p:1' }],
  ])('%s', (text, expected) => {
    expect(parseProxyUrl(text)).toMatchObject(expected);
  });

  it.each([
    ['socks5://p:1080', 'socks5 proxies are not supported'],
    ['http://p:3128/path', 'no path, query or fragment'],
    ['http://p:3128?x=1', 'no path, query or fragment'],
    ['http://u:s3cret@p:99999', 'is not a URL'],
    ['http://u%zz:pw@p:1', 'not valid percent-encoding'],
    ['http://', 'is not a URL'],
  ])('%s is refused', (text, message) => {
    let thrown: unknown;
    try {
      parseProxyUrl(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProxyError);
    expect((thrown as ProxyError).message).toContain(message);
    expect((thrown as ProxyError).message).not.toContain('s3cret');
  });
});

describe('no_proxy', () => {
  it('splits comma lists and YAML lists alike', () => {
    expect(splitNoProxy(' a.example , ,b.example,')).toEqual(['a.example', 'b.example']);
    expect(splitNoProxy(['a.example', 'b.example, c.example'])).toEqual(['a.example', 'b.example', 'c.example']);
  });

  const table: [string, string, number, boolean][] = [
    ['*', 'anything.example', 443, true],
    ['*', '10.1.2.3', 1, true],
    ['example.com', 'example.com', 443, true],
    ['example.com', 'www.example.com', 443, true],
    ['example.com', 'WWW.Example.COM.', 443, true],
    ['example.com', 'badexample.com', 443, false],
    ['.example.com', 'example.com', 443, true],
    ['.example.com', 'a.b.example.com', 443, true],
    ['example.com.', 'www.example.com', 443, true],
    ['example.com:8443', 'www.example.com', 8443, true],
    ['example.com:8443', 'www.example.com', 443, false],
    ['10.0.0.0/8', '10.20.30.40', 443, true],
    ['10.0.0.0/8', '11.0.0.1', 443, false],
    ['10.0.0.0/8', 'ten.example', 443, false],
    ['10.0.0.0/8:443', '10.0.0.1', 443, true],
    ['10.0.0.0/8:443', '10.0.0.1', 8443, false],
    ['192.0.2.7', '192.0.2.7', 443, true],
    ['192.0.2.7', '192.0.2.8', 443, false],
    ['192.0.2.7:25', '192.0.2.7', 25, true],
    ['::1', '::1', 443, true],
    ['::1', '0:0:0:0:0:0:0:1', 443, true],
    ['fd00::/8', 'fd12::5', 443, true],
    ['[::1]:443', '::1', 443, true],
    ['[::1]:443', '::1', 8443, false],
    ['[fd00::/8]:443', 'fd12::5', 443, true],
    ['[fd00::/8]:443', 'fd12::5', 25, false],
    ['localhost', 'localhost', 443, true],
    ['localhost', '127.0.0.1', 443, false],
  ];
  it.each(table)('%s against %s:%i → %s', (entry, host, port, expected) => {
    expect(bypassesProxy(splitNoProxy(entry), host, port)).toBe(expected);
  });

  it.each([
    ['*.example.com', 'write ".example.com"'],
    ['10.0.0.0/33', 'prefix length must be 0-32'],
    ['example.com:0', 'port must be 1-65535'],
    ['example.com:http', 'port must be 1-65535'],
    ['exa mple.com', 'is not a host name'],
    ['name/8', 'takes no /prefix'],
    ['[example.com]:443', 'only IPv6 addresses go in brackets'],
  ])('%s is refused: %s', (entry, message) => {
    expect(() => parseNoProxyEntry(entry)).toThrow(message);
  });

  it('proxyFor: the proxy unless no_proxy matches', () => {
    const proxy = parseProxyUrl('http://p:3128');
    expect(proxyFor({}, 'a.example', 443)).toBeNull();
    expect(proxyFor({ proxy }, 'a.example', 443)).toBe(proxy);
    expect(proxyFor({ proxy, noProxy: ['example'] }, 'a.example', 443)).toBeNull();
    expect(proxyFor({ proxy, noProxy: ['other.example'] }, 'a.example', 443)).toBe(proxy);
  });
});
