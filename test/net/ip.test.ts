/** The one IP parser and the BlockList-backed ranges the allowlist and the address guard share. */
import { describe, expect, it } from 'vitest';
import { embeddedIpv4, formatIpAddress, IpRange, networkOf, parseIpAddress, withoutZone } from '../../src/net/ip.js';

const bytesOf = (text: string): number[] | null => {
  const parsed = parseIpAddress(text);
  return parsed ? Array.from(parsed.bytes) : null;
};

describe('parseIpAddress', () => {
  it('expands IPv6 forms to 16 bytes, and IPv4-mapped ones to the IPv4 address they reach', () => {
    expect(bytesOf('::1')).toEqual([...new Array(15).fill(0), 1]);
    expect(parseIpAddress('::ffff:1.2.3.4')).toEqual({ family: 4, bytes: Uint8Array.from([1, 2, 3, 4]) });
    expect(bytesOf('2001:db8::ff00:42:8329')).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29]);
  });

  it('returns null for non-addresses, and for zone ids unless stripped', () => {
    expect(parseIpAddress('1.2.3')).toBeNull();
    expect(parseIpAddress('0x7f.1')).toBeNull();
    expect(parseIpAddress('localhost')).toBeNull();
    expect(parseIpAddress('fe80::1%eth0')).toBeNull();
    expect(bytesOf(withoutZone('fe80::1%eth0'))).toEqual([0xfe, 0x80, ...new Array(13).fill(0), 1]);
  });
});

describe('formatIpAddress', () => {
  it.each([
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['10.0.0.1', '10.0.0.1'],
  ])('%s → %s (RFC 5952)', (text, expected) => {
    expect(formatIpAddress(parseIpAddress(text)!)).toBe(expected);
  });
});

describe('IpRange', () => {
  it('matches by prefix, IPv4 ranges also for IPv4-mapped IPv6', () => {
    const range = IpRange.parse('10.0.0.0/8');
    expect(range.contains(parseIpAddress('10.200.3.4')!)).toBe(true);
    expect(range.contains(parseIpAddress('::ffff:10.1.2.3')!)).toBe(true);
    expect(range.contains(parseIpAddress('11.0.0.1')!)).toBe(false);
    expect(IpRange.parse('fe80::/10').contains(parseIpAddress('febf::1')!)).toBe(true);
    expect(IpRange.parse('fe80::/10').contains(parseIpAddress('fec0::1')!)).toBe(false);
    expect(IpRange.parse('::1').contains(parseIpAddress('::1')!)).toBe(true);
    expect(IpRange.parse('::1').contains(parseIpAddress('::2')!)).toBe(false);
  });

  it('computes network addresses', () => {
    expect(formatIpAddress(networkOf(parseIpAddress('10.1.2.3')!, 12))).toBe('10.0.0.0');
    expect(formatIpAddress(networkOf(parseIpAddress('2001:db8:ffff::1')!, 33))).toBe('2001:db8:8000::');
  });
});

describe('embeddedIpv4', () => {
  it('finds the IPv4 address in IPv4-compatible and NAT64 forms, not in :: or ::1', () => {
    expect(formatIpAddress(embeddedIpv4(parseIpAddress('::169.254.1.2')!)!)).toBe('169.254.1.2');
    expect(formatIpAddress(embeddedIpv4(parseIpAddress('64:ff9b::a9fe:a9fe')!)!)).toBe('169.254.169.254');
    expect(embeddedIpv4(parseIpAddress('::1')!)).toBeNull();
    expect(embeddedIpv4(parseIpAddress('::')!)).toBeNull();
    expect(embeddedIpv4(parseIpAddress('2001:db8::1')!)).toBeNull();
  });
});
