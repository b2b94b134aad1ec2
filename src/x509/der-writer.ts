/**
 * A small DER writer (X.690 §8, §10) for the one structure the exporter sends: the OCSPRequest
 * (responder/request.ts). Values are built bottom-up as byte arrays; nothing is re-encoded, so
 * bytes copied from a certificate (a serial number's INTEGER contents) go out exactly as read.
 * The runtime thus needs one ASN.1 stack, this and the reader beside it (der.ts).
 */
import { TAG } from './der.js';

/** Definite-length octets (X.690 §8.1.3): short form below 128, else long form. */
function lengthOctets(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** One TLV with a single identifier octet (tag numbers below 31). */
export function derTlv(tag: number, contents: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(tag), lengthOctets(contents.length), contents]);
}

export function derSequence(...elements: Uint8Array[]): Uint8Array {
  return derTlv(TAG.SEQUENCE, concat(elements));
}

/** `[n] EXPLICIT`: a constructed context-specific tag around one element. */
export function derExplicit(n: number, element: Uint8Array): Uint8Array {
  return derTlv(0xa0 | n, element);
}

export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(TAG.OCTET_STRING, bytes);
}

export function derNull(): Uint8Array {
  return Uint8Array.of(TAG.NULL, 0);
}

/** An INTEGER from its contents octets, taken as they are (already minimal two's complement). */
export function derIntegerContents(contents: Uint8Array): Uint8Array {
  return derTlv(TAG.INTEGER, contents);
}

/** OBJECT IDENTIFIER from dotted decimal (X.690 §8.19): first two arcs in one subidentifier, base 128. */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((arc) => {
    if (!/^\d+$/.test(arc)) throw new TypeError(`not an OID: ${dotted}`);
    return BigInt(arc);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new TypeError(`not an OID: ${dotted}`);
  const subidentifiers = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const value of subidentifiers) {
    const group: number[] = [Number(value & 0x7fn)];
    for (let rest = value >> 7n; rest > 0n; rest >>= 7n) group.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...group);
  }
  return derTlv(TAG.OID, Uint8Array.from(bytes));
}
