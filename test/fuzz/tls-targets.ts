/**
 * Fuzz targets for the native TLS client's record layer and handshake parsing (HandshakeClient):
 * mutated server flights, starting from real recorded ones (tls-flights.ts), fed in random chunks.
 * The contract: `receive` either returns or throws TlsAlertError, PeerAlertError or
 * UnsupportedError (src/tls-native/errors.ts), nothing else; the alert the engine would then send
 * is built without throwing; what stays buffered is within the engine's limits; an outcome, if
 * any, is well formed. TLS 1.3 protects everything after the ServerHello, so mutating those bytes
 * only reaches the AEAD check: the third target mutates the decrypted handshake messages and
 * encrypts them again under the flight's server handshake keys (derived from the fuzz client's
 * fixed key share), so the parsers behind the record layer see the mutations.
 */
import { createHash } from 'node:crypto';
import { Reader } from '../../src/tls-native/bytes.js';
import { NATIVE_LIMITS, type HandshakeClient } from '../../src/tls-native/client.js';
import { CIPHER_SUITE_BY_CODE, ContentType, ExtensionType, type CipherSuite } from '../../src/tls-native/constants.js';
import { PeerAlertError, TlsAlertError, UnsupportedError } from '../../src/tls-native/errors.js';
import { generateKeyShare } from '../../src/tls-native/key-exchange.js';
import { handshakeSecrets, trafficKeys } from '../../src/tls-native/key-schedule.js';
import { tls13Protection, type RecordProtection } from '../../src/tls-native/record-protection.js';
import type { FuzzTarget, Rng } from './harness.js';
import { ContractViolation } from './harness.js';
import { FUZZ_X25519_PRIVATE, fuzzClient, loadFlights, type RecordedFlight } from './tls-flights.js';

let flights: RecordedFlight[] | null = null;
function recorded(): RecordedFlight[] {
  flights ??= loadFlights();
  return flights;
}

/** Feeds `input` to `client` in random chunks (whole, bytewise or in between), checking the contract. */
function feed(client: HandshakeClient, input: Uint8Array, rng: Rng): void {
  const start = client.start();
  if (start.length === 0) throw new ContractViolation('no ClientHello');
  const bytes = Buffer.from(input);
  const chunkSize = rng.pick([bytes.length || 1, 1, 5, 1 + rng.int(64), 1 + rng.int(4096)]);
  try {
    for (let at = 0; at < bytes.length; at += chunkSize) {
      const { send, outcome } = client.receive(bytes.subarray(at, at + chunkSize));
      if (!Array.isArray(send) || send.some((b) => !Buffer.isBuffer(b) || b.length === 0)) throw new ContractViolation('receive returned something other than records to send');
      checkBuffered(client);
      if (outcome) {
        if (outcome.chainDer.length === 0) throw new ContractViolation('an outcome without a certificate');
        if (outcome.protocol !== 'TLSv1.2' && outcome.protocol !== 'TLSv1.3') throw new ContractViolation(`an outcome with protocol ${String(outcome.protocol)}`);
        if (!Buffer.isBuffer(client.closeNotify())) throw new ContractViolation('no close_notify after the outcome');
        return;
      }
    }
  } catch (error) {
    if (error instanceof ContractViolation) throw error;
    if (!(error instanceof TlsAlertError || error instanceof PeerAlertError || error instanceof UnsupportedError)) {
      throw new ContractViolation(`escaped ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} (only TlsAlertError, PeerAlertError, UnsupportedError allowed)`);
    }
    if (typeof error.message !== 'string' || error.message.length === 0) throw new ContractViolation(`${error.name} without a message`);
    let alert: Buffer | null;
    try {
      alert = client.failureAlert(error);
    } catch (inner) {
      throw new ContractViolation(`failureAlert threw ${(inner as Error).name}: ${(inner as Error).message}`);
    }
    if (error instanceof PeerAlertError ? alert !== null : !Buffer.isBuffer(alert)) throw new ContractViolation(`failureAlert gave ${String(alert)} for ${error.name}`);
  }
}

/** Bounded memory: the engine holds at most one record and one handshake message it has not consumed. */
function checkBuffered(client: HandshakeClient): void {
  const state = client as unknown as { inbound: Buffer; handshakeBuffer: Buffer; phase: string };
  if (state.phase === 'done') return;
  if (state.inbound.length > 5 + NATIVE_LIMITS.maxFragmentTls12) throw new ContractViolation(`${state.inbound.length} record bytes buffered`);
  if (state.handshakeBuffer.length > 4 + NATIVE_LIMITS.maxHandshakeMessage) throw new ContractViolation(`${state.handshakeBuffer.length} handshake bytes buffered`);
}

interface Tls13Keys {
  flight: RecordedFlight;
  /** The ServerHello record (and a ChangeCipherSpec if the server sent one), unprotected. */
  prefix: Buffer;
  suite: CipherSuite;
  key: Buffer;
  iv: Buffer;
  /** The handshake messages the flight carried under protection, decrypted. */
  plaintext: Buffer;
}

