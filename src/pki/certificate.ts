/**
 * X.509 v3 certificates made in memory (RFC 5280): self-signed roots, intermediates, TLS leaves
 * and OCSP responders, with the extensions the exporter reads — basicConstraints, keyUsage,
 * subject/authority key identifiers, subjectAltName, AIA id-ad-ocsp URLs, the TLS Feature
 * "Must-Staple" extension (RFC 7633) and extendedKeyUsage. pkijs holds the certificate structure;
 * extension values, times and serials are written with asn1js so their DER is exactly as the RFCs
 * require; signing uses the issuer's WebCrypto key through `node:crypto`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { defaultSignatureHash, signatureAlgorithmIdentifier } from './algorithms.js';
import { certificateTime, digest, integer, integerBytesToBigInt, pemEncode, readCertificate, toDer } from './der.js';
import { PkiError } from './errors.js';
import { exportPkcs8Pem, exportSpki, generateKeys, isRsa, keyKindOf, signData, type CryptoKeyPair, type KeyKind } from './keys.js';

/** A certificate with its private key, in every form tests and TLS servers want. */
export interface Issued {
  der: Uint8Array;
  pem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  keys: CryptoKeyPair;
  kind: KeyKind;
  /** The subject's CN. */
  subject: string;
  /** The certificate that signed this one; null when self-signed. */
  issuer: Issued | null;
  serialNumber: bigint;
  notBefore: Date;
  notAfter: Date;
}

export type ExtendedKeyUsage = 'serverAuth' | 'clientAuth' | 'ocspSigning';

export interface CertificateOptions {
  commonName: string;
  /** Absent → self-signed. */
  issuer?: Issued;
  /** Default ec-p256; ignored when `keys` is given (their kind is used). */
  keyKind?: KeyKind;
  /** Reuse a key pair (must be extractable); default a new one of `keyKind`. */
  keys?: CryptoKeyPair;
  /** Default 16 random bytes, positive. */
  serialNumber?: bigint;
  /** Default an hour ago. */
  notBefore?: Date;
  /** Default 10 years after notBefore for CAs, 90 days for others. */
  notAfter?: Date;
  isCA?: boolean;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** AIA id-ad-ocsp URIs (RFC 5280 §4.2.2.1). */
  ocspUrls?: string[];
  /** TLS Feature extension with status_request (RFC 7633 §4). */
  mustStaple?: boolean;
  /** Absent or empty → no extendedKeyUsage extension. */
  extendedKeyUsage?: ExtendedKeyUsage[];
  /** Digest of the issuer's signature; default SHA-384 for a P-384 issuer, else SHA-256. */
  signatureHash?: 'SHA-256' | 'SHA-384';
}

const OID = {
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  tlsFeature: '1.3.6.1.5.5.7.1.24',
  adOcsp: '1.3.6.1.5.5.7.48.1',
} as const;

const EKU_OIDS: Record<ExtendedKeyUsage, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
};

/** RFC 5280 §4.2.1.3 KeyUsage bit positions. */
const KEY_USAGE_BITS = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** TLS Feature value for the status_request extension (RFC 6066 §8, RFC 7633 §6). */
const TLS_FEATURE_STATUS_REQUEST = 5;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function invalid(message: string): PkiError {
  return new PkiError('ERR_PKI_INVALID_OPTION', message);
}

function extension(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  const extnValue = toDer(value);
  return new pkijs.Extension({ extnID, critical, extnValue: extnValue.buffer.slice(0) as ArrayBuffer });
}

/** A named-bit BIT STRING in DER: trailing zero bits dropped and counted as unused (X.690 §11.2.2). */
function namedBits(bits: number[]): asn1js.BitString {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return new asn1js.BitString({ valueHex: bytes, unusedBits: 7 - (highest & 7) });
}

