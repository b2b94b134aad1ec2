/**
 * Small DER building blocks shared by the certificate and OCSP builders: asn1js blocks to bytes,
 * raw DER embedded unchanged inside a structure, positive INTEGERs from bigints, times in the
 * forms RFC 5280 §4.1.2.5 and RFC 6960 §4.2.1 require (whole seconds, `Z`), PEM armour, hashes,
 * and reading the few fields of a certificate an OCSP CertID and responderID need.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import { HASH_OIDS, NODE_HASH_NAMES, type HashName } from '../x509/algorithms.js';
import { bytesEqual } from '../util/bytes.js';
import { PkiError } from './errors.js';

export { HASH_OIDS, bytesEqual, type HashName };

export function digest(hash: HashName, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(NODE_HASH_NAMES[hash]).update(data).digest());
}

export function toDer(block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(block.toBER(false));
}

/**
 * Parses DER so it can sit inside an asn1js structure, and makes sure asn1js writes it back
 * byte for byte: an embedded certificate or Name that changed on re-encoding would break its
 * signature or the CertID hash without any other sign.
 */
export function embedDer(der: Uint8Array, what: string): asn1js.AsnType {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || parsed.offset !== der.byteLength) {
    throw new PkiError('ERR_PKI_BAD_CERTIFICATE', `${what} is not a single DER value`);
  }
  const again = toDer(parsed.result);
  if (!bytesEqual(again, der)) {
    throw new PkiError('ERR_PKI_BAD_CERTIFICATE', `${what} is not in canonical DER and cannot be embedded unchanged`);
  }
  return parsed.result;
}

/** Minimal two's-complement bytes of a non-negative integer (DER INTEGER contents, X.690 §8.3). */
export function unsignedToIntegerBytes(value: bigint): Uint8Array {
  if (value < 0n) throw new PkiError('ERR_PKI_INVALID_OPTION', `integer must not be negative: ${value}`);
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  // A leading byte with the top bit set would read as negative: prefix a zero byte.
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function integer(value: bigint): asn1js.Integer {
  return new asn1js.Integer({ valueHex: unsignedToIntegerBytes(value) });
}

/** Reads INTEGER contents as an unsigned bigint (serial numbers are positive, RFC 5280 §4.1.2.2). */
export function integerBytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.byteLength === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function wholeSeconds(date: Date, what: string): Date {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new PkiError('ERR_PKI_INVALID_OPTION', `${what} is not a valid date`);
  return new Date(Math.floor(ms / 1000) * 1000);
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function timeDigits(date: Date): string {
  return (
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2)
  );
}

/**
 * GeneralizedTime `YYYYMMDDHHMMSSZ`: UTC, no fractional seconds (RFC 5280 §4.1.2.5.2, which
 * RFC 6960 §4.2.2.1 follows). Fractions of a second in `date` are dropped.
 */
export function generalizedTime(date: Date, what = 'time'): asn1js.GeneralizedTime {
  const d = wholeSeconds(date, what);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new PkiError('ERR_PKI_INVALID_OPTION', `${what} is out of range: ${d.toISOString()}`);
  return new asn1js.GeneralizedTime({ value: `${pad(year, 4)}${timeDigits(d)}Z` });
}

/** Certificate validity time: UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
export function certificateTime(date: Date, what = 'time'): asn1js.UTCTime | asn1js.GeneralizedTime {
  const d = wholeSeconds(date, what);
  const year = d.getUTCFullYear();
  if (year >= 1950 && year <= 2049) return new asn1js.UTCTime({ value: `${pad(year % 100, 2)}${timeDigits(d)}Z` });
  return generalizedTime(d, what);
}

export function pemEncode(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The parts of a certificate that OCSP identifies it and its issuer by. */
export interface CertificateParts {
  /** DER of the subject Name, exactly as in the certificate (hashed into issuerNameHash). */
  subjectDer: Uint8Array;
  /** Contents of the serialNumber INTEGER. */
  serialBytes: Uint8Array;
  serialNumber: bigint;
  /** DER of SubjectPublicKeyInfo. */
  spkiDer: Uint8Array;
  /** subjectPublicKey BIT STRING contents without the unused-bits octet (hashed into keyHash). */
  publicKeyBits: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

function child(block: asn1js.AsnType | undefined, index: number, what: string): asn1js.AsnType {
  const value = block instanceof asn1js.Constructed ? block.valueBlock.value[index] : undefined;
  if (!value) throw new PkiError('ERR_PKI_BAD_CERTIFICATE', `certificate has no ${what}`);
  return value;
}

function readTime(block: asn1js.AsnType, what: string): Date {
  if (block instanceof asn1js.UTCTime || block instanceof asn1js.GeneralizedTime) return block.toDate();
  throw new PkiError('ERR_PKI_BAD_CERTIFICATE', `certificate ${what} is not a time`);
}

/** Reads a DER X.509 certificate's subject, serial, validity and public key (RFC 5280 §4.1). */
export function readCertificate(der: Uint8Array): CertificateParts {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) throw new PkiError('ERR_PKI_BAD_CERTIFICATE', `not DER: ${parsed.result.error}`);
  const tbs = child(parsed.result, 0, 'tbsCertificate');
  // version is [0] EXPLICIT and optional: every later field shifts by one when it is present.
  const first = child(tbs, 0, 'serialNumber');
  const shift = first.idBlock.tagClass === 3 && first.idBlock.tagNumber === 0 ? 1 : 0;
  const serial = child(tbs, shift, 'serialNumber');
  const validity = child(tbs, shift + 3, 'validity');
  const subject = child(tbs, shift + 4, 'subject');
  const spki = child(tbs, shift + 5, 'subjectPublicKeyInfo');
  const keyBits = child(spki, 1, 'subjectPublicKey');
  if (!(serial instanceof asn1js.Integer)) throw new PkiError('ERR_PKI_BAD_CERTIFICATE', 'serialNumber is not an INTEGER');
  if (!(keyBits instanceof asn1js.BitString)) throw new PkiError('ERR_PKI_BAD_CERTIFICATE', 'subjectPublicKey is not a BIT STRING');
  const serialBytes = new Uint8Array(serial.valueBlock.valueHexView);
  return {
    subjectDer: new Uint8Array(subject.valueBeforeDecodeView),
    serialBytes,
    serialNumber: integerBytesToBigInt(serialBytes),
    spkiDer: new Uint8Array(spki.valueBeforeDecodeView),
    publicKeyBits: new Uint8Array(keyBits.valueBlock.valueHexView),
    notBefore: readTime(child(validity, 0, 'notBefore'), 'notBefore'),
    notAfter: readTime(child(validity, 1, 'notAfter'), 'notAfter'),
  };
}
