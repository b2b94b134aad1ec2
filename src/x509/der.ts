/**
 * A small, strict, non-recursive DER reader (X.690 §8, §10) for the few structures the OCSP core
 * reads: OCSP responses, certificates and their extensions. It works on offsets into the caller's
 * buffer, so the exact bytes that were signed (tbsResponseData, tbsCertificate) and the exact
 * bytes that are hashed for a CertID (subject Name, subjectPublicKey) are taken from the input and
 * never re-encoded. asn1js/pkijs are ~4× to 20× slower on a typical staple and recurse on nested
 * input; here nothing recurses, every length is checked against its parent before use, and the
 * only failure is a {@link DerError}, which callers turn into their own typed error.
 */
import { CodedError } from '../util/errors.js';

/** Thrown by every reader here; callers wrap it into OcspParseError / CertificateParseError. */
export class DerError extends CodedError<'ERR_DER_MALFORMED'> {
  override readonly name = 'DerError';
  constructor(message: string) {
    super('ERR_DER_MALFORMED', message);
  }
}

/** One tag-length-value, as offsets into `bytes`. */
export interface Tlv {
  /** The identifier octet when the tag number is < 31 (e.g. 0x30 SEQUENCE, 0xa0 [0] constructed); else -1. */
  tag: number;
  /** Tag class bits (0x00 universal, 0x40 application, 0x80 context, 0xc0 private). */
  cls: number;
  constructed: boolean;
  tagNumber: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  contentStart: number;
  /** Offset just past the last content octet. */
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag octet: `[n]`, constructed (explicit tagging or constructed types) or primitive. */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

/**
 * Reads the TLV at `offset`, which must end at or before `limit`. Definite lengths only (DER
 * forbids the indefinite form); lengths up to 2^32-1, then checked against `limit`.
 */
export function readTlv(bytes: Uint8Array, offset: number, limit: number): Tlv {
  if (offset >= limit) throw new DerError(`unexpected end of data at byte ${offset}`);
  const first = bytes[offset]!;
  let pos = offset + 1;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    // High tag number form (X.690 §8.1.2.4): base-128, at most 4 octets is plenty.
    tagNumber = 0;
    for (let i = 0; ; i++) {
      if (pos >= limit) throw new DerError(`truncated tag at byte ${offset}`);
      if (i === 4) throw new DerError(`tag number too large at byte ${offset}`);
      const b = bytes[pos++]!;
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (pos >= limit) throw new DerError(`truncated length at byte ${offset}`);
  let length = bytes[pos++]!;
  if (length === 0x80) throw new DerError(`indefinite length at byte ${offset} (not DER)`);
  if (length > 0x80) {
    const count = length & 0x7f;
    if (count > 4) throw new DerError(`length of ${count} octets at byte ${offset} is too large`);
    if (pos + count > limit) throw new DerError(`truncated length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos++]!;
  }
  const end = pos + length;
  if (end > limit) throw new DerError(`length ${length} at byte ${offset} runs past the end of its container`);
  return {
    tag: (first & 0x1f) === 0x1f ? -1 : first,
    cls: first & 0xc0,
    constructed: (first & 0x20) !== 0,
    tagNumber,
    start: offset,
    contentStart: pos,
    end,
  };
}

/** Sequential reader over the contents of one constructed TLV. */
export class DerCursor {
  private pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  static of(bytes: Uint8Array, tlv: Tlv): DerCursor {
    if (!tlv.constructed) throw new DerError(`expected a constructed value at byte ${tlv.start}`);
    return new DerCursor(bytes, tlv.contentStart, tlv.end);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Tag octet of the next element, or -2 at the end. */
  peekTag(): number {
    if (this.pos >= this.end) return -2;
    return this.bytes[this.pos]!;
  }

  next(what: string): Tlv {
    if (this.pos >= this.end) throw new DerError(`missing ${what}`);
    const tlv = readTlv(this.bytes, this.pos, this.end);
    this.pos = tlv.end;
    return tlv;
  }

  /** Next element, which must carry `tag`. */
  expect(tag: number, what: string): Tlv {
    const tlv = this.next(what);
    if (tlv.tag !== tag) {
      throw new DerError(`${what}: expected tag 0x${hexByte(tag)}, found 0x${hexByte(this.bytes[tlv.start]!)} at byte ${tlv.start}`);
    }
    return tlv;
  }

  /** Next element if it carries `tag`, else null (for OPTIONAL / DEFAULT fields). */
  optional(tag: number, what: string): Tlv | null {
    return this.peekTag() === tag ? this.next(what) : null;
  }

  /** Every remaining element (SEQUENCE OF / SET OF). */
  rest(what: string): Tlv[] {
    const all: Tlv[] = [];
    while (!this.done) all.push(this.next(what));
    return all;
  }

  /** Asserts nothing follows: fields this code does not know about are not silently skipped. */
  finish(what: string): void {
    if (this.pos !== this.end) throw new DerError(`unexpected data after the last field of ${what} at byte ${this.pos}`);
  }
}

function hexByte(b: number): string {
  return b.toString(16).padStart(2, '0');
}

export function content(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.contentStart, tlv.end);
}

export function whole(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.start, tlv.end);
}

const HEX = Array.from({ length: 256 }, (_, i) => hexByte(i));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!;
  return out;
}

/** Dotted-decimal OBJECT IDENTIFIER (X.690 §8.19). */
export function readOid(bytes: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== TAG.OID) throw new DerError(`expected an OBJECT IDENTIFIER at byte ${tlv.start}`);
  const { contentStart: start, end } = tlv;
  if (start === end) throw new DerError(`empty OBJECT IDENTIFIER at byte ${tlv.start}`);
  if (bytes[end - 1]! & 0x80) throw new DerError(`truncated OBJECT IDENTIFIER at byte ${tlv.start}`);
  const arcs: string[] = [];
  let value = 0;
  let big: bigint | null = null;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (big === null && value > 0x00ffffff) big = BigInt(value);
    if (big !== null) big = big * 128n + BigInt(b & 0x7f);
    else value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      const arc: string = big !== null ? big.toString() : String(value);
      if (arcs.length === 0) {
        // The first octets carry the first two arcs (X.690 §8.19.4).
        const n = big !== null ? big : BigInt(value);
        const first = n < 40n ? 0n : n < 80n ? 1n : 2n;
        arcs.push(first.toString(), (n - first * 40n).toString());
      } else {
        arcs.push(arc);
      }
      value = 0;
      big = null;
    }
  }
  return arcs.join('.');
}

/**
 * An INTEGER as upper-case hex of its magnitude, no leading zero bytes, at least one byte, `-`
 * for negative values: exactly what OpenSSL's i2a_ASN1_INTEGER (`openssl x509 -serial`) prints.
 */
export function integerHex(bytes: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== TAG.INTEGER) throw new DerError(`expected an INTEGER at byte ${tlv.start}`);
  const raw = content(bytes, tlv);
  if (raw.length === 0) throw new DerError(`empty INTEGER at byte ${tlv.start}`);
  if ((raw[0]! & 0x80) === 0) {
    let i = 0;
    while (i < raw.length - 1 && raw[i] === 0) i++;
    return toHex(raw.subarray(i)).toUpperCase();
  }
  // Negative (some old CAs issued such serials): two's complement magnitude.
  let n = 0n;
  for (const b of raw) n = (n << 8n) | BigInt(b);
  n = (1n << BigInt(raw.length * 8)) - n;
  let hex = n.toString(16).toUpperCase();
  if (hex.length % 2) hex = '0' + hex;
  return '-' + hex;
}

/** A small non-negative INTEGER or ENUMERATED (version numbers, status codes, reasons). */
export function smallInteger(bytes: Uint8Array, tlv: Tlv, what: string): number {
  const raw = content(bytes, tlv);
  if (raw.length === 0 || raw.length > 4 || (raw[0]! & 0x80) !== 0) throw new DerError(`${what}: unsupported value at byte ${tlv.start}`);
  let n = 0;
  for (const b of raw) n = n * 256 + b;
  return n;
}

export function readBoolean(bytes: Uint8Array, tlv: Tlv, what: string): boolean {
  if (tlv.tag !== TAG.BOOLEAN || tlv.end - tlv.contentStart !== 1) throw new DerError(`${what}: expected a BOOLEAN at byte ${tlv.start}`);
  return bytes[tlv.contentStart] !== 0;
}

/** BIT STRING contents without the unused-bits octet; only whole-octet strings are accepted. */
export function bitStringBytes(bytes: Uint8Array, tlv: Tlv, what: string): Uint8Array {
  if (tlv.tag !== TAG.BIT_STRING || tlv.end === tlv.contentStart) throw new DerError(`${what}: expected a BIT STRING at byte ${tlv.start}`);
  if (bytes[tlv.contentStart] !== 0) throw new DerError(`${what}: BIT STRING with unused bits at byte ${tlv.start}`);
  return bytes.subarray(tlv.contentStart + 1, tlv.end);
}

const TIME_RE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d{1,9}))?(Z|[+-]\d{4})$/;

/**
 * GeneralizedTime (RFC 5280 §4.1.2.5.2 form `YYYYMMDDHHMMSSZ`, tolerating fractional seconds and
 * numeric offsets as OpenSSL does) or UTCTime (`YYMMDDHHMMSSZ`, years 50–99 → 19xx).
 */
export function readTime(bytes: Uint8Array, tlv: Tlv, what: string): Date {
  let text = '';
  for (let i = tlv.contentStart; i < tlv.end; i++) text += String.fromCharCode(bytes[i]!);
  if (tlv.tag === TAG.UTC_TIME) {
    const yy = Number(text.slice(0, 2));
    if (!/^\d{2}/.test(text)) throw new DerError(`${what}: bad UTCTime "${printable(text)}"`);
    text = (yy >= 50 ? '19' : '20') + text;
  } else if (tlv.tag !== TAG.GENERALIZED_TIME) {
    throw new DerError(`${what}: expected a GeneralizedTime at byte ${tlv.start}`);
  }
  const m = TIME_RE.exec(text);
  if (!m) throw new DerError(`${what}: bad time "${printable(text)}"`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'), ms);
  const date = new Date(t);
  // Date.UTC rolls over out-of-range fields (month 13, hour 25): reject instead.
  if (
    date.getUTCMonth() !== Number(mo) - 1 ||
    date.getUTCDate() !== Number(d) ||
    date.getUTCHours() !== Number(h) ||
    date.getUTCMinutes() !== Number(mi) ||
    Number(s ?? '0') > 59
  ) {
    throw new DerError(`${what}: invalid date "${printable(text)}"`);
  }
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    t -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
    return new Date(t);
  }
  return date;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 40);
}

/** Text of a directory string (RFC 5280 §4.1.2.4) or IA5String; unknown types → null. */
export function readString(bytes: Uint8Array, tlv: Tlv): string | null {
  const raw = content(bytes, tlv);
  switch (tlv.tag) {
    case TAG.UTF8_STRING:
      return Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8');
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.VISIBLE_STRING:
    case 0x12: // NumericString
    case TAG.T61_STRING: // in practice Latin-1, as OpenSSL treats it
      return Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1');
    case TAG.BMP_STRING: {
      let s = '';
      for (let i = 0; i + 1 < raw.length; i += 2) s += String.fromCharCode((raw[i]! << 8) | raw[i + 1]!);
      return s;
    }
    case TAG.UNIVERSAL_STRING: {
      let s = '';
      for (let i = 0; i + 3 < raw.length; i += 4) {
        const cp = ((raw[i]! << 24) | (raw[i + 1]! << 16) | (raw[i + 2]! << 8) | raw[i + 3]!) >>> 0;
        s += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      }
      return s;
    }
    default:
      return null;
  }
}

/** Attribute types with an RFC 4514 §3 short name, plus a few OpenSSL also prints by name. */
const NAME_ATTRIBUTES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '2.5.4.5': 'serialNumber',
  '2.5.4.17': 'postalCode',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** RFC 4514 §2.4 escaping of an attribute value. */
function escapeValue(value: string): string {
  let out = value.replace(/[\\",+;<>=]/g, (c) => '\\' + c).replace(/\0/g, '\\00');
  if (out.startsWith('#') || out.startsWith(' ')) out = '\\' + out;
  if (out.endsWith(' ') && out.length > 1) out = out.slice(0, -1) + '\\ ';
  return out;
}

/**
 * RFC 4514 string of a DER Name: RDNs in reverse order, comma-separated, multi-valued RDNs joined
 * with `+`, unknown attribute types as dotted OIDs with `#`-hex values (RFC 4514 §2.3–2.4).
 */
export function nameToString(bytes: Uint8Array, nameTlv: Tlv): string {
  if (nameTlv.tag !== TAG.SEQUENCE) throw new DerError(`expected a Name at byte ${nameTlv.start}`);
  const rdns: string[] = [];
  for (const rdn of DerCursor.of(bytes, nameTlv).rest('RelativeDistinguishedName')) {
    if (rdn.tag !== TAG.SET) throw new DerError(`expected an RDN SET at byte ${rdn.start}`);
    const parts: string[] = [];
    for (const atv of DerCursor.of(bytes, rdn).rest('AttributeTypeAndValue')) {
      if (atv.tag !== TAG.SEQUENCE) throw new DerError(`expected an AttributeTypeAndValue at byte ${atv.start}`);
      const c = DerCursor.of(bytes, atv);
      const oid = readOid(bytes, c.expect(TAG.OID, 'attribute type'));
      const valueTlv = c.next('attribute value');
      c.finish('AttributeTypeAndValue');
      const short = NAME_ATTRIBUTES[oid];
      const text = readString(bytes, valueTlv);
      if (short && text !== null) parts.push(`${short}=${escapeValue(text)}`);
      else parts.push(`${oid}=#${toHex(whole(bytes, valueTlv))}`);
    }
    rdns.push(parts.join('+'));
  }
  return rdns.reverse().join(',');
}

/** AlgorithmIdentifier (RFC 5280 §4.1.1.2): OID plus the raw parameters element, if any. */
export interface AlgorithmIdentifier {
  oid: string;
  params: Tlv | null;
}

export function readAlgorithmIdentifier(bytes: Uint8Array, tlv: Tlv, what: string): AlgorithmIdentifier {
  if (tlv.tag !== TAG.SEQUENCE) throw new DerError(`${what}: expected an AlgorithmIdentifier at byte ${tlv.start}`);
  const c = DerCursor.of(bytes, tlv);
  const oid = readOid(bytes, c.expect(TAG.OID, `${what} algorithm`));
  const params = c.done ? null : c.next(`${what} parameters`);
  c.finish(what);
  return { oid, params };
}
