/**
 * A TLS client handshake as a sans-I/O state machine: bytes in (`receive`), bytes out, and once the
 * handshake is complete the staple, the presented chain and the negotiated parameters. TLS 1.3
 * (RFC 8446, full handshake with (EC)DHE, HelloRetryRequest, the staple in the leaf's
 * CertificateEntry) and TLS 1.2 (RFC 5246 with ECDHE and AEAD suites, RFC 7627 extended master
 * secret, CertificateStatus of RFC 6066 §8). The server is authenticated as far as a staple check
 * needs: its CertificateVerify (or ServerKeyExchange signature) and Finished are verified, so the
 * staple and chain are the ones of the server holding the key. Chain and name are judged later, as
 * for Node's handshake (x509/chain.ts). Everything is bounded: record and message sizes, bytes,
 * records and certificates; a violation is a `TlsAlertError`, the server's alert a `PeerAlertError`.
 */
import { createHash, randomBytes, timingSafeEqual, X509Certificate, verify as verifySignature, constants as cryptoConstants, type Hash, type KeyObject } from 'node:crypto';
import { readCertificateInfo } from '../x509/certificate.js';
import { handshakeMessage, Reader, u16, u24, u8, vector } from './bytes.js';
import { buildClientHello, OFFERED_GROUPS, type Version } from './client-hello.js';
import {
  ALERT_NAMES,
  CIPHER_SUITE_BY_CODE,
  ContentType,
  DOWNGRADE_TLS12,
  ExtensionType,
  GROUP_NAMES,
  HandshakeType,
  HELLO_RETRY_REQUEST_RANDOM,
  ProtocolVersion,
  SIGNATURE_SCHEME_BY_CODE,
  type CipherSuite,
  type NamedGroup,
  type SignatureScheme,
} from './constants.js';
import { PeerAlertError, TlsAlertError, TlsDecodeError, UnsupportedError } from './errors.js';
import { generateKeyShare, reusableKeyShare, type KeyShare } from './key-exchange.js';
import { applicationSecrets, finishedVerifyData, handshakeSecrets, masterSecret12, prf12, trafficKeys, type HashName } from './key-schedule.js';
import { tls12Protection, tls13Protection, type RecordProtection } from './record-protection.js';

export interface HandshakeClientOptions {
  serverName: string | null;
  minVersion: Version;
  maxVersion: Version;
  /** Fixed randomness, for test vectors only. */
  fixed?: { random: Buffer; sessionId: Buffer; x25519Private?: Buffer; /** Used as the ClientHello message instead of the one built. */ clientHello?: Buffer };
}

export interface HandshakeOutcome {
  /** The stapled OCSP response; null when the server stapled nothing. */
  staple: Buffer | null;
  /** DER, leaf first, exactly as presented. */
  chainDer: Buffer[];
  protocol: Version;
  /** IANA name of the suite, as Node's `standardName`. */
  cipher: string;
}

/** Bounds on what a server may send during one handshake. */
export const NATIVE_LIMITS = {
  /** TLSCiphertext.length of TLS 1.3 (RFC 8446 §5.2); TLS 1.2 allows 2^14 + 2048 (RFC 5246 §6.2.3). */
  maxFragmentTls13: 16_384 + 256,
  maxFragmentTls12: 16_384 + 2_048,
  /** One handshake message (a certificate chain is the largest; OpenSSL's default cap is 100 KiB). */
  maxHandshakeMessage: 128 * 1024,
  /** All bytes the server may send before the handshake completes. */
  maxBytes: 384 * 1024,
  maxRecords: 512,
  /** Node's client takes a 100-certificate chain (the chain walk is capped later, x509/chain.ts). */
  maxCertificates: 256,
  /** TLS 1.3 compatibility-mode ChangeCipherSpec records ignored (RFC 8446 §5): one is normal. */
  maxChangeCipherSpecs: 2,
} as const;

type Phase =
  | 'server_hello'
  | 'tls13_encrypted_extensions'
  | 'tls13_certificate'
  | 'tls13_certificate_verify'
  | 'tls13_finished'
  | 'tls12_certificate'
  | 'tls12_after_certificate'
  | 'tls12_key_exchange'
  | 'tls12_hello_done'
  | 'tls12_server_change_cipher_spec'
  | 'tls12_finished'
  | 'done';

/** What a server's alert or behaviour in the first exchange means: Node's TLS might still succeed, offering more. */
export function isFallbackWorthy(error: unknown): boolean {
  return error instanceof UnsupportedError;
}

export class HandshakeClient {
  private phase: Phase = 'server_hello';
  private readonly clientRandom: Buffer;
  private readonly sessionId: Buffer;
  private keyShare: KeyShare | null;
  private clientHello: Buffer;
  /** Handshake messages before the hash is known (up to ServerHello), then the running hash. */
  private pendingTranscript: Buffer[] = [];
  private transcript: Hash | null = null;
  private hash: HashName = 'sha256';
  private suite: CipherSuite | null = null;
  private version: Version | null = null;
  private retried = false;
  private serverRandom: Buffer = Buffer.alloc(0);