/** Reads the first record of a recorded TLS 1.3 flight (the ServerHello) and derives its server handshake keys. */
function tls13Keys(flight: RecordedFlight): Tls13Keys | null {
  const bytes = flight.bytes;
  if (bytes[0] !== ContentType.handshake || bytes[5] !== 2) return null;
  const serverHelloEnd = 5 + bytes.readUInt16BE(3);
  const serverHello = bytes.subarray(5, serverHelloEnd);
  const r = new Reader(serverHello.subarray(4), 'ServerHello');
  r.u16();
  const random = r.bytes(32);
  r.vector(1);
  const suite = CIPHER_SUITE_BY_CODE.get(r.u16());
  r.u8();
  const extensions = new Reader(r.vector(2), 'extensions');
  let share: Buffer | null = null;
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const body = extensions.vector(2);
    if (type === ExtensionType.keyShare && body.length > 4) share = Buffer.from(body.subarray(4));
  }
  // HelloRetryRequest (its fixed random) or a non-X25519 share: not re-encryptable with the fixed key.
  if (!suite || suite.version !== 'TLSv1.3' || !share || share.length !== 32 || random.toString('hex').startsWith('cf21ad74')) return null;
  const clientHello = fuzzClient(flight).start().subarray(5);
  const shared = generateKeyShare('x25519', FUZZ_X25519_PRIVATE).computeSecret(share);
  const helloHash = createHash(suite.hash).update(clientHello).update(serverHello).digest();
  const secrets = handshakeSecrets(suite.hash, shared, helloHash);
  const { key, iv } = trafficKeys(suite.hash, secrets.serverHandshakeTraffic, suite.keyLength);
  let at = serverHelloEnd;
  if (bytes[at] === ContentType.changeCipherSpec) at += 6;
  const prefix = bytes.subarray(0, at);
  const opener = tls13Protection(suite.cipher, key, iv);
  const parts: Buffer[] = [];
  while (at + 5 <= bytes.length) {
    const length = bytes.readUInt16BE(at + 3);
    const { type, plaintext } = opener.open(bytes[at]!, bytes.subarray(at + 5, at + 5 + length));
    if (type === ContentType.handshake) parts.push(plaintext);
    at += 5 + length;
  }
  return { flight, prefix, suite, key, iv, plaintext: Buffer.concat(parts) };
}

let keyed: Tls13Keys[] | null = null;
function tls13Keyed(): Tls13Keys[] {
  keyed ??= recorded().flatMap((f) => tls13Keys(f) ?? []);
  return keyed;
}

/** `plaintext` as TLS 1.3 records of random sizes (at most 2^14 bytes each), sealed with fresh server keys. */
function reencrypt(keys: Tls13Keys, plaintext: Buffer, rng: Rng): Buffer {
  const sealer: RecordProtection = tls13Protection(keys.suite.cipher, keys.key, keys.iv);
  const records: Buffer[] = [keys.prefix];
  const size = rng.pick([16_384, 1 + rng.int(16_384), 1 + rng.int(300), 1]);
  // No more records than the engine accepts (NATIVE_LIMITS.maxRecords), so the fuzzer's own sealing stays cheap.
  for (let at = 0; at < plaintext.length && records.length <= NATIVE_LIMITS.maxRecords + 1; at += size) {
    records.push(sealer.seal(ContentType.handshake, plaintext.subarray(at, at + size)));
  }
  // Now and then (never for the unmutated replay check, whose Rng is fixed) a record of another type under protection, where only handshake records belong.
  if (rng.next() < 0.05) records.push(sealer.seal(rng.pick([ContentType.alert, ContentType.applicationData, ContentType.changeCipherSpec, 0, 99]), Buffer.from(rng.bytes(rng.int(3)))));
  return Buffer.concat(records);
}

/** A corpus entry of HandshakeClient.tls13-decrypted as the server flight it stands for: its first byte picks the flight whose keys re-encrypt the rest. */
export function reencrypted(input: Uint8Array, rng: Rng): { flight: RecordedFlight; bytes: Buffer } {
  const all = tls13Keyed();
  const keys = all[(input[0] ?? 0) % all.length]!;
  return { flight: keys.flight, bytes: reencrypt(keys, Buffer.from(input.subarray(1)), rng) };
}

export const TLS_TARGETS: FuzzTarget[] = [
  {
    name: 'HandshakeClient.tls13',
    suiteIterations: 400,
    corpus: () => recorded().filter((f) => f.maxVersion === 'TLSv1.3').map((f) => new Uint8Array(f.bytes)),
    run(input, _seeds, rng) {
      feed(fuzzClient({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' }), input, rng);
    },
  },
  {
    name: 'HandshakeClient.tls12',
    suiteIterations: 800,
    corpus: () => recorded().filter((f) => f.maxVersion === 'TLSv1.2').map((f) => new Uint8Array(f.bytes)),
    run(input, _seeds, rng) {
      feed(fuzzClient({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), input, rng);
    },
  },
  {
    name: 'HandshakeClient.tls13-decrypted',
    suiteIterations: 250,
    corpus: () => tls13Keyed().map((k, i) => new Uint8Array(Buffer.concat([Buffer.from([i]), k.plaintext]))),
    run(input, _seeds, rng) {
      const { flight, bytes } = reencrypted(input, rng);
      feed(fuzzClient(flight), bytes, rng);
    },
  },
];
