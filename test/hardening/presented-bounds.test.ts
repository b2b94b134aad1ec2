/**
 * What the probe remembers of presented chains (src/probe/presented.ts) against a server that
 * presents a fresh large chain on every handshake: a new leaf and a new ~90 KB intermediate each
 * time (the most a client accepts is ~100 KB). Remembered chains are bounded by bytes, not only by
 * entry count: 1,000 such handshakes would otherwise keep ~90 MB alive.
 */
import { once } from 'node:events';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemEncode } from '../../src/pki/index.js';
import { presentedChainStats } from '../../src/probe/presented.js';
import { handshake } from '../../src/probe/tls.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { withHugeExtension } from './hostile.js';
import { describeGrowth, settledMemory } from './memory.js';

const HANDSHAKES = 1000;
const LIMIT_MIB = 48;

let pki: TestPki;
let server: tls.Server;
let port: number;

/** A copy of `der` with two bytes of its filler extension set from `i`: a distinct certificate, same key. */
function variant(der: Uint8Array, i: number): Uint8Array {
  const at = Buffer.from(der).indexOf(Buffer.from('41414141', 'hex'));
  const copy = der.slice();
  copy[at] = i & 0xff;
  copy[at + 1] = (i >> 8) & 0xff;
  return copy;
}

beforeAll(async () => {
  pki = await makeTestPki();
  const [leaf, intermediate] = await Promise.all([withHugeExtension(pki.leafEcdsa, 64), withHugeExtension(pki.intermediate, 90_000)]);
  let served = 0;
  server = tls.createServer({
    key: pki.leafEcdsa.keyPem,
    cert: leaf.pem,
    SNICallback: (_name, done) => {
      const i = served++;
      const cert = pemEncode(variant(leaf.der, i), 'CERTIFICATE') + pemEncode(variant(intermediate.der, i), 'CERTIFICATE');
      done(null, tls.createSecureContext({ key: pki.leafEcdsa.keyPem, cert }));
    },
  });
  server.on('secureConnection', (socket) => socket.end());
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('presented chains are remembered within a byte budget', () => {
  it(`${HANDSHAKES} handshakes, each with a new leaf and a new 90 KB intermediate, keep less than ${LIMIT_MIB} MiB`, async () => {
    const secureContext = tls.createSecureContext({ ca: [] });
    const before = await settledMemory();
    const fullReadsBefore = presentedChainStats.fullReads;
    for (let i = 0; i < HANDSHAKES; i++) {
      const result = await handshake({ address: '127.0.0.1', port, serverName: 'localhost', secureContext, deadlineMs: Date.now() + 5000 });
      if (!result.ok) throw new Error(`handshake ${i} failed: ${result.error}`);
      expect(result.chainDer).toHaveLength(2);
      expect(result.chainDer[1]!.length).toBeGreaterThan(90_000);
    }
    const after = await settledMemory();
    console.info(`${HANDSHAKES} fresh 90 KB chains: ${describeGrowth(before, after)}`);
    // Every chain was new, so every read was a full one (and remembered, up to the budget).
    expect(presentedChainStats.fullReads - fullReadsBefore).toBe(HANDSHAKES);
    expect(after.retainedMiB - before.retainedMiB).toBeLessThan(LIMIT_MIB);
  }, 120_000);
});