  private inbound: Buffer = Buffer.alloc(0);
  /** Bytes received after `inbound` and not yet joined to it, and how many `inbound` needs for its next header or record. */
  private inboundTail: Buffer[] = [];
  private inboundTailLength = 0;
  private inboundNeeded = 5;
  private handshakeBuffer: Buffer = Buffer.alloc(0);
  private bytesReceived = 0;
  private recordsReceived = 0;
  private changeCipherSpecs = 0;
  private readProtection: RecordProtection | null = null;
  private writeProtection: RecordProtection | null = null;
  private readonly outbox: Buffer[] = [];
  private sentChangeCipherSpec = false;

  private chainDer: Buffer[] = [];
  private staple: Buffer | null = null;
  private leafKey: KeyObject | null = null;
  private certificateRequest: { context: Buffer } | null = null;
  private clientHandshakeTraffic: Buffer = Buffer.alloc(0);
  private serverHandshakeTraffic: Buffer = Buffer.alloc(0);
  private handshakeSecret: Buffer = Buffer.alloc(0);
  // TLS 1.2
  private statusRequestAcknowledged = false;
  private extendedMasterSecret = false;
  private sessionTicketAcknowledged = false;
  private serverKeyExchange: { group: NamedGroup; publicKey: Buffer } | null = null;
  private master12: Buffer = Buffer.alloc(0);
  private serverProtection12: RecordProtection | null = null;

  private outcome: HandshakeOutcome | null = null;

  constructor(private readonly options: HandshakeClientOptions) {
    const tls13 = options.maxVersion === 'TLSv1.3';
    if (options.fixed) {
      this.clientRandom = options.fixed.random;
      this.sessionId = options.fixed.sessionId;
      this.keyShare = tls13 ? generateKeyShare('x25519', options.fixed.x25519Private) : null;
    } else {
      // One call for both (each call costs ~5 µs of OpenSSL's per-call overhead).
      const random = randomBytes(64);
      this.clientRandom = random.subarray(0, 32);
      this.sessionId = random.subarray(32);
      this.keyShare = tls13 ? reusableKeyShare('x25519') : null;
    }
    this.clientHello = options.fixed?.clientHello ?? this.buildHello(null);
  }

  private buildHello(cookie: Buffer | null): Buffer {
    return buildClientHello({
      random: this.clientRandom,
      sessionId: this.sessionId,
      serverName: this.options.serverName,
      minVersion: this.options.minVersion,
      maxVersion: this.options.maxVersion,
      keyShare: this.keyShare,
      cookie,
    });
  }

  private isDone(): boolean {
    return this.phase === 'done';
  }

  /** The first flight: the ClientHello record. */
  start(): Buffer {
    this.pendingTranscript.push(this.clientHello);
    // OpenSSL writes the first ClientHello's record with version TLS 1.0 for old middleboxes (RFC 8446 §5.1).
    return plaintextRecord(ContentType.handshake, this.clientHello, 0x0301);
  }

  /** Feeds bytes from the server; returns the bytes to send, and the outcome once the handshake is complete. */
  receive(data: Buffer): { send: Buffer[]; outcome: HandshakeOutcome | null } {
    if (this.phase === 'done') return { send: [], outcome: null };
    this.bytesReceived += data.length;
    if (this.bytesReceived > NATIVE_LIMITS.maxBytes) {
      throw new TlsAlertError('unexpected_message', `the server sent more than ${NATIVE_LIMITS.maxBytes / 1024} KiB without completing the handshake`);
    }
    // Join only once the next record header or the whole record is there: a server trickling bytes
    // must not cost a copy of the partial record per byte (quadratic in the record size).
    this.inboundTail.push(data);
    this.inboundTailLength += data.length;
    if (this.inbound.length + this.inboundTailLength < this.inboundNeeded) return { send: [], outcome: null };
    this.inbound = this.inbound.length === 0 && this.inboundTail.length === 1 ? data : Buffer.concat([this.inbound, ...this.inboundTail]);
    this.inboundTail = [];
    this.inboundTailLength = 0;
    while (!this.isDone() && this.inbound.length >= 5) {
      const type = this.inbound[0]!;
      const major = this.inbound[1]!;
      const length = this.inbound.readUInt16BE(3);
      if (type < ContentType.changeCipherSpec || type > ContentType.applicationData || major !== 3) {
        throw new TlsAlertError('decode_error', `the server did not answer with TLS (first bytes ${describeBytes(this.inbound.subarray(0, 8))})`);
      }
      const limit = this.version === 'TLSv1.3' ? NATIVE_LIMITS.maxFragmentTls13 : NATIVE_LIMITS.maxFragmentTls12;
      if (length > limit) throw new TlsAlertError('record_overflow', `a record of ${length} bytes (at most ${limit} allowed)`);
      if (this.inbound.length < 5 + length) break;
      const fragment = this.inbound.subarray(5, 5 + length);
      this.inbound = this.inbound.subarray(5 + length);
      if (++this.recordsReceived > NATIVE_LIMITS.maxRecords) throw new TlsAlertError('unexpected_message', `more than ${NATIVE_LIMITS.maxRecords} records during the handshake`);
      this.handleRecord(type, fragment);
    }
    this.inboundNeeded = this.inbound.length < 5 ? 5 : 5 + this.inbound.readUInt16BE(3);
    const send = this.outbox.splice(0);
    const outcome = this.isDone() ? this.outcome : null;
    return { send, outcome };
  }

