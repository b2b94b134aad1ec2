/**
 * Hostile and broken servers against the native engine: each case fails the probe with a clear
 * reason within the deadline, sends no further data, and never throws out of the engine. The
 * servers are raw loopback TCP servers that answer the ClientHello with crafted bytes.
 */
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultModule } from '../../src/config/schema.js';
import { secureContextFor, type HandshakeRequest } from '../../src/probe/tls.js';
import { nativeHandshake, type NativeHandshakeResult } from '../../src/tls-native/engine.js';

const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

/** A server that calls `answer` with each connection once the client's first bytes (the ClientHello record) arrived. */
async function hostile(answer: (socket: net.Socket, hello: Buffer) => void): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (hello) => answer(socket, hello));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function probe(port: number, budgetMs = 3000): Promise<NativeHandshakeResult> {
  const request: HandshakeRequest = {
    address: '127.0.0.1',
    port,
    serverName: 'localhost',
    secureContext: secureContextFor(defaultModule('hostile')),
    deadlineMs: Date.now() + budgetMs,
  };
  return nativeHandshake(request, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
}

function record(type: number, body: Buffer, version = 0x0303): Buffer {
  const header = Buffer.from([type, version >> 8, version & 0xff, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([header, body]);
}

function handshakeMessage(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
}

/** A TLS 1.2 ServerHello choosing `suite` with no extensions. */
function serverHello12(suite = 0xc02b): Buffer {
  return handshakeMessage(2, Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0]), Buffer.from([suite >> 8, suite & 0xff, 0])]));
}

describe('native engine: hostile servers', () => {
  it('a plaintext HTTP answer: not TLS, quoted', async () => {
    const port = await hostile((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    expect(await probe(port)).toEqual({ ok: false, reason: 'tls', error: 'the server did not answer with TLS (first bytes "HTTP/1.1")', refusedByClient: true });
  });

  it('a record header announcing 65535 bytes: record_overflow at once', async () => {
    const port = await hostile((s) => s.write(Buffer.from([22, 3, 3, 0xff, 0xff])));
    const result = await probe(port);
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect((result as { error: string }).error).toMatch(/^a record of 65535 bytes/);
  });

  it('a handshake message announcing 16 MiB: refused before it is read', async () => {
    const port = await hostile((s) => s.write(record(22, Buffer.from([2, 0xff, 0xff, 0xff]))));
    expect(await probe(port)).toMatchObject({ ok: false, reason: 'tls', error: expect.stringMatching(/handshake message \(type 2\) of 16777215 bytes/) });
  });

  it('a server that trickles one byte every 50 ms: the deadline, not a hang', async () => {
    const flight = record(22, serverHello12());
    const port = await hostile((s) => {
      let i = 0;
      const t = setInterval(() => (i < flight.length && !s.destroyed ? s.write(flight.subarray(i, ++i)) : clearInterval(t)), 50);
      s.on('close', () => clearInterval(t));
    });
    const started = Date.now();
    expect(await probe(port, 600)).toEqual({ ok: false, reason: 'timeout', error: 'TLS handshake timed out' });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('an endless stream of tiny handshake records: bounded by the record count', async () => {
    const port = await hostile((s) => {
      // A ServerHello split one byte per record, then the same forever: never a complete flight.
      const tiny = record(22, Buffer.from([2]));
      const burst = Buffer.concat(Array.from({ length: 600 }, () => tiny));
      s.write(burst);
    });
    const result = await probe(port);
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect((result as { error: string }).error).toMatch(/more than 512 records|handshake message/);
  });

  it('a flood of bytes: bounded by the byte limit', async () => {
    const port = await hostile((s) => {
      const chunk = record(22, Buffer.concat([Buffer.from([11, 0x01, 0xf0, 0x00]), Buffer.alloc(16_380)]));
      for (let i = 0; i < 40; i++) s.write(chunk);
    });
    const result = await probe(port);
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
  });

  it("the server's fatal alert: named", async () => {
    const port = await hostile((s) => s.end(record(21, Buffer.from([2, 80]))));
    expect(await probe(port)).toEqual({ ok: false, reason: 'tls', error: 'the server sent alert internal_error (80) in answer to the ClientHello', refusedByClient: true });
  });

  it('handshake_failure in answer to the hello: a fallback to Node, not a failure', async () => {
    const port = await hostile((s) => s.end(record(21, Buffer.from([2, 40]))));
    expect(await probe(port)).toMatchObject({ ok: 'fallback' });
  });

  it('closed in the middle of the ServerHello', async () => {
    const port = await hostile((s) => s.end(record(22, serverHello12()).subarray(0, 20)));
    expect(await probe(port)).toEqual({ ok: false, reason: 'tls', error: 'connection closed during handshake' });
  });

  it('a suite that was never offered: illegal_parameter, and the alert sent back', async () => {
    let alert: Buffer | null = null;
    const port = await hostile((s, _hello) => {
      s.on('data', (d) => (alert = d));
      s.write(record(22, serverHello12(0x009c)));
    });
    const result = await probe(port);
    expect(result).toMatchObject({ ok: false, reason: 'tls', error: expect.stringMatching(/suite 0x9c, which was not offered for TLS 1.2/) });
    await new Promise((r) => setTimeout(r, 100));
    expect(alert).toEqual(record(21, Buffer.from([2, 47])));
  });

  it('an alert inside a fragmented handshake message: unexpected_message', async () => {
    const hello = serverHello12();
    const port = await hostile((s) => s.write(Buffer.concat([record(22, hello.subarray(0, 10)), record(21, Buffer.from([1, 0]))])));
    expect(await probe(port)).toMatchObject({ ok: false, error: expect.stringMatching(/inside a fragmented handshake message/) });
  });

  it('a TLS 1.2 ServerHello with a downgrade sentinel from a TLS 1.3-capable server', async () => {
    const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(24, 7), Buffer.from('444f574e47524401', 'hex'), Buffer.from([0, 0xc0, 0x2b, 0])]);
    const port = await hostile((s) => s.write(record(22, handshakeMessage(2, body))));
    expect(await probe(port)).toMatchObject({ ok: false, error: expect.stringMatching(/downgrade/) });
  });

  it('a certificate that does not parse, then a signed key exchange: bad_certificate', async () => {
    const certificate = handshakeMessage(11, Buffer.from([0, 0, 7, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef]));
    const keyExchange = handshakeMessage(12, Buffer.concat([Buffer.from([3, 0, 0x1d, 32]), Buffer.alloc(32, 9), Buffer.from([4, 3, 0, 2, 0, 0])]));
    const port = await hostile((s) => s.write(record(22, Buffer.concat([serverHello12(), certificate, keyExchange]))));
    expect(await probe(port)).toMatchObject({ ok: false, error: expect.stringMatching(/does not parse/) });
  });
});
