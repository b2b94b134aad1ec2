import { describe, expect, it } from 'vitest';
import { AllowlistEntryError, compileAllowlist, isAllowedByConfig, parseAllowlistEntry } from '../../src/net/allowlist.js';
import { parseIpAddress } from '../../src/net/ip.js';
import { parseConfig } from '../../src/config/load.js';

type Case = [entry: string, host: string, port: number];

const ALLOWED: Case[] = [
  // Names: exact, case-insensitive, trailing dot.
  ['example.com:443', 'example.com', 443],
  ['example.com:443', 'EXAMPLE.com', 443],
  ['Example.COM:443', 'example.com', 443],
  ['example.com:443', 'example.com.', 443],
  ['example.com.:443', 'example.com', 443],
  // Wildcards: one or more whole labels.
  ['*.example.com:443', 'www.example.com', 443],
  ['*.example.com:443', 'a.b.c.example.com', 443],
  ['*.example.com:443', 'WWW.EXAMPLE.COM', 443],
  ['www.*.example.com:443', 'www.eu.example.com', 443],
  ['www.*.example.com:443', 'www.eu.west.example.com', 443],
  // Ports.
  ['example.com:*', 'example.com', 8443],
  ['example.com', 'example.com', 1],
  ['*:443', 'anything.example.net', 443],
  ['*:443', '192.0.2.1', 443],
  ['*:443', '2001:db8::1', 443],
  ['*', 'example.com', 65535],
  // IPv4 CIDR edges.
  ['10.0.0.0/8', '10.0.0.0', 443],
  ['10.0.0.0/8', '10.255.255.255', 443],
  ['10.0.0.0/8:443', '10.1.2.3', 443],
  ['192.168.1.128/25', '192.168.1.128', 443],
  ['192.168.1.128/25', '192.168.1.255', 443],
  ['192.0.2.7/32', '192.0.2.7', 443],
  ['192.0.2.7', '192.0.2.7', 443],
  ['192.0.2.7:443', '192.0.2.7', 443],
  ['0.0.0.0/0', '203.0.113.9', 443],
  // IPv6: bare, bracketed, ranges, other spellings of the same address.
  ['::1', '::1', 443],
  ['::1', '0:0:0:0:0:0:0:1', 443],
  ['[::1]:443', '::1', 443],
  ['::1', '[::1]', 443],
  ['[2001:db8::]/32:443', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 443],
  ['[2001:db8::]/32:443', '2001:DB8::1', 443],
  ['[2001:db8::/32]:443', '2001:db8::1', 443],
  ['2001:db8::/32', '2001:db8:1::1', 8443],
  ['[fe80::]/10', 'febf::1', 443],
  ['::/0', '2001:db8::1', 443],
  // An IPv4-mapped IPv6 target reaches the IPv4 address: judged as that address.
  ['10.0.0.0/8', '::ffff:10.1.2.3', 443],
];

const REFUSED: Case[] = [
  // Names.
  ['example.com:443', 'www.example.com', 443],
  ['example.com:443', 'example.com', 8443],
  ['example.com:443', 'example.co', 443],
  ['example.com:443', 'example.com.evil.net', 443],
  // A wildcard needs at least one label and only matches on label boundaries.
  ['*.example.com:443', 'example.com', 443],
  ['*.example.com:443', 'evil-example.com', 443],
  ['*.example.com:443', 'wwwexample.com', 443],
  ['*.example.com:443', 'www.example.com.evil.net', 443],
  ['*.example.com:443', '.example.com', 443],
  ['*.example.com:443', 'www.example.com', 8443],
  ['www.*.example.com:443', 'www.example.com', 443],
  // Names never match addresses and ranges never match names.
  ['*.example.com:443', '192.0.2.1', 443],
  ['10.0.0.0/8', '10.example.com', 443],
  ['10.0.0.0/8', 'localhost', 443],
  // IPv4 CIDR edges.
  ['10.0.0.0/8', '9.255.255.255', 443],
  ['10.0.0.0/8', '11.0.0.0', 443],
  ['10.0.0.0/8:443', '10.1.2.3', 8443],
  ['192.168.1.128/25', '192.168.1.127', 443],
  ['192.0.2.7/32', '192.0.2.8', 443],
  ['192.0.2.7', '192.0.2.70', 443],
  // Families do not mix, except the mapped form above.
  ['10.0.0.0/8', '::a00:1', 443],
  ['0.0.0.0/0', '2001:db8::1', 443],
  ['::/0', '192.0.2.1', 443],
  // IPv6 edges.
  ['[2001:db8::]/32:443', '2001:db9::', 443],
  ['[2001:db8::]/32:443', '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', 443],
  ['[2001:db8::]/32:443', '2001:db8::1', 80],
  ['::1', '::2', 443],
  ['[fe80::]/10', 'fec0::1', 443],
  // Junk hosts and ports fail closed.
  ['*', 'not a host', 443],
  ['*', '', 443],
  ['*', 'example.com', 0],
  ['*', 'example.com', 65536],
  ['*', 'example.com', 1.5],
  ['::1', '::1%lo', 443],
];

