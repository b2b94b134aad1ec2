import { once } from 'node:events';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { defaultModule } from '../../src/config/schema.js';
import { addressRefusal, blockedAddress } from '../../src/net/guard.js';
import { probeTarget } from '../../src/probe/probe.js';
import type { LookupFn } from '../../src/net/resolve.js';
import type { ProbeTarget } from '../../src/probe/types.js';

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

describe('probeTarget refuses blocked addresses after resolution', () => {
  const target = (host: string): ProbeTarget => ({ target: `${host}:443`, host, port: 443, module: 'default', serverName: null, labels: {} });
  /** A resolver answering every name with `answers`; records what it was asked. */
  const lookupTo = (answers: { address: string; family: number }[]) => {
    const asked: string[] = [];
    const lookup: LookupFn = async (host) => {
      asked.push(host);
      return answers;
    };
    return { lookup, asked };
  };

  it('a name resolving to 169.254.169.254 fails with reason blocked, without connecting', async () => {
    const { lookup, asked } = lookupTo([{ address: '169.254.169.254', family: 4 }]);
    const started = Date.now();
    const [result, ...rest] = await probeTarget(target('metadata.attacker.example'), defaultModule(), Date.now() + 5000, { lookup });
    expect(rest).toEqual([]);
    expect(asked).toEqual(['metadata.attacker.example']);
    expect(result).toMatchObject({
      success: false,
      failureReason: 'blocked',
      address: '169.254.169.254:443',
      error: '169.254.169.254 is in 169.254.0.0/16 (link_local), refused unless the module sets allow_link_local: true',
      tls: null,
      staple: null,
    });
    // No connection attempt: a connect to an unroutable address would take until the deadline.
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('IPv4-mapped and AWS IPv6 metadata answers are refused too; every address when probing all', async () => {
    const { lookup } = lookupTo([
      { address: '::ffff:169.254.169.254', family: 6 },
      { address: 'fd00:ec2::254', family: 6 },
      { address: '100.100.100.200', family: 4 },
    ]);
    const module = { ...defaultModule(), probeAllAddresses: true };
    const results = await probeTarget(target('sneaky.example'), module, Date.now() + 5000, { lookup });
    expect(results.map((r) => [r.address, r.failureReason])).toEqual([
      ['[::ffff:169.254.169.254]:443', 'blocked'],
      ['[fd00:ec2::254]:443', 'blocked'],
      ['100.100.100.200:443', 'blocked'],
    ]);
  });

  it('an IP literal target in a blocked range is refused (no DNS involved)', async () => {
    const { lookup, asked } = lookupTo([]);
    const [result] = await probeTarget(target('169.254.169.254'), defaultModule(), Date.now() + 5000, { lookup });
    expect(asked).toEqual([]);
    expect(result?.failureReason).toBe('blocked');
  });

  it('allow_link_local lets the module probe it (here: a loopback server stands in, reached through an allowed name)', async () => {
    // Loopback is never blocked; the point is that the guard consults the module's flag.
    const { lookup } = lookupTo([{ address: '127.0.0.1', family: 4 }]);
    const server = net.createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as net.AddressInfo).port;
      const [result] = await probeTarget({ ...target('allowed.example'), port }, { ...defaultModule(), allowLinkLocal: true, timeoutSeconds: 2 }, Date.now() + 2000, { lookup });
      expect(result?.failureReason).toBe('tls');
    } finally {
      server.close();
    }
    expect(addressRefusal('169.254.169.254', { ...defaultModule(), allowLinkLocal: true })).toBeNull();
  });
});
