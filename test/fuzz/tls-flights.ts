/**
 * Server flights for fuzzing the native TLS client (src/tls-native/client.ts): what real servers
 * (Node's OpenSSL server, nginx) sent in answer to one fixed ClientHello, recorded once by
 * `node --import tsx fuzz/make-tls-flights.ts` into test/fuzz/tls-flights.json. The client's
 * randomness (random, session id, X25519 key) is derived from fixed labels, so a recorded TLS 1.3
 * flight replays to a complete handshake and a TLS 1.2 one up to the client's second flight (its
 * ServerKeyExchange signature covers the fixed client random), and the fuzz run sees the same
 * inputs every time. Public material only: certificates, staples and a throwaway key share.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { HandshakeClient } from '../../src/tls-native/client.js';
import type { Version } from '../../src/tls-native/client-hello.js';

export interface RecordedFlight {
  /** Where it came from, e.g. "node tls13 TLS_AES_128_GCM_SHA256 x25519 ecdsa". */
  name: string;
  minVersion: Version;
  maxVersion: Version;
  /** Every byte the server sent until the client had its answer (or the outcome). */
  bytes: Buffer;
}

const fixed = (label: string): Buffer => createHash('sha256').update(`ocsp-exporter fuzz ${label}`).digest();

/** The client every flight was recorded with, and the fuzzer replays into. */
export function fuzzClient(versions: { minVersion: Version; maxVersion: Version }): HandshakeClient {
  return new HandshakeClient({
    serverName: 'localhost',
    ...versions,
    fixed: { random: fixed('random'), sessionId: fixed('session id'), x25519Private: fixed('x25519') },
  });
}

/** The fixed X25519 private key of {@link fuzzClient}, for re-encrypting mutated TLS 1.3 flights. */
export const FUZZ_X25519_PRIVATE = fixed('x25519');

/** Sends the fixed ClientHello to host:port and collects the server's flight (at most `timeoutMs`). */
export function recordFlight(host: string, port: number, name: string, versions: { minVersion: Version; maxVersion: Version }, timeoutMs = 5000): Promise<RecordedFlight> {
  return new Promise((resolve, reject) => {
    const client = fuzzClient(versions);
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error(`${name}: no complete flight within ${timeoutMs} ms`)), timeoutMs);
    const done = (error?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve({ name, ...versions, bytes: Buffer.concat(chunks) });
    };
    socket.once('connect', () => socket.write(client.start()));
    socket.on('error', (error) => done(error));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      try {
        const { send, outcome } = client.receive(chunk);
        // TLS 1.3: the outcome after the server's Finished; TLS 1.2: the client's second flight.
        if (outcome || send.length > 0) done();
      } catch (error) {
        done(new Error(`${name}: the recorded flight fails: ${(error as Error).message}`));
      }
    });
  });
}

export const TLS_FLIGHTS_FILE = new URL('./tls-flights.json', import.meta.url);

export function flightsToJson(flights: readonly RecordedFlight[]): string {
  return `${JSON.stringify(flights.map((f) => ({ ...f, bytes: f.bytes.toString('base64') })), null, 2)}\n`;
}

export function loadFlights(file: URL | string = TLS_FLIGHTS_FILE): RecordedFlight[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Array<Omit<RecordedFlight, 'bytes'> & { bytes: string }>;
  return raw.map((f) => ({ ...f, bytes: Buffer.from(f.bytes, 'base64') }));
}