  /** A close_notify alert for after the handshake (RFC 8446 §6.1), protected as the connection now is. */
  closeNotify(): Buffer {
    return this.alertRecord(1, 0);
  }

  /** A fatal alert record for `error`, protected when keys are in use; null when nothing should be sent (the server's own alert). */
  failureAlert(error: unknown): Buffer | null {
    if (error instanceof PeerAlertError) return null;
    const name = error instanceof TlsAlertError ? error.alert : 'internal_error';
    const code = [...ALERT_NAMES].find(([, n]) => n === name)?.[0] ?? 80;
    return this.alertRecord(2, code);
  }

  private alertRecord(level: number, description: number): Buffer {
    const body = Buffer.from([level, description]);
    return this.writeProtection ? this.writeProtection.seal(ContentType.alert, body) : plaintextRecord(ContentType.alert, body);
  }

  private handleRecord(type: number, fragment: Buffer): void {
    if (type === ContentType.changeCipherSpec) {
      this.handleChangeCipherSpec(fragment);
      return;
    }
    let contentType = type;
    let plaintext = fragment;
    if (this.readProtection) ({ type: contentType, plaintext } = this.readProtection.open(type, fragment));
    else if (type === ContentType.applicationData) throw new TlsAlertError('unexpected_message', 'application data before the handshake');
    if (this.handshakeBuffer.length > 0 && contentType !== ContentType.handshake) {
      throw new TlsAlertError('unexpected_message', 'a record of another type inside a fragmented handshake message (RFC 8446 §5.1)');
    }
    if (contentType === ContentType.alert) this.handleAlert(plaintext);
    else if (contentType === ContentType.handshake) this.handleHandshakeBytes(plaintext);
    else throw new TlsAlertError('unexpected_message', `a record of type ${contentType} during the handshake`);
  }

  private handleChangeCipherSpec(fragment: Buffer): void {
    if (fragment.length !== 1 || fragment[0] !== 1) throw new TlsAlertError('unexpected_message', 'a malformed ChangeCipherSpec');
    if (this.phase === 'tls12_server_change_cipher_spec') {
      this.readProtection = this.serverProtection12;
      this.phase = 'tls12_finished';
      return;
    }
    // TLS 1.3 middlebox compatibility (RFC 8446 §5): one unprotected CCS between hellos and Finished is dropped.
    if (this.version === 'TLSv1.3' || (this.phase === 'server_hello' && this.retried)) {
      if (++this.changeCipherSpecs > NATIVE_LIMITS.maxChangeCipherSpecs) throw new TlsAlertError('unexpected_message', 'repeated ChangeCipherSpec records');
      return;
    }
    throw new TlsAlertError('unexpected_message', `a ChangeCipherSpec at ${this.phase}`);
  }

  private handleAlert(body: Buffer): void {
    if (body.length !== 2) throw new TlsAlertError('decode_error', 'a malformed alert');
    const [level, description] = [body[0]!, body[1]!];
    const name = ALERT_NAMES.get(description) ?? `alert ${description}`;
    if (description === 0) throw new PeerAlertError(level, description, 'the server closed the connection (close_notify) before the handshake completed');
    const message = `the server sent alert ${name} (${description})${this.phase === 'server_hello' ? ' in answer to the ClientHello' : ` at ${this.phase}`}`;
    // Refusing the hello may mean it wants a suite, group or version this engine does not offer; Node's TLS offers more.
    if (this.phase === 'server_hello' && [40, 70, 71, 47].includes(description)) throw new UnsupportedError(message);
    throw new PeerAlertError(level, description, message);
  }

  private handleHandshakeBytes(data: Buffer): void {
    if (data.length === 0) throw new TlsAlertError('unexpected_message', 'an empty handshake record');
    this.handshakeBuffer = this.handshakeBuffer.length === 0 ? data : Buffer.concat([this.handshakeBuffer, data]);
    while (!this.isDone() && this.handshakeBuffer.length >= 4) {
      const type = this.handshakeBuffer[0]!;
      const length = (this.handshakeBuffer[1]! << 16) | (this.handshakeBuffer[2]! << 8) | this.handshakeBuffer[3]!;
      if (length > NATIVE_LIMITS.maxHandshakeMessage) {
        throw new TlsAlertError('unexpected_message', `a handshake message (type ${type}) of ${length} bytes (at most ${NATIVE_LIMITS.maxHandshakeMessage} allowed)`);
      }
      if (this.handshakeBuffer.length < 4 + length) break;
      const raw = this.handshakeBuffer.subarray(0, 4 + length);
      this.handshakeBuffer = this.handshakeBuffer.subarray(4 + length);
      this.handleMessage(type, raw.subarray(4), raw);
    }
    // RFC 8446 §5.1: a key change must fall on a record boundary.
    if (this.handshakeBuffer.length > 0 && this.isDone()) throw new TlsAlertError('unexpected_message', 'handshake data after the Finished in the same record');
  }

