/**
 * The TLS fuzz targets start where they should: every recorded flight still replays (a TLS 1.3
 * flight to a complete handshake with the staple, a TLS 1.2 one to the client's second flight), and
 * the re-encrypting target, fed an unmutated flight, completes the handshake too, so its mutations
 * reach the parsers behind the record layer rather than stopping at the AEAD check.
 */
import { describe, expect, it, vi } from 'vitest';
import { Rng, TARGETS } from './harness.js';
import { loadSeeds } from './seeds.js';
import { fuzzClient, loadFlights } from './tls-flights.js';
import { reencrypted } from './tls-targets.js';
import { HandshakeClient } from '../../src/tls-native/client.js';

const flights = loadFlights();

describe('recorded TLS flights', () => {
  it('come from Node and nginx, TLS 1.3 and 1.2', () => {
    expect(flights.some((f) => f.name.startsWith('node tls13'))).toBe(true);
    expect(flights.some((f) => f.name.startsWith('node tls12'))).toBe(true);
    expect(flights.filter((f) => f.name.startsWith('nginx')).length, 'nginx flights (fuzz/make-tls-flights.ts needs nginx)').toBeGreaterThan(0);
  });

  for (const flight of flights) {
    it(`${flight.name} replays`, () => {
      const client = fuzzClient(flight);
      client.start();
      const { send, outcome } = client.receive(flight.bytes);
      if (flight.maxVersion === 'TLSv1.3' && !flight.name.includes('HelloRetryRequest')) {
        expect(outcome).toMatchObject({ protocol: 'TLSv1.3' });
        expect(outcome?.staple).not.toBeNull();
      } else {
        // TLS 1.2: ClientKeyExchange, ChangeCipherSpec, Finished; after a HelloRetryRequest: CCS and the second ClientHello.
        expect(send.length).toBeGreaterThan(0);
      }
    });
  }
});

describe('HandshakeClient.tls13-decrypted', () => {
  it('an unmutated corpus entry, re-encrypted, completes the handshake with the staple', () => {
    const target = TARGETS.find((t) => t.name === 'HandshakeClient.tls13-decrypted')!;
    const corpus = target.corpus(loadSeeds());
    expect(corpus.length).toBeGreaterThanOrEqual(4);
    for (const [i, entry] of corpus.entries()) {
      let completed = 0;
      // Record sizes vary with the Rng; one-byte records of a 2 KB flight exceed the engine's record limit (refused, rightly).
      for (let seed = 1; seed <= 8; seed++) {
        const { flight, bytes } = reencrypted(entry, new Rng(seed));
        const client = fuzzClient(flight);
        client.start();
        try {
          if (client.receive(bytes).outcome?.staple) completed++;
        } catch (error) {
          expect((error as Error).message, `${flight.name} (corpus ${i}, rng ${seed})`).toMatch(/more than 512 records/);
        }
      }
      expect(completed, `corpus ${i}`).toBeGreaterThanOrEqual(4);
    }
  });
});

describe('bounds the fuzz contract relies on', () => {
  it('a flight fed byte by byte gives the same outcome as whole', () => {
    const flight = flights.find((f) => f.name.startsWith('nginx tls13'))!;
    const whole = fuzzClient(flight);
    whole.start();
    const expected = whole.receive(flight.bytes).outcome;
    const trickled = fuzzClient(flight);
    trickled.start();
    let outcome = null;
    for (let at = 0; at < flight.bytes.length && !outcome; at++) outcome = trickled.receive(flight.bytes.subarray(at, at + 1)).outcome;
    expect(outcome).toEqual(expected);
  });

  it('a record trickled byte by byte is joined once, not copied per byte', () => {
    const client = fuzzClient({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    client.start();
    // The first 18 KiB of a 128 KiB ServerHello in one record of the TLS 1.2 maximum (RFC 5246 §6.2.3: 2^14 + 2048).
    const record = Buffer.concat([Buffer.from([22, 3, 3, 0x48, 0x00, 2, 0x01, 0xff, 0xf0]), Buffer.alloc(0x4800 - 4)]);
    const concat = vi.spyOn(Buffer, 'concat');
    try {
      for (let at = 0; at < record.length; at++) expect(client.receive(record.subarray(at, at + 1)).send).toEqual([]);
      // Once at the header, once at the record's end (and once for the handshake buffer): before the fix, once per byte.
      expect(concat.mock.calls.length).toBeLessThan(8);
    } finally {
      concat.mockRestore();
    }
  });

  it('more than 384 KiB at once, or more than 512 records, is refused before it is buffered further', () => {
    const flood = fuzzClient({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
    flood.start();
    expect(() => flood.receive(Buffer.alloc(400 * 1024, 22))).toThrow(/more than 384 KiB/);
    const fragments = fuzzClient({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
    fragments.start();
    // A ServerHello header promising 64 KiB, then its bytes one per record: never a message end.
    const header = Buffer.from([2, 0x01, 0x00, 0x00]);
    expect(() => {
      for (const byte of [...header, ...Buffer.alloc(600)]) fragments.receive(Buffer.from([22, 3, 3, 0, 1, byte]));
    }).toThrow(/more than 512 records/);
  });
});
