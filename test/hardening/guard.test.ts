import { describe, expect, it } from 'vitest';
import { addressBytes, addressRefusal, blockedAddress } from '../../src/probe/guard.js';

describe('blockedAddress', () => {
  it.each([
    ['169.254.169.254', 'link_local', '169.254.0.0/16'],
    ['169.254.0.1', 'link_local', '169.254.0.0/16'],
    ['169.254.255.255', 'link_local', '169.254.0.0/16'],
    ['100.100.100.200', 'metadata', '100.100.100.200'],
    ['0.0.0.0', 'this_network', '0.0.0.0/8'],
    ['0.255.1.2', 'this_network', '0.0.0.0/8'],
    ['fe80::1', 'link_local', 'fe80::/10'],
    ['fe80::1%eth0', 'link_local', 'fe80::/10'],
    ['febf:ffff::1', 'link_local', 'fe80::/10'],
    ['FE80::A9FE:A9FE', 'link_local', 'fe80::/10'],
    ['fd00:ec2::254', 'metadata', 'fd00:ec2::254'],
    ['fd00:0ec2:0:0:0:0:0:254', 'metadata', 'fd00:ec2::254'],
    ['::', 'unspecified', '::'],
    // IPv4 hidden in IPv6 forms reaches the IPv4 address.
    ['::ffff:169.254.169.254', 'link_local', '169.254.0.0/16'],
    ['::ffff:a9fe:a9fe', 'link_local', '169.254.0.0/16'],
    ['::ffff:100.100.100.200', 'metadata', '100.100.100.200'],
    ['::ffff:0.0.0.0', 'this_network', '0.0.0.0/8'],
    ['::169.254.169.254', 'link_local', '169.254.0.0/16'],
    ['64:ff9b::169.254.169.254', 'link_local', '169.254.0.0/16'],
    ['64:ff9b::a9fe:a9fe', 'link_local', '169.254.0.0/16'],
  ])('refuses %s (%s, %s)', (address, kind, range) => {
    expect(blockedAddress(address)).toEqual({ kind, range });
  });

  it.each([
    '127.0.0.1',
    '::1',
    '10.0.0.1',
    '192.168.1.1',
    '169.253.255.255',
    '169.255.0.0',
    '100.100.100.201',
    '1.0.0.0',
    'fec0::1',
    'fe7f::1',
    'fd00:ec2::253',
    '2001:db8::1',
    '::ffff:127.0.0.1',
    '::ffff:10.1.2.3',
    '64:ff9b::10.0.0.1',
    '64:ff9c::a9fe:a9fe',
    'example.com',
    '',
    '169.254.169.254.nip.io',
  ])('lets %s through', (address) => {
    expect(blockedAddress(address)).toBeNull();
  });
});

describe('addressRefusal', () => {
  it('names the address, the range and the option that allows it', () => {
    expect(addressRefusal('169.254.169.254', {})).toBe(
      '169.254.169.254 is in 169.254.0.0/16 (link_local), refused unless the module sets allow_link_local: true',
    );
  });

  it('allows everything when the module sets allowLinkLocal', () => {
    expect(addressRefusal('169.254.169.254', { allowLinkLocal: true })).toBeNull();
    expect(addressRefusal('fd00:ec2::254', { allowLinkLocal: true })).toBeNull();
  });

  it('only allowLinkLocal === true allows', () => {
    expect(addressRefusal('169.254.169.254', { allowLinkLocal: false })).not.toBeNull();
    expect(addressRefusal('169.254.169.254', { allowLinkLocal: 'yes' as unknown as boolean })).not.toBeNull();
  });
});

describe('addressBytes', () => {
  it('expands IPv6 forms to 16 bytes', () => {
    expect(addressBytes('::1')).toEqual([...new Array(15).fill(0), 1]);
    expect(addressBytes('::ffff:1.2.3.4')).toEqual([...new Array(10).fill(0), 0xff, 0xff, 1, 2, 3, 4]);
    expect(addressBytes('2001:db8::ff00:42:8329')).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29]);
  });

  it('returns null for non-addresses', () => {
    expect(addressBytes('1.2.3')).toBeNull();
    expect(addressBytes('0x7f.1')).toBeNull();
    expect(addressBytes('localhost')).toBeNull();
  });
});