  private addToTranscript(message: Buffer): void {
    if (this.transcript) this.transcript.update(message);
    else this.pendingTranscript.push(message);
  }

  private transcriptHash(): Buffer {
    return this.transcript!.copy().digest();
  }

  private startTranscript(hash: HashName, first: Buffer[]): void {
    this.hash = hash;
    this.transcript = createHash(hash);
    for (const m of first) this.transcript.update(m);
    this.pendingTranscript = [];
  }

  private handleMessage(type: number, body: Buffer, raw: Buffer): void {
    const expect = (wanted: number, name: string): void => {
      if (type !== wanted) throw new TlsAlertError('unexpected_message', `expected ${name}, got handshake message type ${type}`);
    };
    switch (this.phase) {
      case 'server_hello':
        expect(HandshakeType.serverHello, 'ServerHello');
        this.onServerHello(body, raw);
        return;
      case 'tls13_encrypted_extensions':
        expect(HandshakeType.encryptedExtensions, 'EncryptedExtensions');
        {
          const r = new Reader(body, 'EncryptedExtensions');
          parseExtensions(r.vector(2), 'EncryptedExtensions');
          r.end();
        }
        this.addToTranscript(raw);
        this.phase = 'tls13_certificate';
        return;
      case 'tls13_certificate':
        if (type === HandshakeType.certificateRequest && !this.certificateRequest) {
          const r = new Reader(body, 'CertificateRequest');
          const context = r.vector(1);
          parseExtensions(r.vector(2), 'CertificateRequest');
          r.end();
          this.certificateRequest = { context: Buffer.from(context) };
          this.addToTranscript(raw);
          return;
        }
        expect(HandshakeType.certificate, 'Certificate');
        this.onCertificate13(body);
        this.addToTranscript(raw);
        this.phase = 'tls13_certificate_verify';
        return;
      case 'tls13_certificate_verify':
        expect(HandshakeType.certificateVerify, 'CertificateVerify');
        this.onCertificateVerify(body);
        this.addToTranscript(raw);
        this.phase = 'tls13_finished';
        return;
      case 'tls13_finished':
        expect(HandshakeType.finished, 'Finished');
        this.onServerFinished13(body, raw);
        return;
      case 'tls12_certificate':
        expect(HandshakeType.certificate, 'Certificate');
        this.onCertificate12(body);
        this.addToTranscript(raw);
        this.phase = 'tls12_after_certificate';
        return;
      case 'tls12_after_certificate':
      case 'tls12_key_exchange':
        // A server may acknowledge status_request and still send no CertificateStatus (RFC 6066 §8).
        if (this.phase === 'tls12_after_certificate' && type === HandshakeType.certificateStatus && this.statusRequestAcknowledged) {
          this.staple = parseCertificateStatus(body);
          this.addToTranscript(raw);
          this.phase = 'tls12_key_exchange';
          return;
        }
        expect(HandshakeType.serverKeyExchange, 'ServerKeyExchange (an ECDHE suite was chosen)');
        this.onServerKeyExchange(body);
        this.addToTranscript(raw);
        this.phase = 'tls12_hello_done';
        return;
      case 'tls12_hello_done':
        if (type === HandshakeType.certificateRequest && !this.certificateRequest) {
          const r = new Reader(body, 'CertificateRequest');
          r.vector(1);
          r.vector(2);
          r.vector(2);
          r.end();
          this.certificateRequest = { context: Buffer.alloc(0) };
          this.addToTranscript(raw);
          return;
        }
        expect(HandshakeType.serverHelloDone, 'ServerHelloDone');
        if (body.length !== 0) throw new TlsDecodeError('ServerHelloDone: not empty');
        this.addToTranscript(raw);
        this.sendClientFlight12();
        return;
      case 'tls12_server_change_cipher_spec':
        if (type === HandshakeType.newSessionTicket && this.sessionTicketAcknowledged) {
          const r = new Reader(body, 'NewSessionTicket');
          r.bytes(4);
          r.vector(2);
          r.end();
          this.addToTranscript(raw);
          return;
        }
        throw new TlsAlertError('unexpected_message', `expected the server's ChangeCipherSpec, got handshake message type ${type}`);
      case 'tls12_finished':
        expect(HandshakeType.finished, 'Finished');
        this.onServerFinished12(body);
        return;
      case 'done':
        return;
    }
  }

