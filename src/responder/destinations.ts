/**
 * Where the exporter's own HTTP requests may go: the OCSP exchange and the caIssuers fetch ask URLs
 * written in a certificate the probed server chose, so without a bound that server could make the
 * exporter POST to `http://127.0.0.1:…/internal/admin`, reload its own config through `/-/reload`,
 * or scan internal ports through the `http_status` / `connect` / `timeout` problems.
 *
 * - `global.responder_allowlist` unset: any address the address guard (src/net/guard.ts) lets
 *   through, except the sensitive ones below.
 * - set: the URL's host (name pattern, or an address/CIDR entry for an IP literal host) or the
 *   address it resolved to (address/CIDR entries) must match an entry, port included; and the
 *   sensitive ones below still need their explicit entry.
 * - Sensitive, refused unless listed explicitly: loopback (127.0.0.0/8, ::1) and unspecified
 *   (0.0.0.0/8, ::) addresses need an address/CIDR entry lying inside that block (`*`, `0.0.0.0/0`
 *   or a host name that happens to resolve there do not count); the exporter's own listen
 *   sockets need an entry naming exactly that address and port (`127.0.0.1:9858`), so listing a
 *   loopback lab responder does not open the exporter's own `/-/reload`.
 *
 * Plain data in, a refusal message out: no DNS, no sockets (transport.ts resolves and calls this).
 */
import { compileAllowlist, parseAllowlistEntry } from '../net/allowlist.js';
import { embeddedIpv4, IpRange, parseIpAddress, sameIpAddress, withoutZone, type IpAddress } from '../net/ip.js';

/** One socket the exporter listens on: an IP address (never a wildcard, see {@link expandListenAddresses}) and port. */
export interface ListenEndpoint {
  address: string;
  port: number;
}

/** What decides where a module's HTTP requests may go. Plain data: it travels to worker threads. */
export interface ResponderDestinations {
  /** `global.responder_allowlist`; null when the key is not set. */
  allowlist: readonly string[] | null;
  /** The exporter's own listen sockets, wildcards expanded to the host's interface addresses. */
  exporterEndpoints: readonly ListenEndpoint[];
}

/** Nothing configured, no listen socket known: the default rules only. */
export const DEFAULT_DESTINATIONS: ResponderDestinations = { allowlist: null, exporterEndpoints: [] };

interface SensitiveBlock {
  kind: 'loopback' | 'unspecified';
  range: IpRange;
}

const SENSITIVE_BLOCKS: readonly SensitiveBlock[] = [
  { kind: 'loopback', range: IpRange.parse('127.0.0.0/8') }, // RFC 1122 §3.2.1.3
  { kind: 'loopback', range: IpRange.parse('::1') }, // RFC 4291 §2.5.3
  { kind: 'unspecified', range: IpRange.parse('0.0.0.0/8') }, // reaches the local host on Linux
  { kind: 'unspecified', range: IpRange.parse('::') },
];

type Rule = ReturnType<typeof parseAllowlistEntry>;

/** The forms of `address` a packet may reach: itself, and the IPv4 address inside a compatible or NAT64 form. */
function reachedForms(address: IpAddress): IpAddress[] {
  const embedded = embeddedIpv4(address);
  return embedded ? [address, embedded] : [address];
}

/** `rule` is an address/CIDR entry for `port` whose whole range lies inside `block` and contains one of `forms`. */
function listsInside(rule: Rule, block: IpRange, forms: IpAddress[], port: number): boolean {
  if (rule.host.kind !== 'cidr' || (rule.port !== null && rule.port !== port)) return false;
  const range = rule.host.range;
  const inside = range.network.family === block.network.family && range.prefix >= block.prefix && block.contains(range.network);
  return inside && forms.some((form) => range.contains(form));
}

/** `rule` names exactly `address` and exactly `port`. */
function namesExactly(rule: Rule, address: IpAddress, port: number): boolean {
  if (rule.host.kind !== 'cidr' || rule.port !== port) return false;
  const range = rule.host.range;
  return range.prefix === range.network.bytes.length * 8 && sameIpAddress(range.network, address);
}

/**
 * Null when a request to `host` (the URL's host, brackets removed), connecting to `address` (what it
 * resolved to) on `port`, may be made under `destinations`; else why not, for the `not_allowed` problem.
 */
