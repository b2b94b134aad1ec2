/**
 * `no_proxy` (module key, or NO_PROXY/no_proxy with `proxy_from_environment`): which targets skip
 * the module's proxy, read the way curl reads NO_PROXY (curl 7.86+):
 *
 * - `*` alone matches every host;
 * - a name matches itself and every subdomain (`example.com` and `.example.com` both match
 *   `example.com` and `www.example.com`, not `badexample.com`), case-insensitively, a final dot ignored;
 * - an IP address or CIDR range (`10.0.0.0/8`, `fd00::/8`) matches hosts written as IP literals in
 *   it (names are not resolved for this: the proxy resolves them);
 * - any entry may end in `:port` (`[::1]:443` for IPv6) to match that port only.
 *
 * Entries are plain strings in the module (they travel to worker threads); pure functions, no DNS.
 */
import { isIP } from 'node:net';
import { isValidHostname } from './host.js';
import { IpRange, parseIpAddress } from './ip.js';

type HostRule = { kind: 'any' } | { kind: 'name'; name: string } | { kind: 'range'; range: IpRange };

interface NoProxyRule {
  host: HostRule;
  /** Null: any port. */
  port: number | null;
}

/** `a, b ,c` or a list → trimmed, non-empty entries (curl separates with commas; whitespace around is ignored). */
export function splitNoProxy(value: string | readonly string[]): string[] {
  const parts = typeof value === 'string' ? value.split(',') : value.flatMap((entry) => entry.split(','));
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

function parsePort(text: string, entry: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new TypeError(`"${entry}": port must be 1-65535, got "${text}"`);
  }
  return Number(text);
}

/** One entry as a rule; throws a TypeError naming the entry and what is wrong with it. */
export function parseNoProxyEntry(entry: string): NoProxyRule {
  if (entry === '*') return { host: { kind: 'any' }, port: null };
  let hostText = entry;
  let port: number | null = null;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
  if (bracketed) {
    hostText = bracketed[1]!;
    if (bracketed[2] !== undefined) port = parsePort(bracketed[2], entry);
    if (isIP(hostText.split('/')[0]!) !== 6) throw new TypeError(`"${entry}": only IPv6 addresses go in brackets`);
  } else if (!isIP(entry.split('/')[0]!) || isIP(entry.split('/')[0]!) === 4) {
    // Not a bare IPv6 literal or range, whose colons are not a port separator.
    const colon = entry.lastIndexOf(':');
    if (colon >= 0) {
      hostText = entry.slice(0, colon);
      port = parsePort(entry.slice(colon + 1), entry);
    }
  }
  const [addressText = '', prefixText] = hostText.split('/');
  const address = parseIpAddress(addressText);
  if (address) {
    const bits = address.bytes.length * 8;
    if (prefixText !== undefined && (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits)) {
      throw new TypeError(`"${entry}": prefix length must be 0-${bits}, got "${prefixText}"`);
    }
    return { host: { kind: 'range', range: IpRange.parse(hostText) }, port };
  }
  if (prefixText !== undefined) throw new TypeError(`"${entry}": "${addressText}" is not an IP address, so it takes no /prefix`);
  if (hostText.startsWith('*')) {
    throw new TypeError(`"${entry}": wildcards are not part of no_proxy; write "${hostText.replace(/^\*\.?/, '.')}" (a domain matches its subdomains)`);
  }
  const name = hostText.replace(/^\./, '').replace(/\.$/, '').toLowerCase();
  if (name === '' || !isValidHostname(name)) throw new TypeError(`"${entry}" is not a host name, IP address or CIDR range`);
  return { host: { kind: 'name', name }, port };
}

const compiled = new WeakMap<readonly string[], NoProxyRule[]>();

function rulesOf(entries: readonly string[]): NoProxyRule[] {
  let rules = compiled.get(entries);
  if (!rules) {
    rules = entries.map(parseNoProxyEntry);
    compiled.set(entries, rules);
  }
  return rules;
}

function hostMatches(rule: HostRule, host: string): boolean {
  switch (rule.kind) {
    case 'any':
      return true;
    case 'range': {
      const address = parseIpAddress(host);
      return address !== null && rule.range.contains(address);
    }
    case 'name': {
      if (isIP(host)) return false;
      const name = host.toLowerCase().replace(/\.$/, '');
      return name === rule.name || name.endsWith(`.${rule.name}`);
    }
  }
}

/** Whether `host` (a name or IP literal, IPv6 without brackets) on `port` skips the proxy under `entries`. */
export function bypassesProxy(entries: readonly string[], host: string, port: number): boolean {
  return rulesOf(entries).some((rule) => (rule.port === null || rule.port === port) && hostMatches(rule.host, host));
}