  private onServerHello(body: Buffer, raw: Buffer): void {
    const r = new Reader(body, 'ServerHello');
    const legacyVersion = r.u16();
    const random = Buffer.from(r.bytes(32));
    const sessionIdEcho = r.vector(1);
    const suiteCode = r.u16();
    const compression = r.u8();
    const extensions = r.remaining > 0 ? parseExtensions(r.vector(2), 'ServerHello') : new Map<number, Buffer>();
    r.end();
    if (compression !== 0) throw new TlsAlertError('illegal_parameter', 'the server chose a compression method');
    const supportedVersion = extensions.get(ExtensionType.supportedVersions);

    if (supportedVersion) {
      const version = readU16Exactly(supportedVersion, 'supported_versions');
      if (version !== ProtocolVersion.tls13 || this.options.maxVersion !== 'TLSv1.3') {
        throw new TlsAlertError('illegal_parameter', `the server selected version 0x${version.toString(16)} in supported_versions`);
      }
      if (!sessionIdEcho.equals(this.sessionId)) throw new TlsAlertError('illegal_parameter', 'the server did not echo the legacy session id');
      const suite = CIPHER_SUITE_BY_CODE.get(suiteCode);
      if (!suite || suite.version !== 'TLSv1.3') throw new TlsAlertError('illegal_parameter', `the server chose suite 0x${suiteCode.toString(16)}, which was not offered for TLS 1.3`);
      if (random.equals(HELLO_RETRY_REQUEST_RANDOM)) {
        this.onHelloRetryRequest(suite, extensions, raw);
        return;
      }
      this.onServerHello13(suite, random, extensions, raw);
      return;
    }

    if (legacyVersion !== ProtocolVersion.tls12) {
      throw new TlsAlertError('protocol_version', `the server chose ${legacyVersion === 0x0302 ? 'TLS 1.1' : legacyVersion === 0x0301 ? 'TLS 1.0' : `version 0x${legacyVersion.toString(16)}`}, below the module's minimum`);
    }
    if (this.options.minVersion === 'TLSv1.3') throw new TlsAlertError('protocol_version', 'the server chose TLS 1.2, below the module\'s min_version TLSv1.3');
    if (this.retried) throw new TlsAlertError('illegal_parameter', 'a TLS 1.2 ServerHello after a HelloRetryRequest');
    // RFC 8446 §4.1.3: a TLS 1.3-capable server negotiating 1.2 with a 1.3 client marks its random.
    if (this.options.maxVersion === 'TLSv1.3' && random.subarray(24).equals(DOWNGRADE_TLS12)) {
      throw new TlsAlertError('illegal_parameter', 'the server signals a downgrade to TLS 1.2 (RFC 8446 §4.1.3)');
    }
    const suite = CIPHER_SUITE_BY_CODE.get(suiteCode);
    if (!suite || suite.version !== 'TLSv1.2') throw new TlsAlertError('illegal_parameter', `the server chose suite 0x${suiteCode.toString(16)}, which was not offered for TLS 1.2`);
    for (const type of extensions.keys()) {
      if (![ExtensionType.statusRequest, ExtensionType.extendedMasterSecret, ExtensionType.sessionTicket, ExtensionType.renegotiationInfo, ExtensionType.ecPointFormats, ExtensionType.serverName, ExtensionType.encryptThenMac].includes(type as never)) {
        throw new TlsAlertError('unsupported_extension', `the server answered with extension ${type}, which was not offered`);
      }
    }
    this.version = 'TLSv1.2';
    this.suite = suite;
    this.serverRandom = random;
    this.statusRequestAcknowledged = extensions.has(ExtensionType.statusRequest);
    this.extendedMasterSecret = extensions.has(ExtensionType.extendedMasterSecret);
    this.sessionTicketAcknowledged = extensions.has(ExtensionType.sessionTicket);
    this.startTranscript(suite.hash, [...this.pendingTranscript, raw]);
    this.phase = 'tls12_certificate';
  }

  private onHelloRetryRequest(suite: CipherSuite, extensions: Map<number, Buffer>, raw: Buffer): void {
    if (this.retried) throw new TlsAlertError('unexpected_message', 'a second HelloRetryRequest');
    this.retried = true;
    const keyShare = extensions.get(ExtensionType.keyShare);
    const cookie = extensions.get(ExtensionType.cookie);
    let group: NamedGroup | undefined = this.keyShare?.group;
    if (keyShare) {
      const code = readU16Exactly(keyShare, 'key_share (HelloRetryRequest)');
      group = GROUP_NAMES.get(code);
      if (!group || !OFFERED_GROUPS.includes(group)) throw new UnsupportedError(`the server asks for key share group 0x${code.toString(16)}, which the native engine does not offer`);
      if (group === this.keyShare?.group) throw new TlsAlertError('illegal_parameter', 'a HelloRetryRequest for the group already offered');
      this.keyShare = reusableKeyShare(group);
    }
    let cookieValue: Buffer | null = null;
    if (cookie) {
      const r = new Reader(cookie, 'cookie');
      cookieValue = Buffer.from(r.vector(2, 1));
      r.end();
    }
    // RFC 8446 §4.4.1: the transcript restarts with message_hash(ClientHello1), then the HRR.
    const first = createHash(suite.hash).update(this.pendingTranscript[0]!).digest();
    const messageHash = handshakeMessage(HandshakeType.messageHash, first);
    this.clientHello = this.buildHello(cookieValue);
    this.suite = suite;
    this.pendingTranscript = [messageHash, raw, this.clientHello];
    // Middlebox compatibility: OpenSSL sends its CCS before the second ClientHello.
    this.outbox.push(changeCipherSpecRecord());
    this.sentChangeCipherSpec = true;
    this.outbox.push(plaintextRecord(ContentType.handshake, this.clientHello));
  }

