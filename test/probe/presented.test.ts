/**
 * Reading the presented chain cheaply (src/probe/presented.ts), against a real TLS server on
 * 127.0.0.1 that changes what it presents between handshakes: the reuse of the last full read must
 * never outlive a change of leaf, of intermediates, of staple or of protocol.
 */
import { once } from 'node:events';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Issued } from '../../src/pki/index.js';
import { FULL_READ_INTERVAL_MS, presentedChainStats, readPresentedChain } from '../../src/probe/presented.js';
import { handshake } from '../../src/probe/tls.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
const servers: tls.Server[] = [];

/** A TLS server on 127.0.0.1 whose chain and staple the test changes between handshakes. */
interface ChangingServer {
  port: number;
  /** What it presents on the next handshake. */
  presenting: { key: Issued; certs: Issued[] };
  staple: Buffer | null;
}

async function startChangingServer(): Promise<ChangingServer> {
  const state: ChangingServer = { port: 0, presenting: { key: pki.leafEcdsa, certs: [pki.leafEcdsa, pki.intermediate] }, staple: null };
  const contextFor = (p: ChangingServer['presenting']) => tls.createSecureContext({ key: p.key.keyPem, cert: p.certs.map((c) => c.pem).join('') });
  const server = tls.createServer({
    ...{ key: pki.leafEcdsa.keyPem, cert: pki.leafEcdsa.pem },
    SNICallback: (_name, done) => done(null, contextFor(state.presenting)),
  });
  server.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer, done: (error: Error | null, response?: Buffer) => void) => done(null, state.staple ?? undefined));
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/** The server most tests use. */
let main: ChangingServer;

