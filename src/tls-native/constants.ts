/** Code points of the TLS registries the native engine speaks (IANA TLS parameters). */

export const ContentType = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;

export const HandshakeType = {
  clientHello: 1,
  serverHello: 2,
  newSessionTicket: 4,
  endOfEarlyData: 5,
  encryptedExtensions: 8,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
  certificateStatus: 22,
  keyUpdate: 24,
  messageHash: 254,
} as const;

export const ExtensionType = {
  serverName: 0,
  statusRequest: 5,
  supportedGroups: 10,
  ecPointFormats: 11,
  signatureAlgorithms: 13,
  encryptThenMac: 22,
  extendedMasterSecret: 23,
  sessionTicket: 35,
  supportedVersions: 43,
  cookie: 44,
  pskKeyExchangeModes: 45,
  keyShare: 51,
  renegotiationInfo: 0xff01,
} as const;

export const ProtocolVersion = { tls12: 0x0303, tls13: 0x0304 } as const;

/** RFC 8446 §4.1.3: the ServerHello.random of a HelloRetryRequest, SHA-256("HelloRetryRequest"). */
export const HELLO_RETRY_REQUEST_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

/** RFC 8446 §4.1.3: the last 8 bytes of a TLS 1.2 ServerHello.random from a TLS 1.3-capable server (downgrade sentinel). */
export const DOWNGRADE_TLS12 = Buffer.from('444f574e47524401', 'hex');

export type NamedGroup = 'x25519' | 'secp256r1' | 'secp384r1';
export const GROUP_CODES: Readonly<Record<NamedGroup, number>> = { x25519: 0x001d, secp256r1: 0x0017, secp384r1: 0x0018 };
export const GROUP_NAMES: ReadonlyMap<number, NamedGroup> = new Map(Object.entries(GROUP_CODES).map(([name, code]) => [code, name as NamedGroup]));

export interface CipherSuite {
  readonly code: number;
  /** The IANA name, as Node's `getCipher().standardName` reports it. */
  readonly name: string;
  readonly version: 'TLSv1.3' | 'TLSv1.2';
  readonly cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  readonly keyLength: number;
  readonly hash: 'sha256' | 'sha384';
  /** TLS 1.2 only: the certificate's key type the suite's signature needs. */
  readonly auth?: 'ecdsa' | 'rsa';
}

function suite(code: number, name: string, version: CipherSuite['version'], cipher: CipherSuite['cipher'], hash: CipherSuite['hash'], auth?: CipherSuite['auth']): CipherSuite {
  return { code, name, version, cipher, keyLength: cipher === 'aes-128-gcm' ? 16 : 32, hash, ...(auth ? { auth } : {}) };
}

/**
 * The suites offered, in the order Node's (OpenSSL's) default list has them, restricted to what the
 * engine completes: TLS 1.3's three, and TLS 1.2's ECDHE with AEAD (RFC 5289, RFC 7905).
 */