  private onServerHello13(suite: CipherSuite, random: Buffer, extensions: Map<number, Buffer>, raw: Buffer): void {
    if (this.suite && this.suite.code !== suite.code) throw new TlsAlertError('illegal_parameter', 'the ServerHello suite differs from the HelloRetryRequest\'s');
    const share = extensions.get(ExtensionType.keyShare);
    if (!share) throw new TlsAlertError('missing_extension', 'a TLS 1.3 ServerHello without key_share (a PSK was never offered)');
    const r = new Reader(share, 'key_share');
    const group = GROUP_NAMES.get(r.u16());
    const peer = r.vector(2, 1);
    r.end();
    if (!this.keyShare || group !== this.keyShare.group) throw new TlsAlertError('illegal_parameter', 'the server\'s key share is for a group not offered');
    const shared = this.keyShare.computeSecret(peer);
    this.version = 'TLSv1.3';
    this.suite = suite;
    this.serverRandom = random;
    this.startTranscript(suite.hash, [...this.pendingTranscript, raw]);
    const secrets = handshakeSecrets(suite.hash, shared, this.transcriptHash());
    this.handshakeSecret = secrets.handshakeSecret;
    this.clientHandshakeTraffic = secrets.clientHandshakeTraffic;
    this.serverHandshakeTraffic = secrets.serverHandshakeTraffic;
    const server = trafficKeys(suite.hash, secrets.serverHandshakeTraffic, suite.keyLength);
    const client = trafficKeys(suite.hash, secrets.clientHandshakeTraffic, suite.keyLength);
    this.readProtection = tls13Protection(suite.cipher, server.key, server.iv);
    this.writeProtection = tls13Protection(suite.cipher, client.key, client.iv);
    this.phase = 'tls13_encrypted_extensions';
  }

  private onCertificate13(body: Buffer): void {
    const r = new Reader(body, 'Certificate');
    const context = r.vector(1);
    if (context.length !== 0) throw new TlsAlertError('illegal_parameter', 'a server Certificate with a request context');
    const list = new Reader(r.vector(3), 'Certificate list');
    r.end();
    while (list.remaining > 0) {
      if (this.chainDer.length >= NATIVE_LIMITS.maxCertificates) throw new TlsAlertError('unexpected_message', `more than ${NATIVE_LIMITS.maxCertificates} certificates`);
      const der = Buffer.from(list.vector(3, 1));
      const extensions = parseExtensions(list.vector(2), 'CertificateEntry');
      // RFC 8446 §4.4.2.1: the leaf's status_request extension carries a CertificateStatus.
      if (this.chainDer.length === 0) {
        const status = extensions.get(ExtensionType.statusRequest);
        if (status) this.staple = parseCertificateStatus(status);
      }
      this.chainDer.push(der);
    }
    if (this.chainDer.length === 0) throw new TlsAlertError('decode_error', 'the server sent an empty certificate list');
  }

  private onCertificate12(body: Buffer): void {
    const r = new Reader(body, 'Certificate');
    const list = new Reader(r.vector(3), 'Certificate list');
    r.end();
    while (list.remaining > 0) {
      if (this.chainDer.length >= NATIVE_LIMITS.maxCertificates) throw new TlsAlertError('unexpected_message', `more than ${NATIVE_LIMITS.maxCertificates} certificates`);
      this.chainDer.push(Buffer.from(list.vector(3, 1)));
    }
    if (this.chainDer.length === 0) throw new TlsAlertError('decode_error', 'the server sent an empty certificate list');
  }

  private leafPublicKey(): KeyObject {
    if (!this.leafKey) {
      // The project's certificate reader: cached by fingerprint, so the probe's own reading of the
      // leaf afterwards, and the next probe of a server with the same certificate, parse nothing again.
      const der = this.chainDer[0]!;
      let key: KeyObject | null;
      try {
        key = readCertificateInfo(der).publicKey();
      } catch {
        key = null;
      }
      // Beyond our reader (an 80 KB certificate, a key it cannot make): Node's parser may have the
      // key. The probe then reports the leaf as unreadable, as with Node's engine, and still judges the staple.
      if (!key) {
        try {
          key = new X509Certificate(der).publicKey;
        } catch {
          key = null;
        }
      }
      if (!key) throw new TlsAlertError('bad_certificate', 'the server\'s certificate does not parse');
      this.leafKey = key;
    }
    return this.leafKey;
  }

