/**
 * Address restrictions applied to every address a probe is about to connect to, after DNS
 * resolution, so a name that resolves to a cloud metadata service cannot slip past an allowlist
 * that only looked at the name (the SSRF complaint made about blackbox_exporter's `/probe`).
 * Refused unless the module sets `allow_link_local: true`: IPv4 link-local 169.254.0.0/16 (AWS,
 * GCP, Azure, OpenStack metadata at 169.254.169.254), IPv6 link-local fe80::/10, AWS' IPv6 IMDS
 * fd00:ec2::254, Alibaba Cloud's 100.100.100.200, "this network" 0.0.0.0/8 and `::` (which Linux
 * connects to the local host), and the same IPv4 addresses hidden inside IPv6 forms: IPv4-mapped
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96, RFC 6052).
 * Pure functions of the address text: no DNS, no sockets.
 */
import { isIP } from 'node:net';

/** Why an address is refused: a stable short name and the range it fell in. */
export interface BlockedAddress {
  /** Stable name: `link_local`, `metadata`, `this_network`, `unspecified`. */
  kind: 'link_local' | 'metadata' | 'this_network' | 'unspecified';
  /** The range or address that matched, e.g. `169.254.0.0/16`. */
  range: string;
}

interface Rule extends BlockedAddress {
  bytes: number[];
  prefixLength: number;
}

function rule(kind: BlockedAddress['kind'], range: string): Rule {
  const [address = '', prefix] = range.split('/');
  const bytes = addressBytes(address);
  if (!bytes) throw new TypeError(`bad built-in range ${range}`);
  return { kind, range, bytes, prefixLength: prefix === undefined ? bytes.length * 8 : Number(prefix) };
}

const IPV4_RULES: Rule[] = [
  rule('link_local', '169.254.0.0/16'), // RFC 3927; 169.254.169.254 is the metadata service of most clouds
  rule('metadata', '100.100.100.200'), // Alibaba Cloud ECS metadata
  rule('this_network', '0.0.0.0/8'), // RFC 1122 §3.2.1.3: "this host on this network"; 0.0.0.0 reaches localhost
];

const IPV6_RULES: Rule[] = [
  rule('link_local', 'fe80::/10'), // RFC 4291 §2.5.6
  rule('metadata', 'fd00:ec2::254'), // AWS IMDS over IPv6
  rule('unspecified', '::'), // connecting to :: reaches the local host, like 0.0.0.0
];

/** IPv6 prefixes whose last 32 bits are an IPv4 address that the packet effectively reaches. */
const IPV4_EMBEDDING_PREFIXES: Rule[] = [
  rule('link_local', '::ffff:0:0/96'), // IPv4-mapped (kind unused: the embedded address decides)
  rule('link_local', '::/96'), // IPv4-compatible (deprecated, RFC 4291 §2.5.5.1)
  rule('link_local', '64:ff9b::/96'), // NAT64 well-known prefix (RFC 6052 §2.1)
];

/**
 * IPv4 or IPv6 text (zone id allowed, e.g. `fe80::1%eth0`) → 4 or 16 bytes; null when it is not
 * an IP address.
 */
export function addressBytes(text: string): number[] | null {
  const address = text.split('%')[0] ?? '';
  const family = isIP(address);
  if (family === 4) return address.split('.').map(Number);
  if (family !== 6) return null;
  let hex = address;
  // A trailing dotted quad (::ffff:169.254.1.2) becomes two hex groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(hex);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    hex = `${hex.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = hex.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...new Array<string>(missing).fill('0'), ...tailGroups];
  return groups.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

function matches(bytes: number[], r: Rule): boolean {
  if (bytes.length !== r.bytes.length) return false;
  let bits = r.prefixLength;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((r.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/**
 * The restriction `address` falls under, or null when it may be probed. Addresses that are not IP
 * literals return null: the guard judges resolved addresses, the resolver judges names.
 */
export function blockedAddress(address: string): BlockedAddress | null {
  const bytes = addressBytes(address);
  if (!bytes) return null;
  if (bytes.length === 4) return firstMatch(bytes, IPV4_RULES);
  const direct = firstMatch(bytes, IPV6_RULES);
  if (direct) return direct;
  for (const prefix of IPV4_EMBEDDING_PREFIXES) {
    if (matches(bytes, prefix)) {
      const embedded = firstMatch(bytes.slice(12), IPV4_RULES);
      // ::1 and :: are IPv4-compatible in form only; they are not IPv4 addresses.
      if (embedded && !(prefix.range === '::/96' && bytes.slice(12, 15).every((b) => b === 0))) return embedded;
    }
  }
  return null;
}

function firstMatch(bytes: number[], rules: Rule[]): BlockedAddress | null {
  for (const r of rules) if (matches(bytes, r)) return { kind: r.kind, range: r.range };
  return null;
}

/** Module settings the guard reads (`allow_link_local` in the config file). */
export interface GuardPolicy {
  allowLinkLocal?: boolean;
}

/**
 * Null when `address` may be probed under `policy`, else the message of the `blocked` failure,
 * e.g. `169.254.169.254 is in 169.254.0.0/16 (link_local), refused unless the module sets allow_link_local: true`.
 */
export function addressRefusal(address: string, policy: GuardPolicy): string | null {
  if (policy.allowLinkLocal === true) return null;
  const blocked = blockedAddress(address);
  if (!blocked) return null;
  return `${address} is in ${blocked.range} (${blocked.kind}), refused unless the module sets allow_link_local: true`;
}
