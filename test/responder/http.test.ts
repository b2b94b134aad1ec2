/**
 * The HTTP exchange against real loopback servers: GET for small requests with the RFC 6960
 * Appendix A.1 path, POST with application/ocsp-request otherwise, and every failure a named
 * problem within the deadline: redirects (not followed), hangs, status codes, oversized bodies,
 * connections cut mid-answer, refused connections, guard-blocked and unresolvable hosts, https
 * unless allowed.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange, getRequestPath, MAX_GET_BASE64_BYTES } from '../../src/responder/index.js';
import { LOOPBACK_ALLOWED, requestDer, sendDer, startHttpServer, type TestHttpServer } from './support.js';

const servers: TestHttpServer[] = [];
async function server(handler: Parameters<typeof startHttpServer>[0]): Promise<TestHttpServer> {
  const s = await startHttpServer(handler);
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const small = randomBytes(100); // base64: 136 bytes → GET
const large = randomBytes(200); // base64: 268 bytes → POST
const answer = randomBytes(500);
const soon = (ms = 2000) => Date.now() + ms;

describe('exchange', () => {
  it('uses GET with the URL-encoded base64 of the request appended to the URL when it is at most 255 bytes', async () => {
    const s = await server((_, res) => sendDer(res, answer));
    const outcome = await exchange({ destinations: LOOPBACK_ALLOWED, url: `${s.url}ocsp`, request: small, deadlineMs: soon() });
    expect(outcome).toMatchObject({ ok: true, method: 'GET', httpStatus: 200, contentType: 'application/ocsp-response' });
    expect(Buffer.from((outcome as { der: Uint8Array }).der).equals(answer)).toBe(true);
    const seen = s.requests[0]!;
    expect(seen.method).toBe('GET');
    expect(seen.path).toBe(`/ocsp/${encodeURIComponent(small.toString('base64'))}`);
    expect(seen.path).not.toMatch(/[+=]|\/\//);
    expect(requestDer(seen).equals(small)).toBe(true);
    expect(seen.headers.host).toBe(`127.0.0.1:${s.port}`);
    expect(seen.headers['user-agent']).toMatch(/^ocsp-stapling-exporter\//);
  });

  it('uses POST with Content-Type application/ocsp-request when the base64 is longer than 255 bytes', async () => {
    expect(large.toString('base64').length).toBeGreaterThan(MAX_GET_BASE64_BYTES);
    const s = await server((_, res) => sendDer(res, answer));
    const outcome = await exchange({ destinations: LOOPBACK_ALLOWED, url: s.url, request: large, deadlineMs: soon() });
    expect(outcome).toMatchObject({ ok: true, method: 'POST' });
    const seen = s.requests[0]!;
    expect(seen).toMatchObject({ method: 'POST', path: '/' });
    expect(seen.headers['content-type']).toBe('application/ocsp-request');
    expect(seen.body.equals(large)).toBe(true);
  });

  it('chooses the form by the 255-byte rule exactly, and POSTs when the URL has a query', () => {
    const url = new URL('http://ocsp.example.test');
    // base64 of n bytes is 4·⌈n/3⌉ characters: 189 bytes → 252 (GET), 190 bytes → 256 (POST).
    expect(getRequestPath(url, new Uint8Array(189))).toBe(`/${encodeURIComponent(Buffer.alloc(189).toString('base64'))}`);
    expect(getRequestPath(url, new Uint8Array(190))).toBeNull();
    expect(getRequestPath(new URL('http://ocsp.example.test/a/b'), new Uint8Array([0xfb, 0xff]))).toBe('/a/b/%2B%2F8%3D');
    expect(getRequestPath(new URL('http://ocsp.example.test/?x=1'), new Uint8Array(10))).toBeNull();
  });

  it('reports a redirect as a failure naming the Location, and does not follow it', async () => {
    const target = await server((_, res) => sendDer(res, answer));
    const s = await server((_, res) => {
      res.writeHead(302, { Location: target.url });
      res.end();
    });
    const outcome = await exchange({ destinations: LOOPBACK_ALLOWED, url: s.url, request: small, deadlineMs: soon() });
    expect(outcome).toMatchObject({ ok: false, problem: 'redirect', httpStatus: 302 });
    expect((outcome as { error: string }).error).toContain(`redirecting to ${target.url}`);
    expect(target.requests).toHaveLength(0);
  });

  it('gives up on a responder that never answers at the deadline', async () => {
    const s = await server(() => undefined); // accepts, reads, never answers
    const started = Date.now();
    const outcome = await exchange({ destinations: LOOPBACK_ALLOWED, url: s.url, request: small, deadlineMs: started + 300 });
    const took = Date.now() - started;
    expect(outcome).toMatchObject({ ok: false, problem: 'timeout' });
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(1500);
  });

  it('gives up on a responder that trickles a body forever at the deadline', async () => {
    const s = await server((_, res) => {
      res.writeHead(200, { 'Content-Type': 'application/ocsp-response' });
      const timer = setInterval(() => res.write(Buffer.from([0x30])), 20);
      res.on('close', () => clearInterval(timer));
    });
    const outcome = await exchange({ destinations: LOOPBACK_ALLOWED, url: s.url, request: small, deadlineMs: Date.now() + 300 });
    expect(outcome).toMatchObject({ ok: false, problem: 'timeout' });
  });

  it('answers at once when the deadline has already passed', async () => {
    const s = await server((_, res) => sendDer(res, answer));
    const outcome = await exchange({ destinations: LOOPBACK_ALLOWED, url: s.url, request: small, deadlineMs: Date.now() - 1 });
    expect(outcome).toMatchObject({ ok: false, problem: 'timeout' });
    expect(s.requests).toHaveLength(0);
  });

  it('reports non-200 statuses', async () => {
    const s = await server((_, res) => {
      res.writeHead(503);
      res.end('busy');
    });
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: s.url, request: small, deadlineMs: soon() })).toMatchObject({ ok: false, problem: 'http_status', httpStatus: 503 });
  });

  it('caps the body at 64 KiB, announced or streamed', async () => {
    const announced = await server((_, res) => {
      res.writeHead(200, { 'Content-Length': 70_000 });
      res.end(Buffer.alloc(70_000));
    });
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: announced.url, request: small, deadlineMs: soon() })).toMatchObject({ ok: false, problem: 'too_large' });
    const streamed = await server((_, res) => {
      res.writeHead(200); // chunked, no length
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(4096));
      res.end();
    });
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: streamed.url, request: small, deadlineMs: soon() })).toMatchObject({ ok: false, problem: 'too_large' });
    const exactly = await server((_, res) => sendDer(res, Buffer.alloc(65_536)));
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: exactly.url, request: small, deadlineMs: soon() })).toMatchObject({ ok: true });
  });

  it('reports a connection cut before the whole answer, and a refused connection', async () => {
    const cut = await server((_, res) => {
      res.writeHead(200, { 'Content-Length': 1000 });
      res.write(Buffer.alloc(10));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: cut.url, request: small, deadlineMs: soon() })).toMatchObject({ ok: false, problem: 'connect' });

    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const refused = await exchange({ destinations: LOOPBACK_ALLOWED, url: `http://127.0.0.1:${port}/`, request: small, deadlineMs: soon() });
    expect(refused).toMatchObject({ ok: false, problem: 'connect' });
    expect((refused as { error: string }).error).toMatch(/ECONNREFUSED/);
  });

  it('refuses link-local and metadata addresses after resolution, unless allowed', async () => {
    const direct = await exchange({ destinations: LOOPBACK_ALLOWED, url: 'http://169.254.169.254/latest/', request: small, deadlineMs: soon() });
    expect(direct).toMatchObject({ ok: false, problem: 'blocked' });
    expect((direct as { error: string }).error).toContain('169.254.0.0/16 (link_local)');
    const lookup = async () => [{ address: '169.254.169.254', family: 4 }];
    const named = await exchange({ destinations: LOOPBACK_ALLOWED, url: 'http://ocsp.evil.test/', request: small, deadlineMs: soon(), lookup });
    expect(named).toMatchObject({ ok: false, problem: 'blocked' });
    const mapped = await exchange({ destinations: LOOPBACK_ALLOWED, url: 'http://[::ffff:169.254.169.254]/', request: small, deadlineMs: soon() });
    expect(mapped).toMatchObject({ ok: false, problem: 'blocked' });

    // Allowed: the name resolves to our loopback server, the request goes there.
    const s = await server((_, res) => sendDer(res, answer));
    const toLoopback = async () => [{ address: '127.0.0.1', family: 4 }];
    const ok = await exchange({ destinations: LOOPBACK_ALLOWED, url: `http://ocsp.lab.test:${s.port}/`, request: small, deadlineMs: soon(), lookup: toLoopback });
    expect(ok).toMatchObject({ ok: true });
    expect(s.requests[0]!.headers.host).toBe(`ocsp.lab.test:${s.port}`);
  });

  it("resolves the responder's name under the module's ip_protocol", async () => {
    const s = await server((_, res) => sendDer(res, answer));
    const asked: number[] = [];
    // As getaddrinfo answers: only the family asked for (0: both).
    const lookup = async (_host: string, options: { family: 0 | 4 | 6 }) => {
      asked.push(options.family);
      const all = [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ];
      return all.filter((a) => options.family === 0 || a.family === options.family);
    };
    const url = `http://ocsp.lab.test:${s.port}/`;
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url, request: small, deadlineMs: soon(), lookup, ipProtocol: 'ip4' })).toMatchObject({ ok: true });
    expect(asked).toEqual([4]);
    // The server listens on 127.0.0.1 only: asked over IPv6, the exchange goes to ::1 and fails there.
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url, request: small, deadlineMs: soon(), lookup, ipProtocol: 'ip6' })).toMatchObject({ ok: false, problem: 'connect' });
    expect(asked).toEqual([4, 6]);
    expect(s.requests).toHaveLength(1);
  });

  it('reports names that do not resolve', async () => {
    const lookup = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND ocsp.nowhere.test'), { code: 'ENOTFOUND' });
    };
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: 'http://ocsp.nowhere.test/', request: small, deadlineMs: soon(), lookup })).toMatchObject({ ok: false, problem: 'dns' });
  });

  it('refuses https unless allowed, and URLs that are not http', async () => {
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: 'https://127.0.0.1:1/', request: small, deadlineMs: soon() })).toMatchObject({ ok: false, problem: 'https_not_allowed' });
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: 'ldap://ocsp.example.test/', request: small, deadlineMs: soon() })).toMatchObject({ ok: false, problem: 'bad_url' });
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: 'not a url', request: small, deadlineMs: soon() })).toMatchObject({ ok: false, problem: 'bad_url' });
    // Allowed https to a plain-HTTP port fails at the TLS layer: a connect problem, not a crash.
    const s = await server((_, res) => sendDer(res, answer));
    expect(await exchange({ destinations: LOOPBACK_ALLOWED, url: `https://127.0.0.1:${s.port}/`, request: small, deadlineMs: soon(), allowHttps: true })).toMatchObject({
      ok: false,
      problem: 'connect',
    });
  });
});