  private onCertificateVerify(body: Buffer): void {
    const r = new Reader(body, 'CertificateVerify');
    const code = r.u16();
    const signature = r.vector(2, 1);
    r.end();
    const scheme = SIGNATURE_SCHEME_BY_CODE.get(code);
    if (!scheme || !scheme.tls13) throw new TlsAlertError('illegal_parameter', `CertificateVerify with scheme 0x${code.toString(16)}, which was not offered`);
    // RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the transcript hash.
    const content = Buffer.concat([Buffer.alloc(64, 0x20), Buffer.from('TLS 1.3, server CertificateVerify\0', 'ascii'), this.transcriptHash()]);
    if (!verifyWith(scheme, this.leafPublicKey(), content, signature)) {
      throw new TlsAlertError('decrypt_error', `the server's CertificateVerify (${scheme.name}) does not verify with its certificate's key`);
    }
  }

  private onServerFinished13(body: Buffer, raw: Buffer): void {
    const expected = finishedVerifyData(this.hash, this.serverHandshakeTraffic, this.transcriptHash());
    if (body.length !== expected.length || !timingSafeEqual(body, expected)) throw new TlsAlertError('decrypt_error', 'the server\'s Finished does not match the handshake');
    this.addToTranscript(raw);
    const application = applicationSecrets(this.hash, this.handshakeSecret, this.transcriptHash());
    if (!this.sentChangeCipherSpec) this.outbox.push(changeCipherSpecRecord());
    if (this.certificateRequest) {
      // No client certificate: an empty Certificate with the request's context (RFC 8446 §4.4.2).
      const empty = handshakeMessage(HandshakeType.certificate, Buffer.concat([vector(1, this.certificateRequest.context), u24(0)]));
      this.addToTranscript(empty);
      this.outbox.push(this.writeProtection!.seal(ContentType.handshake, empty));
    }
    const verifyData = finishedVerifyData(this.hash, this.clientHandshakeTraffic, this.transcriptHash());
    this.outbox.push(this.writeProtection!.seal(ContentType.handshake, handshakeMessage(HandshakeType.finished, verifyData)));
    const client = trafficKeys(this.hash, application.clientApplicationTraffic, this.suite!.keyLength);
    this.writeProtection = tls13Protection(this.suite!.cipher, client.key, client.iv);
    this.complete();
  }

  private onServerKeyExchange(body: Buffer): void {
    const r = new Reader(body, 'ServerKeyExchange');
    const curveType = r.u8();
    if (curveType !== 3) throw new TlsAlertError('illegal_parameter', `ServerKeyExchange with curve type ${curveType} (named_curve expected)`);
    const code = r.u16();
    const publicKey = Buffer.from(r.vector(1, 1));
    const params = body.subarray(0, body.length - r.remaining);
    const schemeCode = r.u16();
    const signature = r.vector(2, 1);
    r.end();
    const group = GROUP_NAMES.get(code);
    if (!group) throw new TlsAlertError('illegal_parameter', `ServerKeyExchange for group 0x${code.toString(16)}, which was not offered`);
    const scheme = SIGNATURE_SCHEME_BY_CODE.get(schemeCode);
    if (!scheme) throw new TlsAlertError('illegal_parameter', `ServerKeyExchange signed with scheme 0x${schemeCode.toString(16)}, which was not offered`);
    const key = this.leafPublicKey();
    // RFC 8422 §5.1.1: the ECDHE_ECDSA suites also carry EdDSA certificates (Ed25519, Ed448).
    const type = key.asymmetricKeyType;
    const keyKind = type === 'ec' || type === 'ed25519' || type === 'ed448' ? 'ecdsa' : type === 'rsa' || type === 'rsa-pss' ? 'rsa' : type;
    if (keyKind !== this.suite!.auth) throw new TlsAlertError('illegal_parameter', `a ${this.suite!.name} suite with a ${key.asymmetricKeyType} certificate`);
    const signed = Buffer.concat([this.clientRandom, this.serverRandom, params]);
    if (!verifyWith(scheme, key, signed, signature)) {
      throw new TlsAlertError('decrypt_error', `the server's ServerKeyExchange signature (${scheme.name}) does not verify with its certificate's key`);
    }
    this.serverKeyExchange = { group, publicKey };
  }