describe('compileAllowlist', () => {
  it.each(ALLOWED)('%s allows %s port %d', (entry, host, port) => {
    expect(compileAllowlist([entry])(host, port)).toBe(true);
  });

  it.each(REFUSED)('%s refuses %s port %d', (entry, host, port) => {
    expect(compileAllowlist([entry])(host, port)).toBe(false);
  });

  it('an empty list allows nothing; a list allows what any entry allows', () => {
    expect(compileAllowlist([])('example.com', 443)).toBe(false);
    const allowed = compileAllowlist(['*.example.com:443', '10.0.0.0/8']);
    expect(allowed('www.example.com', 443)).toBe(true);
    expect(allowed('10.9.9.9', 22)).toBe(true);
    expect(allowed('www.example.org', 443)).toBe(false);
  });

  it.each([
    ['', '"": empty (use patterns like *.example.com:443 or 10.0.0.0/8)'],
    ['10.0.0.0/33', '"10.0.0.0/33": prefix length "33" must be 0 to 32 for IPv4'],
    ['[2001:db8::]/129', '"[2001:db8::]/129": prefix length "129" must be 0 to 128 for IPv6'],
    ['10.0.0.0/', '"10.0.0.0/": prefix length "" must be 0 to 32 for IPv4'],
    ['10.0.0.0/x', '"10.0.0.0/x": prefix length "x" must be 0 to 32 for IPv4'],
    ['10.0.0.1/8', '"10.0.0.1/8": host bits are set after the /8 prefix (did you mean 10.0.0.0/8?)'],
    ['[2001:db8::1]/32:443', '"[2001:db8::1]/32:443": host bits are set after the /32 prefix (did you mean 2001:db8::/32?)'],
    ['300.0.0.0/8', '"300.0.0.0/8": "300.0.0.0" is not an IP address (CIDR ranges are like 10.0.0.0/8 or [2001:db8::]/32)'],
    ['example.com/24', '"example.com/24": "example.com" is not an IP address (CIDR ranges are like 10.0.0.0/8 or [2001:db8::]/32)'],
    ['[::ffff:10.0.0.0]/104', '"[::ffff:10.0.0.0]/104": write IPv4 ranges as IPv4 (e.g. 10.0.0.0/8)'],
    ['*.example.com:0', '"*.example.com:0": port "0" must be 1 to 65535 or *'],
    ['*.example.com:65536', '"*.example.com:65536": port "65536" must be 1 to 65535 or *'],
    ['*.example.com:', '"*.example.com:": port "" must be 1 to 65535 or *'],
    [':443', '":443": no host (use * for any host)'],
    ['w*.example.com:443', '"w*.example.com:443": a wildcard must be a whole label, like *.example.com'],
    ['**.example.com', '"**.example.com": a wildcard must be a whole label, like *.example.com'],
    ['exa_mple..com', '"exa_mple..com": "exa_mple..com" is not a host name pattern, IP address or CIDR range'],
    ['https://example.com', '"https://example.com": a URL; write host:port patterns like *.example.com:443'],
    ['example.com :443', '"example.com :443": contains whitespace'],
    ['2001:db8::/32:443', '"2001:db8::/32:443": IPv6 addresses must be in brackets when a port follows, e.g. [2001:db8::1]:443 or [2001:db8::]/32:443'],
    ['a:b:c', '"a:b:c": IPv6 addresses must be in brackets when a port follows, e.g. [2001:db8::1]:443 or [2001:db8::]/32:443'],
    ['[example.com]:443', '"[example.com]:443": only IPv6 addresses go in brackets'],
    ['[::1', '"[::1": expected [IPv6 address]:port or [IPv6 range]/length:port'],
  ])('rejects entry %j', (entry, message) => {
    let thrown: unknown;
    try {
      parseAllowlistEntry(entry);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AllowlistEntryError);
    expect((thrown as AllowlistEntryError).code).toBe('ERR_ALLOWLIST_ENTRY');
    expect((thrown as Error).message).toBe(message);
    expect(() => compileAllowlist(['*:443', entry])).toThrow(message);
  });
});

