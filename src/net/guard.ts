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
import { embeddedIpv4, IpRange, parseIpAddress, withoutZone, type IpAddress } from './ip.js';

/** Why an address is refused: a stable short name and the range it fell in. */
export interface BlockedAddress {
  /** Stable name: `link_local`, `metadata`, `this_network`, `unspecified`. */
  kind: 'link_local' | 'metadata' | 'this_network' | 'unspecified';
  /** The range or address that matched, e.g. `169.254.0.0/16`. */
  range: string;
}

interface Rule extends BlockedAddress {
  matcher: IpRange;
}

function rule(kind: BlockedAddress['kind'], range: string): Rule {
  return { kind, range, matcher: IpRange.parse(range) };
}

/** IPv4 rules; they also catch IPv4-mapped IPv6 (parsed as IPv4) and, explicitly, compatible and NAT64 forms. */
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

/**
 * The restriction `address` falls under, or null when it may be probed. Addresses that are not IP
 * literals return null: the guard judges resolved addresses, the resolver judges names. A zone id
 * (`fe80::1%eth0`) is ignored: it names an interface, not another address.
 */
export function blockedAddress(address: string): BlockedAddress | null {
  const parsed = parseIpAddress(withoutZone(address));
  if (!parsed) return null;
  if (parsed.family === 4) return firstMatch(parsed, IPV4_RULES);
  const direct = firstMatch(parsed, IPV6_RULES);
  if (direct) return direct;
  const embedded = embeddedIpv4(parsed);
  return embedded ? firstMatch(embedded, IPV4_RULES) : null;
}

function firstMatch(address: IpAddress, rules: Rule[]): BlockedAddress | null {
  for (const r of rules) if (r.matcher.contains(address)) return { kind: r.kind, range: r.range };
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