export function destinationRefusal(host: string, address: string, port: number, destinations: ResponderDestinations): string | null {
  const parsed = parseIpAddress(withoutZone(address));
  const rules = (destinations.allowlist ?? []).map(parseAllowlistEntry);
  const shown = address === host ? `${address}:${port}` : `${host}:${port} (${address})`;
  if (parsed) {
    const forms = reachedForms(parsed);
    const own = destinations.exporterEndpoints.find((endpoint) => {
      const ownAddress = parseIpAddress(withoutZone(endpoint.address));
      return endpoint.port === port && ownAddress !== null && forms.some((form) => sameIpAddress(form, ownAddress));
    });
    if (own && !rules.some((rule) => forms.some((form) => namesExactly(rule, form, port)))) {
      return `${shown} is the exporter's own listen address, refused unless global.responder_allowlist names exactly ${own.address.includes(':') ? `[${own.address}]` : own.address}:${port}`;
    }
    for (const block of SENSITIVE_BLOCKS) {
      if (!forms.some((form) => block.range.contains(form))) continue;
      if (rules.some((rule) => listsInside(rule, block.range, forms, port))) break;
      return `${shown} is a ${block.kind} address (${block.range.text}), refused unless global.responder_allowlist lists it by address or range`;
    }
  }
  if (destinations.allowlist === null) return null;
  const matches = compileAllowlist([...destinations.allowlist]);
  if (matches(host, port) || matches(address, port)) return null;
  return `${shown} matches no entry of global.responder_allowlist`;
}

/**
 * The sockets of a listening server (`server.addresses()`) as {@link ListenEndpoint}s: a wildcard (`0.0.0.0`, `::`) becomes
 * every address of `interfaceAddresses` (`::` also takes IPv4: sockets are dual-stack by default)
 * plus the wildcard itself, since a request to it reaches the same socket.
 */
export function expandListenAddresses(
  bound: readonly (ListenEndpoint | string)[],
  interfaceAddresses: readonly { address: string; family: string | number }[],
): ListenEndpoint[] {
  const endpoints: ListenEndpoint[] = [];
  for (const socket of bound) {
    if (typeof socket === 'string') continue; // a pipe or Unix socket path: no URL reaches it
    const { address, port } = socket;
    endpoints.push({ address, port });
    if (address !== '0.0.0.0' && address !== '::') continue;
    for (const local of interfaceAddresses) {
      const ipv4 = local.family === 'IPv4' || local.family === 4;
      if (address === '0.0.0.0' && !ipv4) continue;
      endpoints.push({ address: withoutZone(local.address), port });
    }
  }
  return endpoints;
}

/** A short stable text of `destinations`, for cache keys: answers fetched under one policy are not reused under another. */
export function destinationsKey(destinations: ResponderDestinations): string {
  const allowlist = destinations.allowlist === null ? '-' : destinations.allowlist.join(',');
  return `${allowlist};${destinations.exporterEndpoints.map((e) => `${e.address}:${e.port}`).join(',')}`;
}

/**
 * The exporter's own listen sockets, known once it listens, added to the responder destinations of
 * the modules it probes with: {@link ExporterSockets.applyTo} returns, per module object, one copy
 * carrying them (the same copy every time, so per-module caches and the worker pool's module
 * versions still see one object per config version).
 */
export class ExporterSockets {
  #endpoints: readonly ListenEndpoint[] = [];
  #views = new WeakMap<object, object>();

  /** Records the sockets the server listens on (wildcards expanded, see {@link expandListenAddresses}). */
  set(endpoints: readonly ListenEndpoint[]): void {
    this.#endpoints = [...endpoints];
    this.#views = new WeakMap();
  }

  get endpoints(): readonly ListenEndpoint[] {
    return this.#endpoints;
  }

  /** `module`, its responder destinations naming the exporter's sockets; `module` itself while none are known. */
  applyTo<M extends { responderDestinations?: ResponderDestinations }>(module: M): M {
    if (this.#endpoints.length === 0) return module;
    let view = this.#views.get(module) as M | undefined;
    if (!view) {
      const destinations = { ...(module.responderDestinations ?? DEFAULT_DESTINATIONS), exporterEndpoints: this.#endpoints };
      view = { ...module, responderDestinations: destinations };
      this.#views.set(module, view);
    }
    return view;
  }
}