/** IPv4 or IPv6 text → the 4 or 16 octets of a GeneralName iPAddress (RFC 5280 §4.2.1.6). */
export function ipAddressBytes(address: string): Uint8Array {
  if (isIPv4(address)) return new Uint8Array(address.split('.').map(Number));
  if (!isIPv6(address)) throw invalid(`not an IP address: ${JSON.stringify(address)}`);
  let text = address.split('%')[0] ?? '';
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad?.[1]) {
    const [a, b, c, d] = quad[1].split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -quad[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

function commonNameDer(commonName: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: OID.commonName, value: new asn1js.Utf8String({ value: commonName }) }),
    ],
  });
}

function randomSerial(): bigint {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive and 16 bytes long (RFC 5280 §4.1.2.2 allows up to 20)
  return integerBytesToBigInt(bytes);
}

function generalName(type: 2 | 6 | 7, value: string | Uint8Array): pkijs.GeneralName {
  return type === 7
    ? new pkijs.GeneralName({ type, value: new asn1js.OctetString({ valueHex: value as Uint8Array }) })
    : new pkijs.GeneralName({ type, value: value as string });
}

function checkIa5(value: string, what: string): string {
  if (!value || !/^[\x20-\x7e]+$/.test(value)) throw invalid(`${what} must be non-empty printable ASCII: ${JSON.stringify(value)}`);
  return value;
}

function validateOptions(options: CertificateOptions): void {
  if (typeof options.commonName !== 'string' || options.commonName.length === 0) throw invalid('commonName is required');
  if (options.serialNumber !== undefined && options.serialNumber <= 0n) {
    throw invalid(`serialNumber must be positive (RFC 5280 §4.1.2.2): ${options.serialNumber}`);
  }
  for (const eku of options.extendedKeyUsage ?? []) {
    if (!(eku in EKU_OIDS)) throw invalid(`unknown extendedKeyUsage: ${String(eku)}`);
  }
  if (options.signatureHash !== undefined && options.signatureHash !== 'SHA-256' && options.signatureHash !== 'SHA-384') {
    throw invalid(`signatureHash must be SHA-256 or SHA-384: ${String(options.signatureHash)}`);
  }
}

