/**
 * The probe over STARTTLS against in-process servers on 127.0.0.1: for each protocol of module key
 * `starttls` the server speaks its side of the dialogue, then hands the socket to a real tls.Server
 * that staples; the probe must report the staple, valid, and the presented chain. Then hostile
 * servers: refusals, STARTTLS not offered, a reply trickled a byte every 100 ms, a 1 MB greeting,
 * closes mid-dialogue and mid-handshake, bytes injected after the go-ahead, escape sequences.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCheckArgs, runCheck } from '../../src/commands/check.js';
import { EXIT, type CommandIO } from '../../src/commands/io.js';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { startTlsRequest, STARTTLS_OID } from '../../src/starttls/ldap.js';
import { SSL_REQUEST } from '../../src/starttls/postgres.js';
import type { StarttlsProtocol } from '../../src/starttls/protocols.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { startStarttlsServer, type Peer, type StarttlsTestServer, type TlsIdentity } from './support.js';

let pki: TestPki;
let identity: TlsIdentity;
const servers: StarttlsTestServer[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
  identity = {
    keyPem: pki.leafEcdsa.keyPem,
    certPem: pki.leafEcdsa.pem + pki.intermediate.pem,
    staple: await stapleFor(pki, pki.leafEcdsa),
  };
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(dialogue: (peer: Peer) => Promise<void>, id: TlsIdentity = identity): Promise<StarttlsTestServer> {
  const server = await startStarttlsServer(id, dialogue);
  servers.push(server);
  return server;
}

function moduleFor(protocol: StarttlsProtocol, timeoutSeconds = 5): ModuleConfig {
  return { ...defaultModule(`starttls_${protocol}`), starttls: protocol, caPem: pki.root.pem, timeoutSeconds };
}

async function probe(port: number, protocol: StarttlsProtocol, timeoutSeconds = 5): Promise<ProbeResult> {
  const module = moduleFor(protocol, timeoutSeconds);
  const target = { target: `127.0.0.1:${port}`, host: '127.0.0.1', port, module: module.name, serverName: 'localhost', labels: {} };
  const [result] = await probeTarget(target, module, Date.now() + timeoutSeconds * 1000);
  return result!;
}

function expectStapledProbe(result: ProbeResult): void {
  expect(result.error).toBeNull();
  expect(result.success).toBe(true);
  expect(result.chain).toEqual({ verified: true, error: null, length: 2 });
  expect(result.staple?.present).toBe(true);
  expect(result.staple?.verdict?.valid).toBe(true);
  expect(result.staple?.verdict?.single?.certStatus).toBe('good');
}

const SMTP_EHLO = '250-mail.test Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 8BITMIME\r\n';

async function smtpUntilStarttls(peer: Peer, ehlo = SMTP_EHLO): Promise<string | null> {
  peer.write('220 mail.test ESMTP ready\r\n');
  if (!(await peer.readLine())?.startsWith('EHLO ')) return null;
  peer.write(ehlo);
  return peer.readLine();
}

/** A MySQL initial handshake packet (protocol 10) with the given lower capability flags. */
function mysqlGreeting(capabilities: number): Buffer {
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from('8.0.36-test\0', 'latin1'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from('abcdefgh', 'latin1'),
    Buffer.from([0]),
    Buffer.from([capabilities & 0xff, capabilities >> 8]),
    Buffer.from([33, 2, 0, 0xff, 0x81, 21]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0', 'latin1'),
    Buffer.from('mysql_native_password\0', 'latin1'),
  ]);
  const header = Buffer.from([payload.length & 0xff, payload.length >> 8, 0, 0]);
  return Buffer.concat([header, payload]);
}

/** An LDAP ExtendedResponse to message 1, with 4-octet long-form lengths as OpenLDAP writes them. */
function ldapExtendedResponse(resultCode: number, diagnostic = ''): Buffer {
  const long = (tag: number, body: Buffer) => {
    const header = Buffer.from([tag, 0x84, 0, 0, 0, 0]);
    header.writeUInt32BE(body.length, 2);
    return Buffer.concat([header, body]);
  };
  const name = Buffer.from(STARTTLS_OID, 'latin1');
  const op = Buffer.concat([
    Buffer.from([0x0a, 1, resultCode, 0x04, 0, 0x04, diagnostic.length]),
    Buffer.from(diagnostic, 'latin1'),
    Buffer.from([0x8a, name.length]),
    name,
  ]);
  return long(0x30, Buffer.concat([Buffer.from([0x02, 1, 1]), long(0x78, op)]));
}

