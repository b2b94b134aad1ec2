/**
 * The ClientHello (RFC 8446 §4.1.2), shaped like OpenSSL's default so servers choose the certificate
 * and staple they choose for ordinary clients: its extension order, the status_request extension
 * (RFC 6066 §8) for the staple, an X25519 key share first (others after a HelloRetryRequest), a
 * 32-byte legacy session id (middlebox compatibility, RFC 8446 §D.4), and only the suites, groups and
 * signature schemes the engine completes.
 */
import { handshakeMessage, u16, u8, vector } from './bytes.js';
import { CIPHER_SUITES, ExtensionType, GROUP_CODES, HandshakeType, ProtocolVersion, SIGNATURE_SCHEMES, type NamedGroup } from './constants.js';
import type { KeyShare } from './key-exchange.js';

export type Version = 'TLSv1.2' | 'TLSv1.3';

export interface ClientHelloParameters {
  random: Buffer;
  sessionId: Buffer;
  serverName: string | null;
  minVersion: Version;
  maxVersion: Version;
  /** TLS 1.3 key share (absent when TLS 1.3 is not offered). */
  keyShare: KeyShare | null;
  /** After a HelloRetryRequest: its cookie, echoed (RFC 8446 §4.2.2). */
  cookie?: Buffer | null;
}

/** Groups offered in supported_groups, in OpenSSL's order of preference among those supported. */
export const OFFERED_GROUPS: readonly NamedGroup[] = ['x25519', 'secp256r1', 'secp384r1'];

/** Renegotiation SCSV (RFC 5746 §3.3), which OpenSSL sends instead of an empty renegotiation_info. */
const EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), vector(2, body)]);
}

function offersVersion(p: ClientHelloParameters, version: Version): boolean {
  const rank = (v: Version): number => (v === 'TLSv1.2' ? 2 : 3);
  return rank(p.minVersion) <= rank(version) && rank(version) <= rank(p.maxVersion);
}

/** The handshake message (type, length, body): what the transcript hashes. */
export function buildClientHello(p: ClientHelloParameters): Buffer {
  const tls13 = offersVersion(p, 'TLSv1.3');
  const tls12 = offersVersion(p, 'TLSv1.2');
  const suites = CIPHER_SUITES.filter((s) => (s.version === 'TLSv1.3' ? tls13 : tls12)).map((s) => u16(s.code));
  if (tls12) suites.push(u16(EMPTY_RENEGOTIATION_INFO_SCSV));

  const extensions: Buffer[] = [];
  if (p.serverName) {
    // server_name: a list of one host_name (RFC 6066 §3).
    extensions.push(extension(ExtensionType.serverName, vector(2, u8(0), vector(2, Buffer.from(p.serverName, 'ascii')))));
  }
  // uncompressed, ansiX962_compressed_prime, ansiX962_compressed_char2, as OpenSSL lists them (RFC 8422 §5.1.2).
  if (tls12) extensions.push(extension(ExtensionType.ecPointFormats, vector(1, Buffer.from([0, 1, 2]))));
  extensions.push(extension(ExtensionType.supportedGroups, vector(2, ...OFFERED_GROUPS.map((g) => u16(GROUP_CODES[g])))));
  if (tls12) extensions.push(extension(ExtensionType.sessionTicket, Buffer.alloc(0)));
  // status_request: OCSP, no responder ids, no request extensions (RFC 6066 §8).
  extensions.push(extension(ExtensionType.statusRequest, Buffer.concat([u8(1), u16(0), u16(0)])));
  if (tls12) {
    extensions.push(extension(ExtensionType.encryptThenMac, Buffer.alloc(0)));
    extensions.push(extension(ExtensionType.extendedMasterSecret, Buffer.alloc(0)));
  }
  const schemes = SIGNATURE_SCHEMES.filter((s) => tls12 || s.tls13).map((s) => u16(s.code));
  extensions.push(extension(ExtensionType.signatureAlgorithms, vector(2, ...schemes)));
  if (tls13) {
    const versions = [u16(ProtocolVersion.tls13), ...(tls12 ? [u16(ProtocolVersion.tls12)] : [])];
    extensions.push(extension(ExtensionType.supportedVersions, vector(1, ...versions)));
    if (p.cookie) extensions.push(extension(ExtensionType.cookie, vector(2, p.cookie)));
    // psk_dhe_ke, as OpenSSL offers (no PSK is ever sent: every probe is a full handshake).
    extensions.push(extension(ExtensionType.pskKeyExchangeModes, vector(1, u8(1))));
    if (p.keyShare) {
      const entry = Buffer.concat([u16(GROUP_CODES[p.keyShare.group]), vector(2, p.keyShare.publicKey)]);
      extensions.push(extension(ExtensionType.keyShare, vector(2, entry)));
    }
  }

  const body = Buffer.concat([
    u16(ProtocolVersion.tls12), // legacy_version
    p.random,
    vector(1, p.sessionId),
    vector(2, ...suites),
    vector(1, u8(0)), // compression: null only
    vector(2, ...extensions),
  ]);
  return handshakeMessage(HandshakeType.clientHello, body);
}