  private sendClientFlight12(): void {
    const suite = this.suite!;
    const exchange = this.serverKeyExchange!;
    const share = reusableKeyShare(exchange.group);
    const preMaster = share.computeSecret(exchange.publicKey);
    if (this.certificateRequest) {
      const empty = handshakeMessage(HandshakeType.certificate, u24(0));
      this.addToTranscript(empty);
      this.outbox.push(plaintextRecord(ContentType.handshake, empty));
    }
    const clientKeyExchange = handshakeMessage(HandshakeType.clientKeyExchange, vector(1, share.publicKey));
    this.addToTranscript(clientKeyExchange);
    this.outbox.push(plaintextRecord(ContentType.handshake, clientKeyExchange));
    this.master12 = masterSecret12(
      suite.hash,
      preMaster,
      this.extendedMasterSecret ? { sessionHash: this.transcriptHash() } : { clientRandom: this.clientRandom, serverRandom: this.serverRandom },
    );
    // key_block = client key, server key, client IV, server IV (RFC 5246 §6.3); AEAD suites have no MAC keys.
    const ivLength = suite.cipher === 'chacha20-poly1305' ? 12 : 4;
    const block = prf12(suite.hash, this.master12, 'key expansion', Buffer.concat([this.serverRandom, this.clientRandom]), 2 * suite.keyLength + 2 * ivLength);
    const clientKey = block.subarray(0, suite.keyLength);
    const serverKey = block.subarray(suite.keyLength, 2 * suite.keyLength);
    const clientIv = block.subarray(2 * suite.keyLength, 2 * suite.keyLength + ivLength);
    const serverIv = block.subarray(2 * suite.keyLength + ivLength);
    this.outbox.push(changeCipherSpecRecord());
    this.writeProtection = tls12Protection(suite.cipher, clientKey, clientIv);
    this.serverProtection12 = tls12Protection(suite.cipher, serverKey, serverIv);
    const verifyData = prf12(suite.hash, this.master12, 'client finished', this.transcriptHash(), 12);
    const finished = handshakeMessage(HandshakeType.finished, verifyData);
    this.addToTranscript(finished);
    this.outbox.push(this.writeProtection.seal(ContentType.handshake, finished));
    this.phase = 'tls12_server_change_cipher_spec';
  }

  private onServerFinished12(body: Buffer): void {
    const expected = prf12(this.hash, this.master12, 'server finished', this.transcriptHash(), 12);
    if (body.length !== 12 || !timingSafeEqual(body, expected)) throw new TlsAlertError('decrypt_error', 'the server\'s Finished does not match the handshake');
    this.complete();
  }

  private complete(): void {
    this.outcome = { staple: this.staple, chainDer: this.chainDer, protocol: this.version!, cipher: this.suite!.name };
    this.phase = 'done';
  }
}

const PSS_SALT_LENGTHS: Readonly<Record<string, number>> = { sha256: 32, sha384: 48, sha512: 64 };

function verifyWith(scheme: SignatureScheme, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    if (scheme.kind === 'rsa-pss') {
      // RFC 8446 §4.2.3: the salt is as long as the digest.
      return verifySignature(scheme.hash, data, { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_LENGTHS[scheme.hash!] }, signature);
    }
    if (scheme.kind === 'rsa-pkcs1') return verifySignature(scheme.hash, data, { key, padding: cryptoConstants.RSA_PKCS1_PADDING }, signature);
    return verifySignature(scheme.hash, data, key, signature);
  } catch {
    // A key that does not fit the scheme (an ECDSA signature claimed for an RSA key) does not verify.
    return false;
  }
}

function parseExtensions(data: Buffer, what: string): Map<number, Buffer> {
  const r = new Reader(data, `${what} extensions`);
  const extensions = new Map<number, Buffer>();
  while (r.remaining > 0) {
    const type = r.u16();
    const body = r.vector(2);
    if (extensions.has(type)) throw new TlsAlertError('illegal_parameter', `${what}: extension ${type} twice`);
    extensions.set(type, body);
  }
  return extensions;
}

/** CertificateStatus (RFC 6066 §8): status_type ocsp(1) and the DER OCSPResponse. */
function parseCertificateStatus(body: Buffer): Buffer {
  const r = new Reader(body, 'CertificateStatus');
  const type = r.u8();
  if (type !== 1) throw new TlsAlertError('illegal_parameter', `CertificateStatus of type ${type} (ocsp expected)`);
  const response = Buffer.from(r.vector(3, 1));
  r.end();
  return response;
}

function readU16Exactly(data: Buffer, what: string): number {
  const r = new Reader(data, what);
  const value = r.u16();
  r.end();
  return value;
}

function plaintextRecord(type: number, body: Buffer, version: number = ProtocolVersion.tls12): Buffer {
  const records: Buffer[] = [];
  for (let offset = 0; offset < body.length || offset === 0; offset += 16_384) {
    const fragment = body.subarray(offset, offset + 16_384);
    records.push(Buffer.concat([u8(type), u16(version), u16(fragment.length), fragment]));
    if (body.length === 0) break;
  }
  return records.length === 1 ? records[0]! : Buffer.concat(records);
}

function changeCipherSpecRecord(): Buffer {
  return Buffer.from([ContentType.changeCipherSpec, 3, 3, 0, 1, 1]);
}

/** The first bytes of a non-TLS answer, readable: "HTTP/1.1" or hex. */
function describeBytes(bytes: Buffer): string {
  const printable = [...bytes].every((b) => b >= 0x20 && b < 0x7f);
  return printable ? JSON.stringify(bytes.toString('latin1')) : bytes.toString('hex');
}