beforeAll(async () => {
  pki = await makeTestPki();
  main = await startChangingServer();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

const derOf = (certs: Issued[]): Buffer[] => certs.map((c) => Buffer.from(c.der));

/** One probe handshake with `secureContext`; the chain and whether it was a full read. */
async function probe(secureContext: tls.SecureContext, server = main): Promise<{ chain: Buffer[]; full: boolean }> {
  const before = presentedChainStats.fullReads;
  const result = await handshake({ address: '127.0.0.1', port: server.port, serverName: 'localhost', secureContext, deadlineMs: Date.now() + 2000 });
  if (!result.ok) throw new Error(`handshake failed: ${result.error}`);
  return { chain: result.chainDer, full: presentedChainStats.fullReads > before };
}

/** Sets what the main server presents next. */
function present(certs: Issued[], staple: Buffer | null = null): void {
  main.presenting = { key: certs[0]!, certs };
  main.staple = staple;
}

describe('presented chain: reuse of what full reads found', () => {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`an unchanged server is read in full once, then from its leaf (${version})`, async () => {
      present([pki.leafEcdsa, pki.intermediate]);
      const context = tls.createSecureContext({ ca: [], maxVersion: version });
      expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa, pki.intermediate]), full: true });
      for (let i = 0; i < 5; i++) {
        expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa, pki.intermediate]), full: false });
      }
    });

    it(`a dropped, added or extra certificate with the same leaf is seen at once (${version})`, async () => {
      const context = tls.createSecureContext({ ca: [], maxVersion: version });
      present([pki.leafEcdsa, pki.intermediate]);
      await probe(context);
      expect((await probe(context)).full).toBe(false);

      present([pki.leafEcdsa]); // the classic missing intermediate
      expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa]), full: true });
      expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa]), full: false });

      present([pki.leafEcdsa, pki.intermediate, pki.root]);
      expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa, pki.intermediate, pki.root]), full: true });

      // Back to a chain a full read has already seen: known by its size, no new full read needed.
      present([pki.leafEcdsa, pki.intermediate]);
      expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa, pki.intermediate]), full: false });
      present([pki.leafEcdsa]);
      expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa]), full: false });
    });
  }

  it('a new leaf is always read, and so is its chain', async () => {
    const context = tls.createSecureContext({ ca: [] });
    present([pki.leafEcdsa, pki.intermediate]);
    await probe(context);
    present([pki.leafMustStaple, pki.intermediate]);
    expect(await probe(context)).toEqual({ chain: derOf([pki.leafMustStaple, pki.intermediate]), full: true });
    // A leaf of another issuer, with that issuer's "intermediate" (the stranger CA) presented.
    present([pki.strangerLeaf, pki.strangerCa]);
    expect(await probe(context)).toEqual({ chain: derOf([pki.strangerLeaf, pki.strangerCa]), full: true });
  });

  it('a staple appearing, changing size or going away does not hide a chain change', async () => {
    const context = tls.createSecureContext({ ca: [] });
    present([pki.leafEcdsa, pki.intermediate]);
    await probe(context);
    present([pki.leafEcdsa, pki.intermediate], Buffer.alloc(300, 1));
    expect((await probe(context)).full).toBe(true); // stapled now: another kind of handshake
    present([pki.leafEcdsa, pki.intermediate], Buffer.alloc(900, 1));
    expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa, pki.intermediate]), full: false });
    // A staple that grows by exactly the intermediate's size while the intermediate goes away.
    present([pki.leafEcdsa], Buffer.alloc(900 + pki.intermediate.der.length, 1));
    expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa]), full: true });
    // No staple and no intermediate: unlike the first handshake without a staple.
    present([pki.leafEcdsa]);
    expect(await probe(context)).toEqual({ chain: derOf([pki.leafEcdsa]), full: true });
  });

  it('what one address presented serves another with the same leaf and size, never one without', async () => {
    const context = tls.createSecureContext({ ca: [] });
    present([pki.leafEcdsa, pki.intermediate]);
    const sameChain = await startChangingServer();
    const missingIntermediate = await startChangingServer();
    missingIntermediate.presenting = { key: pki.leafEcdsa, certs: [pki.leafEcdsa] };
    expect((await probe(context)).full).toBe(true);
    expect(await probe(context, sameChain)).toEqual({ chain: derOf([pki.leafEcdsa, pki.intermediate]), full: false });
    expect(await probe(context, missingIntermediate)).toEqual({ chain: derOf([pki.leafEcdsa]), full: true });
  });

  it('each TLS context (module, config version) keeps its own record', async () => {
    present([pki.leafEcdsa, pki.intermediate]);
    const one = tls.createSecureContext({ ca: [] });
    const other = tls.createSecureContext({ ca: [] });
    expect((await probe(one)).full).toBe(true);
    expect((await probe(other)).full).toBe(true);
    expect((await probe(one)).full).toBe(false);
  });

  it(`every address is read in full within ${FULL_READ_INTERVAL_MS / 60_000} minutes of first sight, and that often after`, async () => {
    present([pki.leafEcdsa, pki.intermediate]);
    const secureContext = tls.createSecureContext({ ca: [] });
    const readAt = async (key: string, nowMs: number): Promise<boolean> => {
      const socket = tls.connect({ host: '127.0.0.1', port: main.port, servername: 'localhost', secureContext, rejectUnauthorized: false });
      await once(socket, 'secureConnect');
      const before = presentedChainStats.fullReads;
      const chain = readPresentedChain(socket, { secureContext, key, protocol: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher().standardName, stapleLength: null, nowMs });
      socket.destroy();
      expect(chain).toEqual(derOf([pki.leafEcdsa, pki.intermediate]));
      return presentedChainStats.fullReads > before;
    };
    const t0 = 1_800_000_000_000;
    expect(await readAt('a', t0)).toBe(true); // nothing known yet
    expect(await readAt('a', t0 + FULL_READ_INTERVAL_MS - 1)).toBe(false);
    expect(await readAt('a', t0 + FULL_READ_INTERVAL_MS)).toBe(true);
    expect(await readAt('a', t0 + FULL_READ_INTERVAL_MS + 1)).toBe(false);
    // Another address with the same handshake: served from what 'a' found, then read on its own.
    expect(await readAt('b', t0 + 1000)).toBe(false);
    expect(await readAt('b', t0 + 1000 + FULL_READ_INTERVAL_MS - 1)).toBe(false);
    expect(await readAt('b', t0 + 1000 + FULL_READ_INTERVAL_MS)).toBe(true);
  });
});