describe('STARTTLS: every protocol reaches the TLS handshake and its staple', () => {
  it('smtp: greeting 220, EHLO with STARTTLS among multi-line keywords, STARTTLS → 220', async () => {
    const server = await serve(async (peer) => {
      if ((await smtpUntilStarttls(peer)) !== 'STARTTLS') return;
      peer.write('220 2.0.0 Ready to start TLS\r\n');
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'smtp'));
    expect(server.connections).toBe(1);
  });

  it('imap: CAPABILITY asked when the greeting lists no STARTTLS, then a2 STARTTLS → a2 OK', async () => {
    const server = await serve(async (peer) => {
      peer.write('* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n');
      if ((await peer.readLine()) !== 'a1 CAPABILITY') return;
      peer.write('* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK Capability completed\r\n');
      if ((await peer.readLine()) !== 'a2 STARTTLS') return;
      peer.write('a2 OK Begin TLS negotiation now\r\n');
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'imap'));
  });

  it('imap: STARTTLS in the greeting capability code goes straight to STARTTLS', async () => {
    const server = await serve(async (peer) => {
      peer.write('* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED] Dovecot ready.\r\n');
      if ((await peer.readLine()) !== 'a2 STARTTLS') return;
      peer.write('* BAD untagged noise is ignored\r\na2 OK Begin TLS negotiation now\r\n');
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'imap'));
  });

  it('pop3: +OK greeting, CAPA lists STLS, STLS → +OK', async () => {
    const server = await serve(async (peer) => {
      peer.write('+OK POP3 ready\r\n');
      if ((await peer.readLine()) !== 'CAPA') return;
      peer.write('+OK Capability list follows\r\nTOP\r\nUSER\r\nSTLS\r\n.\r\n');
      if ((await peer.readLine()) !== 'STLS') return;
      peer.write('+OK Begin TLS negotiation\r\n');
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'pop3'));
  });

  it('pop3: a server without CAPA (-ERR) is still asked for STLS', async () => {
    const server = await serve(async (peer) => {
      peer.write('+OK POP3 ready\r\n');
      await peer.readLine();
      peer.write('-ERR unknown command\r\n');
      if ((await peer.readLine()) !== 'STLS') return;
      peer.write('+OK go\r\n');
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'pop3'));
  });

  it('ftp: multi-line 220 greeting, AUTH TLS → 234', async () => {
    const server = await serve(async (peer) => {
      peer.write('220-Welcome to the test FTP server\r\n  lines in between say anything\r\n220 ready\r\n');
      if ((await peer.readLine()) !== 'AUTH TLS') return;
      peer.write('234 Proceed with negotiation.\r\n');
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'ftp'));
  });

  it('ldap: the StartTLS extended request (RFC 4511 §4.14), answered success with long-form lengths', async () => {
    let request: Buffer | null = null;
    const server = await serve(async (peer) => {
      request = await peer.readBytes(startTlsRequest().length);
      peer.write(ldapExtendedResponse(0));
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'ldap'));
    // LDAPMessage { messageID 1, [APPLICATION 23] { [0] "1.3.6.1.4.1.1466.20037" } }, byte for byte.
    expect(request!.toString('hex')).toBe('301d02010177188016' + Buffer.from('1.3.6.1.4.1.1466.20037').toString('hex'));
  });

  it('xmpp: stream to the server name, starttls among the features, <proceed/>', async () => {
    let header = '';
    const server = await serve(async (peer) => {
      header = (await peer.readUntil("streams'>")) ?? '';
      peer.write(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>" +
          "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>" +
          "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
      );
      if ((await peer.readUntil('/>')) !== "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") return;
      peer.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'xmpp'));
    expect(header).toContain("to='localhost'");
  });

  it('postgres: SSLRequest (8, 80877103) answered S', async () => {
    let request: Buffer | null = null;
    const server = await serve(async (peer) => {
      request = await peer.readBytes(8);
      peer.write('S');
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'postgres'));
    expect(request).toEqual(SSL_REQUEST);
    expect(request!.readUInt32BE(4)).toBe(80877103);
  });

  it('mysql: handshake v10 with CLIENT_SSL, SSL request packet (sequence 1, 32 bytes, CLIENT_SSL|CLIENT_PROTOCOL_41)', async () => {
    let request: Buffer | null = null;
    const server = await serve(async (peer) => {
      peer.write(mysqlGreeting(0xffff));
      request = await peer.readBytes(36);
      peer.upgrade();
    });
    expectStapledProbe(await probe(server.port, 'mysql'));
    expect(request!.readUIntLE(0, 3)).toBe(32);
    expect(request![3]).toBe(1);
    const flags = request!.readUInt32LE(4);
    expect(flags & 0x800).toBe(0x800);
    expect(flags & 0x200).toBe(0x200);
    expect(request!.subarray(13)).toEqual(Buffer.alloc(23));
  });

  it('a server that staples nothing: the probe succeeds and reports the staple absent', async () => {
    const server = await serve(
      async (peer) => {
        if ((await smtpUntilStarttls(peer)) !== 'STARTTLS') return;
        peer.write('220 go ahead\r\n');
        peer.upgrade();
      },
      { ...identity, staple: null },
    );
    const result = await probe(server.port, 'smtp');
    expect(result.success).toBe(true);
    expect(result.chain?.verified).toBe(true);
    expect(result.staple?.present).toBe(false);
  });
});