describe('parseIpAddress', () => {
  it.each([
    ['10.1.2.3', 4, [10, 1, 2, 3]],
    ['::ffff:10.1.2.3', 4, [10, 1, 2, 3]],
    ['::ffff:a01:203', 4, [10, 1, 2, 3]],
    ['::1', 6, [...new Array(15).fill(0), 1]],
    ['1::', 6, [0, 1, ...new Array(14).fill(0)]],
    ['1:2:3:4:5:6:7:8', 6, [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
    ['1:2:3:4:5:6:1.2.3.4', 6, [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]],
    ['::1.2.3.4', 6, [...new Array(12).fill(0), 1, 2, 3, 4]],
  ])('%s', (text, family, bytes) => {
    const address = parseIpAddress(text);
    expect(address?.family).toBe(family);
    expect(Array.from(address!.bytes)).toEqual(bytes);
  });

  it.each(['example.com', '', '1.2.3', 'fe80::1%eth0', '::g'])('%j is not an address', (text) => {
    expect(parseIpAddress(text)).toBeNull();
  });
});

describe('isAllowedByConfig', () => {
  const config = parseConfig(
    [
      'global:',
      '  probe_allowlist: ["*.example.com:443"]',
      'targets:',
      '  - static.example.org:8443',
      '  - "[2001:db8::7]:443"',
      '  - 192.0.2.7:443',
    ].join('\n'),
    'c.yaml',
  );

  it.each([
    ['www.example.com', 443, true],
    ['static.example.org', 8443, true],
    ['STATIC.example.org.', 8443, true],
    ['2001:db8:0::7', 443, true],
    ['192.0.2.7', 443, true],
    ['static.example.org', 443, false],
    ['other.example.org', 8443, false],
    ['2001:db8::8', 443, false],
    ['192.0.2.7', 8443, false],
    ['www.example.com', 8443, false],
  ] as const)('%s port %d → %s', (host, port, allowed) => {
    expect(isAllowedByConfig(config, host, port)).toBe(allowed);
  });

  it('allows nothing with the built-in empty config', async () => {
    const { emptyConfig } = await import('../../src/config/schema.js');
    expect(isAllowedByConfig(emptyConfig(), 'example.com', 443)).toBe(false);
    expect(isAllowedByConfig(emptyConfig(), '127.0.0.1', 443)).toBe(false);
  });

  it('follows the config object it is given (a reloaded config is judged afresh)', () => {
    const next = parseConfig('global:\n  probe_allowlist: ["*.example.org:*"]\n', 'c.yaml');
    expect(isAllowedByConfig(next, 'www.example.com', 443)).toBe(false);
    expect(isAllowedByConfig(next, 'other.example.org', 1)).toBe(true);
    expect(isAllowedByConfig(config, 'other.example.org', 1)).toBe(false);
  });
});
