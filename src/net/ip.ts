/**
 * IP addresses and ranges, in one place for the allowlist, the address guard and the config
 * loader. Parsing leans on `node:net` (`isIP` validates the syntax) and range membership on
 * `node:net` `BlockList`. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) is
 * parsed as the IPv4 address it reaches; what BlockList does not know, the IPv4 address inside an
 * IPv4-compatible (::a.b.c.d, RFC 4291 §2.5.5.1) or NAT64 (64:ff9b::/96, RFC 6052 §2.1) address,
 * is {@link embeddedIpv4}, for the guard's explicit rules. Pure functions: no DNS, no sockets.
 */
import { BlockList, isIP } from 'node:net';

export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes. */
  bytes: Uint8Array;
}

/**
 * An IPv4 or IPv6 literal as bytes; null when it is not one (zone ids such as `%eth0` included:
 * strip them first with {@link withoutZone} where they are acceptable). IPv4-mapped IPv6
 * (`::ffff:10.0.0.1`) becomes IPv4, the address it reaches.
 */
export function parseIpAddress(text: string): IpAddress | null {
  const family = isIP(text);
  if (family === 4) return { family: 4, bytes: Uint8Array.from(text.split('.').map(Number)) };
  if (family !== 6 || text.includes('%')) return null;
  // Node has validated the syntax; expand `::` and a trailing dotted IPv4 part into eight 16-bit words.
  let hex = text;
  const embedded: number[] = [];
  if (hex.includes('.')) {
    const colon = hex.lastIndexOf(':');
    const v4 = hex.slice(colon + 1).split('.').map(Number);
    embedded.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    hex = hex.slice(0, colon + 1);
    if (!hex.endsWith('::')) hex = hex.slice(0, -1);
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const halves = hex.split('::');
  const head = parse(halves[0]!);
  const rest = [...(halves.length === 2 ? parse(halves[1]!) : []), ...embedded];
  const words = halves.length === 2 ? [...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest] : [...head, ...rest];
  if (words.length !== 8) return null;
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes };
}

/** `fe80::1%eth0` → `fe80::1`: the zone names an interface, not a different address. */
export function withoutZone(text: string): string {
  const percent = text.indexOf('%');
  return percent < 0 ? text : text.slice(0, percent);
}

/** Dotted quad, or RFC 5952 text (lower case, the longest run of zero words compressed). */
export function formatIpAddress(address: IpAddress): string {
  if (address.family === 4) return Array.from(address.bytes).join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((address.bytes[i]! << 8) | address.bytes[i + 1]!).toString(16));
  // RFC 5952 §4.2: compress the longest run of two or more zero words, the first when tied.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  if (best.start < 0) return words.join(':');
  return `${words.slice(0, best.start).join(':')}::${words.slice(best.start + best.length).join(':')}`;
}

export function sameIpAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.bytes.every((byte, i) => byte === b.bytes[i]);
}

/** The network address of `address` under a `/prefix`: host bits cleared. */
export function networkOf(address: IpAddress, prefix: number): IpAddress {
  return { family: address.family, bytes: address.bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, prefix - 8 * i)))) & 0xff)) };
}

/** A CIDR range; membership by `node:net` BlockList. */
export class IpRange {
  readonly #list = new BlockList();
  readonly text: string;

  constructor(
    readonly network: IpAddress,
    readonly prefix: number,
  ) {
    this.text = `${formatIpAddress(network)}/${prefix}`;
    this.#list.addSubnet(formatIpAddress(network), prefix, network.family === 4 ? 'ipv4' : 'ipv6');
  }

  /** `10.0.0.0/8`, `fe80::/10`, or a single address (`/32`, `/128` implied). */
  static parse(text: string): IpRange {
    const [addressText = '', prefixText] = text.split('/');
    const address = parseIpAddress(addressText);
    if (!address) throw new TypeError(`not an IP range: ${text}`);
    return new IpRange(address, prefixText === undefined ? address.bytes.length * 8 : Number(prefixText));
  }

  /** Same family and inside the range (an IPv4-mapped address is parsed as the IPv4 address it is). */
  contains(address: IpAddress): boolean {
    if (address.family !== this.network.family) return false;
    return this.#list.check(formatIpAddress(address), address.family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** IPv6 forms whose last 32 bits are an IPv4 address the packet reaches, beyond IPv4-mapped. */
const IPV4_EMBEDDING = [IpRange.parse('::/96'), IpRange.parse('64:ff9b::/96')];

/**
 * The IPv4 address an IPv4-compatible (::a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) address reaches;
 * null otherwise. `::` and `::1` are IPv4-compatible in form only and are not taken as IPv4.
 */
export function embeddedIpv4(address: IpAddress): IpAddress | null {
  if (address.family !== 6 || !IPV4_EMBEDDING.some((range) => range.contains(address))) return null;
  const v4 = address.bytes.slice(12);
  const compatible = address.bytes.subarray(0, 12).every((b) => b === 0);
  if (compatible && v4[0] === 0 && v4[1] === 0 && v4[2] === 0) return null;
  return { family: 4, bytes: v4 };
}