describe('STARTTLS: refusals and hostile servers fail the probe with reason starttls (or timeout), the answer quoted', () => {
  it('smtp 454 to STARTTLS', async () => {
    const server = await serve(async (peer) => {
      if ((await smtpUntilStarttls(peer)) !== 'STARTTLS') return;
      peer.write('454 4.7.0 TLS not available due to local problem\r\n');
    });
    const result = await probe(server.port, 'smtp');
    expect(result).toMatchObject({ success: false, failureReason: 'starttls' });
    expect(result.error).toBe('the SMTP server refused at STARTTLS: "454 4.7.0 TLS not available due to local problem"');
  });

  it('smtp without STARTTLS among the EHLO keywords', async () => {
    const server = await serve(async (peer) => {
      await smtpUntilStarttls(peer, '250-mail.test\r\n250-SIZE 1000\r\n250 X-STARTTLS-LIKE\r\n');
    });
    const result = await probe(server.port, 'smtp');
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toBe('the SMTP server does not offer STARTTLS; EHLO answered "250-mail.test\\n250-SIZE 1000\\n250 X-STARTTLS-LIKE"');
  });

  it('a 554 greeting', async () => {
    const server = await serve(async (peer) => peer.write('554 no service for you\r\n'));
    const result = await probe(server.port, 'smtp');
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toContain('refused at greeting: "554 no service for you"');
  });

  it('imap without STARTTLS in the capabilities', async () => {
    const server = await serve(async (peer) => {
      peer.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n');
      await peer.readLine();
      peer.write('* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n');
      await peer.readLine();
    });
    const result = await probe(server.port, 'imap');
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toContain('does not list STARTTLS among its capabilities');
  });

  it('imap STARTTLS answered NO', async () => {
    const server = await serve(async (peer) => {
      peer.write('* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n');
      await peer.readLine();
      peer.write('a2 NO [UNAVAILABLE] TLS is broken today\r\n');
    });
    const result = await probe(server.port, 'imap');
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toBe('the IMAP server refused STARTTLS: "a2 NO [UNAVAILABLE] TLS is broken today"');
  });

  it('pop3 CAPA without STLS, and STLS answered -ERR', async () => {
    const noStls = await serve(async (peer) => {
      peer.write('+OK ready\r\n');
      await peer.readLine();
      peer.write('+OK\r\nUSER\r\n.\r\n');
    });
    expect((await probe(noStls.port, 'pop3')).error).toBe('the POP3 server does not list STLS among its capabilities: "USER"');
    const refusing = await serve(async (peer) => {
      peer.write('+OK ready\r\n');
      await peer.readLine();
      peer.write('+OK\r\nSTLS\r\n.\r\n');
      await peer.readLine();
      peer.write('-ERR not now\r\n');
    });
    const result = await probe(refusing.port, 'pop3');
    expect(result).toMatchObject({ failureReason: 'starttls', error: 'the POP3 server refused STLS: "-ERR not now"' });
  });

  it('ftp AUTH TLS answered 534', async () => {
    const server = await serve(async (peer) => {
      peer.write('220 ready\r\n');
      await peer.readLine();
      peer.write('534 Policy requires SSL... not\r\n');
    });
    const result = await probe(server.port, 'ftp');
    expect(result).toMatchObject({ failureReason: 'starttls', error: 'the FTP server refused at AUTH TLS: "534 Policy requires SSL... not"' });
  });

  it('ldap StartTLS answered protocolError (2)', async () => {
    const server = await serve(async (peer) => {
      await peer.readBytes(startTlsRequest().length);
      peer.write(ldapExtendedResponse(2, 'unsupported extended operation'));
    });
    const result = await probe(server.port, 'ldap');
    expect(result).toMatchObject({
      failureReason: 'starttls',
      error: 'the LDAP server refused StartTLS: resultCode 2 (protocolError): "unsupported extended operation"',
    });
  });

  it('xmpp without starttls among the features, and <failure/>', async () => {
    const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    const none = await serve(async (peer) => {
      await peer.readUntil("streams'>");
      peer.write(`${header}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>`);
    });
    const notOffered = await probe(none.port, 'xmpp');
    expect(notOffered.failureReason).toBe('starttls');
    expect(notOffered.error).toContain('does not offer STARTTLS; stream features: "<stream:features><mechanisms');
    const failing = await serve(async (peer) => {
      await peer.readUntil("streams'>");
      peer.write(`${header}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>`);
      await peer.readUntil('/>');
      peer.write("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>");
    });
    const refused = await probe(failing.port, 'xmpp');
    expect(refused).toMatchObject({ failureReason: 'starttls', error: `the XMPP server refused STARTTLS: "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"` });
  });

  it('postgres answering N', async () => {
    const server = await serve(async (peer) => {
      await peer.readBytes(8);
      peer.write('N');
    });
    expect(await probe(server.port, 'postgres')).toMatchObject({
      failureReason: 'starttls',
      error: 'the PostgreSQL server does not accept SSL (answered "N" to SSLRequest)',
    });
  });

  it('mysql without CLIENT_SSL, and an ERR packet', async () => {
    const noSsl = await serve(async (peer) => peer.write(mysqlGreeting(0xffff & ~0x800)));
    const result = await probe(noSsl.port, 'mysql');
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toMatch(/^the MySQL server "8\.0\.36-test" does not offer SSL \(no CLIENT_SSL/);
    const err = await serve(async (peer) => {
      const message = Buffer.from("Host '127.0.0.1' is not allowed to connect", 'latin1');
      const payload = Buffer.concat([Buffer.from([0xff, 0x6a, 0x04]), message]);
      peer.write(Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload]));
    });
    expect((await probe(err.port, 'mysql')).error).toBe(`the MySQL server refused the connection: error 1130: "Host '127.0.0.1' is not allowed to connect"`);
  });

  it('a reply trickled one byte every 100 ms never ends: the probe fails at its deadline, reason timeout', async () => {
    const server = await serve(async (peer) => {
      const reply = '220-' + 'x'.repeat(1000);
      for (let i = 0; i < reply.length && !peer.socket.destroyed; i++) {
        peer.write(reply[i]!);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    const started = Date.now();
    const result = await probe(server.port, 'smtp', 1.5);
    const elapsed = Date.now() - started;
    expect(result.failureReason).toBe('timeout');
    expect(result.error).toMatch(/^timed out during the SMTP STARTTLS dialogue \(\d+ bytes received\); last received: "220-x+"$/);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(2500);
  });

  it('a 1 MB greeting line: refused at the 8 KiB line bound, quickly, and the connection dropped', async () => {
    let written = 0;
    const server = await serve(async (peer) => {
      const chunk = Buffer.alloc(64 * 1024, 'a');
      chunk.write('220 ');
      for (let i = 0; i < 16 && !peer.socket.destroyed; i++) {
        peer.write(chunk);
        written += chunk.length;
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const started = Date.now();
    const result = await probe(server.port, 'smtp');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toMatch(/^the server sent a line longer than 8192 bytes in the SMTP dialogue: "220 a{196}"$/);
    expect(result.error!.length).toBeLessThan(300);
    expect(written).toBeGreaterThan(0);
  });

  it('1 MB of short continuation lines: refused at the 64 KiB dialogue bound', async () => {
    const server = await serve(async (peer) => {
      const lines = Buffer.from('220-hello there\r\n'.repeat(4096));
      for (let i = 0; i < 16 && !peer.socket.destroyed; i++) {
        peer.write(lines);
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const result = await probe(server.port, 'smtp');
    expect(result.failureReason).toBe('starttls');
    expect(result.error).toMatch(/^the server sent more than 65536 bytes in the SMTP dialogue; last received: "(ello there\\r\\n220-h)?.*"$/);
  });

  it('an LDAP response announcing 16 MB is refused before any of it is read', async () => {
    const server = await serve(async (peer) => {
      await peer.readBytes(startTlsRequest().length);
      peer.write(Buffer.from([0x30, 0x84, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01]));
    });
    const result = await probe(server.port, 'ldap');
    expect(result).toMatchObject({ failureReason: 'starttls', error: 'the server announced 16777216 bytes in the LDAP dialogue, more than the 65536 allowed' });
  });

  it('a server closing mid-dialogue: reason starttls, what it said last quoted', async () => {
    const server = await serve(async (peer) => {
      peer.write('220 mail.test\r\n');
      await peer.readLine();
      peer.write('250-mail.test\r\n');
      peer.socket.end();
    });
    const result = await probe(server.port, 'smtp');
    expect(result).toMatchObject({ failureReason: 'starttls', error: 'the server closed the connection during the SMTP dialogue; last received: "220 mail.test\\r\\n250-mail.test\\r\\n"' });
  });

  it('a server closing right after its go-ahead: the TLS handshake fails, reason tls', async () => {
    const server = await serve(async (peer) => {
      if ((await smtpUntilStarttls(peer)) !== 'STARTTLS') return;
      peer.write('220 go ahead\r\n');
      await new Promise((resolve) => setTimeout(resolve, 20));
      peer.socket.destroy();
    });
    const result = await probe(server.port, 'smtp');
    expect(result.success).toBe(false);
    expect(result.failureReason).toBe('tls');
  });

  it('bytes after the go-ahead (plaintext injection, CVE-2011-0411) are refused, not handed to TLS', async () => {
    const server = await serve(async (peer) => {
      if ((await smtpUntilStarttls(peer)) !== 'STARTTLS') return;
      peer.write('220 go ahead\r\n250 injected\r\n');
    });
    const result = await probe(server.port, 'smtp');
    expect(result).toMatchObject({ failureReason: 'starttls' });
    expect(result.error).toBe('the server sent 14 bytes after its SMTP STARTTLS go-ahead, before the TLS handshake: "250 injected\\r\\n"');
  });

  // Lines are read as Latin-1 (the protocols are ASCII): U+202E arrives as its three UTF-8 bytes, whose C1 byte is escaped.
  it('terminal escapes and bidi controls in an answer are escaped in the message', async () => {
    const server = await serve(async (peer) => peer.write('554 \x1b[2J\x1b]0;pwned\x07 \u202eevil\r\n'));
    const result = await probe(server.port, 'smtp');
    expect(result.error).toBe('the SMTP server refused at greeting: "554 \\x1b[2J\\x1b]0;pwned\\x07 â\\x80®evil"');
  });

  it('garbage instead of SMTP', async () => {
    const server = await serve(async (peer) => peer.write('HTTP/1.1 400 Bad Request\r\n'));
    expect(await probe(server.port, 'smtp')).toMatchObject({ failureReason: 'starttls', error: 'not an SMTP reply: "HTTP/1.1 400 Bad Request"' });
  });

  it('a server silent after its go-ahead: the TLS handshake times out at the deadline, reason timeout', async () => {
    const server = await serve(async (peer) => {
      if ((await smtpUntilStarttls(peer)) !== 'STARTTLS') return;
      peer.write('220 go ahead\r\n');
    });
    const result = await probe(server.port, 'smtp', 1);
    expect(result).toMatchObject({ failureReason: 'timeout', error: 'TLS handshake timed out' });
  });

  it('check --starttls prints the failure, its reason and the answer', async () => {
    const server = await serve(async (peer) => {
      if ((await smtpUntilStarttls(peer)) !== 'STARTTLS') return;
      peer.write('454 4.7.0 TLS not available\r\n');
    });
    let out = '';
    const io = { stdout: (text: string) => void (out += text), stderr: (text: string) => void (out += text) };
    const code = await runCheck(parseCheckArgs({ starttls: 'smtp', 'server-name': 'localhost' }, [`127.0.0.1:${server.port}`]), io as CommandIO);
    expect(code).toBe(EXIT.notGood);
    expect(out).toContain('FAILED (starttls): the SMTP server refused at STARTTLS: "454 4.7.0 TLS not available"');
  });

  it('nothing listening: reason connect, as without STARTTLS', async () => {
    const server = await serve(async () => {});
    const port = server.port;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    expect((await probe(port, 'smtp')).failureReason).toBe('connect');
  });
});
