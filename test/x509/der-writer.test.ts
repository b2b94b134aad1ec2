/**
 * The DER writer, judged by an independent encoder (asn1js, which the test PKI builder uses) and
 * read back by our own reader: short and long lengths, OIDs with large arcs, nesting.
 */
import * as asn1js from 'asn1js';
import { describe, expect, it } from 'vitest';
import { readOid, readTlv, TAG } from '../../src/x509/der.js';
import { derExplicit, derIntegerContents, derNull, derOctetString, derOid, derSequence } from '../../src/x509/der-writer.js';

const hex = (bytes: Uint8Array | ArrayBuffer): string => Buffer.from(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes).toString('hex');

describe('DER writer', () => {
  it('writes OCTET STRINGs of every length form as asn1js does', () => {
    for (const size of [0, 1, 127, 128, 255, 256, 65535, 65536, 70000]) {
      const bytes = new Uint8Array(size).map((_, i) => i & 0xff);
      expect(hex(derOctetString(bytes)), `length ${size}`).toBe(hex(new asn1js.OctetString({ valueHex: bytes }).toBER()));
    }
  });

  it('writes OIDs as asn1js does, and our reader reads them back', () => {
    for (const oid of ['1.3.14.3.2.26', '2.16.840.1.101.3.4.2.1', '1.3.6.1.5.5.7.48.1.2', '2.999.3', '1.2.840.113549.1.1.10', '0.9.2342.19200300.100.1.25', '1.3.6.1.4.1.4294967296.1']) {
      const der = derOid(oid);
      expect(hex(der), oid).toBe(hex(new asn1js.ObjectIdentifier({ value: oid }).toBER()));
      expect(readOid(der, readTlv(der, 0, der.length))).toBe(oid);
    }
    expect(() => derOid('1')).toThrow(TypeError);
    expect(() => derOid('1.40')).toThrow(TypeError);
    expect(() => derOid('3.1')).toThrow(TypeError);
    expect(() => derOid('1.2.x')).toThrow(TypeError);
  });

  it('nests SEQUENCEs, [n] EXPLICIT, NULL and INTEGER contents as asn1js does', () => {
    const serial = Uint8Array.from([0x00, 0x80, 0x01]);
    const ours = derSequence(derSequence(derOid('1.3.14.3.2.26'), derNull()), derExplicit(2, derSequence(derIntegerContents(serial))), derOctetString(new Uint8Array(200)));
    const theirs = new asn1js.Sequence({
      value: [
        new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.3.14.3.2.26' }), new asn1js.Null()] }),
        new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 2 }, value: [new asn1js.Sequence({ value: [new asn1js.Integer({ valueHex: serial })] })] }),
        new asn1js.OctetString({ valueHex: new Uint8Array(200) }),
      ],
    });
    expect(hex(ours)).toBe(hex(theirs.toBER()));
    const outer = readTlv(ours, 0, ours.length);
    expect(outer.tag).toBe(TAG.SEQUENCE);
    expect(outer.end).toBe(ours.length);
  });
});