export const CIPHER_SUITES: readonly CipherSuite[] = [
  suite(0x1302, 'TLS_AES_256_GCM_SHA384', 'TLSv1.3', 'aes-256-gcm', 'sha384'),
  suite(0x1303, 'TLS_CHACHA20_POLY1305_SHA256', 'TLSv1.3', 'chacha20-poly1305', 'sha256'),
  suite(0x1301, 'TLS_AES_128_GCM_SHA256', 'TLSv1.3', 'aes-128-gcm', 'sha256'),
  suite(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLSv1.2', 'aes-128-gcm', 'sha256', 'rsa'),
  suite(0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLSv1.2', 'aes-128-gcm', 'sha256', 'ecdsa'),
  suite(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'TLSv1.2', 'aes-256-gcm', 'sha384', 'rsa'),
  suite(0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLSv1.2', 'aes-256-gcm', 'sha384', 'ecdsa'),
  suite(0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLSv1.2', 'chacha20-poly1305', 'sha256', 'ecdsa'),
  suite(0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'TLSv1.2', 'chacha20-poly1305', 'sha256', 'rsa'),
];
export const CIPHER_SUITE_BY_CODE: ReadonlyMap<number, CipherSuite> = new Map(CIPHER_SUITES.map((s) => [s.code, s]));

/** Signature schemes offered (OpenSSL 3.0's default order, RFC 8446 §4.2.3), and how node:crypto verifies each. */
export interface SignatureScheme {
  readonly code: number;
  readonly name: string;
  /** Digest for crypto.verify; null for EdDSA (the algorithm hashes itself). */
  readonly hash: 'sha1' | 'sha256' | 'sha384' | 'sha512' | null;
  readonly kind: 'ecdsa' | 'rsa-pss' | 'rsa-pkcs1' | 'eddsa';
  /** TLS 1.3 forbids PKCS#1 v1.5 and SHA-1 in CertificateVerify (RFC 8446 §4.4.3). */
  readonly tls13: boolean;
}

function scheme(code: number, name: string, kind: SignatureScheme['kind'], hash: SignatureScheme['hash'], tls13: boolean): SignatureScheme {
  return { code, name, kind, hash, tls13 };
}

export const SIGNATURE_SCHEMES: readonly SignatureScheme[] = [
  scheme(0x0403, 'ecdsa_secp256r1_sha256', 'ecdsa', 'sha256', true),
  scheme(0x0503, 'ecdsa_secp384r1_sha384', 'ecdsa', 'sha384', true),
  scheme(0x0603, 'ecdsa_secp521r1_sha512', 'ecdsa', 'sha512', true),
  scheme(0x0807, 'ed25519', 'eddsa', null, true),
  scheme(0x0808, 'ed448', 'eddsa', null, true),
  scheme(0x0809, 'rsa_pss_pss_sha256', 'rsa-pss', 'sha256', true),
  scheme(0x080a, 'rsa_pss_pss_sha384', 'rsa-pss', 'sha384', true),
  scheme(0x080b, 'rsa_pss_pss_sha512', 'rsa-pss', 'sha512', true),
  scheme(0x0804, 'rsa_pss_rsae_sha256', 'rsa-pss', 'sha256', true),
  scheme(0x0805, 'rsa_pss_rsae_sha384', 'rsa-pss', 'sha384', true),
  scheme(0x0806, 'rsa_pss_rsae_sha512', 'rsa-pss', 'sha512', true),
  scheme(0x0401, 'rsa_pkcs1_sha256', 'rsa-pkcs1', 'sha256', false),
  scheme(0x0501, 'rsa_pkcs1_sha384', 'rsa-pkcs1', 'sha384', false),
  scheme(0x0601, 'rsa_pkcs1_sha512', 'rsa-pkcs1', 'sha512', false),
];
export const SIGNATURE_SCHEME_BY_CODE: ReadonlyMap<number, SignatureScheme> = new Map(SIGNATURE_SCHEMES.map((s) => [s.code, s]));

/** Alert descriptions (RFC 8446 §6), for messages. */
export const ALERT_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'close_notify'],
  [10, 'unexpected_message'],
  [20, 'bad_record_mac'],
  [22, 'record_overflow'],
  [40, 'handshake_failure'],
  [42, 'bad_certificate'],
  [43, 'unsupported_certificate'],
  [44, 'certificate_revoked'],
  [45, 'certificate_expired'],
  [46, 'certificate_unknown'],
  [47, 'illegal_parameter'],
  [48, 'unknown_ca'],
  [49, 'access_denied'],
  [50, 'decode_error'],
  [51, 'decrypt_error'],
  [70, 'protocol_version'],
  [71, 'insufficient_security'],
  [80, 'internal_error'],
  [86, 'inappropriate_fallback'],
  [90, 'user_canceled'],
  [109, 'missing_extension'],
  [110, 'unsupported_extension'],
  [112, 'unrecognized_name'],
  [113, 'bad_certificate_status_response'],
  [115, 'unknown_psk_identity'],
  [116, 'certificate_required'],
  [120, 'no_application_protocol'],
]);