/** Makes and signs a certificate; self-signed when `options.issuer` is absent. */
export async function createCertificate(options: CertificateOptions): Promise<Issued> {
  validateOptions(options);
  const keys = options.keys ?? (await generateKeys(options.keyKind ?? 'ec-p256'));
  const kind = keyKindOf(keys);
  if (options.keys && options.keyKind && options.keyKind !== kind) {
    throw invalid(`keyKind ${options.keyKind} contradicts the given keys (${kind})`);
  }
  // Export first: a key that cannot be written out as PKCS#8 is useless to a TLS server.
  const keyPem = await exportPkcs8Pem(keys);
  const isCA = options.isCA ?? false;
  const notBefore = options.notBefore ?? new Date(Date.now() - HOUR_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (isCA ? 3650 : 90) * DAY_MS);
  if (notAfter.getTime() < notBefore.getTime()) throw invalid('notAfter is before notBefore');
  const serialNumber = options.serialNumber ?? randomSerial();

  const issuer = options.issuer ?? null;
  const signerKeys = issuer ? issuer.keys : keys;
  const signerKind = issuer ? issuer.kind : kind;
  const hash = options.signatureHash ?? defaultSignatureHash(signerKind);
  const signatureAlgorithm = pkijs.AlgorithmIdentifier.fromBER(toDer(signatureAlgorithmIdentifier(signerKind, hash)));

  const spkiDer = await exportSpki(keys);
  const publicKeyInfo = pkijs.PublicKeyInfo.fromBER(spkiDer);
  const keyBits = new Uint8Array(publicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  // Key identifiers by RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
  const subjectKeyId = digest('SHA-1', keyBits);
  const issuerParts = issuer ? readCertificate(issuer.der) : null;
  const authorityKeyId = issuerParts ? digest('SHA-1', issuerParts.publicKeyBits) : subjectKeyId;

  const extensions: pkijs.Extension[] = [];
  // RFC 5280 §4.2.1.9: critical in CA certificates; an empty SEQUENCE (cA FALSE) for the others.
  extensions.push(extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: isCA }).toSchema()));
  const usage: number[] = [KEY_USAGE_BITS.digitalSignature];
  if (isCA) usage.push(KEY_USAGE_BITS.keyCertSign, KEY_USAGE_BITS.cRLSign);
  else if (isRsa(kind)) usage.push(KEY_USAGE_BITS.keyEncipherment);
  extensions.push(extension(OID.keyUsage, true, namedBits(usage)));
  if (options.extendedKeyUsage && options.extendedKeyUsage.length > 0) {
    const keyPurposes = options.extendedKeyUsage.map((eku) => EKU_OIDS[eku]);
    extensions.push(extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes }).toSchema()));
  }
  extensions.push(extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: subjectKeyId })));
  extensions.push(
    extension(
      OID.authorityKeyIdentifier,
      false,
      new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: authorityKeyId }) }).toSchema(),
    ),
  );
  const altNames = [
    ...(options.dnsNames ?? []).map((name) => generalName(2, checkIa5(name, 'dnsName'))),
    ...(options.ipAddresses ?? []).map((address) => generalName(7, ipAddressBytes(address))),
  ];
  if (altNames.length > 0) {
    extensions.push(extension(OID.subjectAltName, false, new pkijs.GeneralNames({ names: altNames }).toSchema()));
  }
  if (options.ocspUrls && options.ocspUrls.length > 0) {
    const accessDescriptions = options.ocspUrls.map(
      (url) => new pkijs.AccessDescription({ accessMethod: OID.adOcsp, accessLocation: generalName(6, checkIa5(url, 'ocspUrl')) }),
    );
    extensions.push(extension(OID.authorityInfoAccess, false, new pkijs.InfoAccess({ accessDescriptions }).toSchema()));
  }
  if (options.mustStaple) {
    const features = new asn1js.Sequence({ value: [new asn1js.Integer({ value: TLS_FEATURE_STATUS_REQUEST })] });
    extensions.push(extension(OID.tlsFeature, false, features));
  }

  const certificate = new pkijs.Certificate({
    version: 2,
    serialNumber: integer(serialNumber),
    signature: signatureAlgorithm,
    issuer: issuerParts ? pkijs.RelativeDistinguishedNames.fromBER(issuerParts.subjectDer) : commonNameDer(options.commonName),
    notBefore: new pkijs.Time({ schema: certificateTime(notBefore, 'notBefore') }),
    notAfter: new pkijs.Time({ schema: certificateTime(notAfter, 'notAfter') }),
    subject: commonNameDer(options.commonName),
    subjectPublicKeyInfo: publicKeyInfo,
    extensions,
    signatureAlgorithm,
  });
  certificate.tbsView = toDer(certificate.encodeTBS());
  const signature = signData(signerKeys, certificate.tbsView, { hash });
  certificate.signatureValue = new asn1js.BitString({ valueHex: signature });
  const der = toDer(certificate.toSchema());
  const parts = readCertificate(der);

  return {
    der,
    pem: pemEncode(der, 'CERTIFICATE'),
    keyPem,
    keys,
    kind,
    subject: options.commonName,
    issuer,
    serialNumber,
    notBefore: parts.notBefore,
    notAfter: parts.notAfter,
  };
}

/**
 * PEM of `issued` followed by its issuers, as a TLS server sends its chain (RFC 8446 §4.4.2);
 * the self-signed root is left out unless `includeRoot`.
 */
export function chainPem(issued: Issued, options: { includeRoot?: boolean } = {}): string {
  const pems: string[] = [issued.pem];
  for (let current = issued.issuer; current; current = current.issuer) {
    if (current.issuer === null && !options.includeRoot) break;
    pems.push(current.pem);
  }
  return pems.join('');
}
