/**
 * Which `/probe?target=` values the exporter will connect to. `/probe` takes its target from the
 * request, so without a bound anyone who can reach the exporter could make it open TLS connections
 * anywhere (the open-proxy/SSRF complaint against blackbox_exporter). A target is allowed when it
 * is one of the configured static targets or matches an entry of `global.probe_allowlist`:
 *
 * - `example.com:443`, `*.example.com:443`, `example.com:*`, `*:443` — host name patterns, matched
 *   case-insensitively; `*` is a whole label and stands for one or more labels, so
 *   `*.example.com` matches `a.example.com` and `a.b.example.com` but neither `example.com` nor
 *   `evil-example.com`. A lone `*` host matches any host, names and addresses alike.
 * - `10.0.0.0/8`, `10.0.0.0/8:443`, `192.0.2.7:443`, `[2001:db8::]/32:443`, `::1` — addresses and
 *   CIDR ranges; IPv6 in brackets when a port follows.
 * - No port, or `*`, means any port.
 *
 * Names and addresses never match each other: a name pattern matches only a target written as a
 * name, a CIDR only a target written as an address. Nothing here resolves DNS (the probe's guard
 * checks the resolved address separately), so this is a statement about what was asked for.
 */
import { isIP } from 'node:net';
import { isValidHostname } from './host.js';
import { formatIpAddress, IpRange, networkOf, parseIpAddress, sameIpAddress, type IpAddress } from './ip.js';
import { CodedError } from '../util/errors.js';

export class AllowlistEntryError extends CodedError<'ERR_ALLOWLIST_ENTRY'> {
  override readonly name = 'AllowlistEntryError';
  constructor(message: string) {
    super('ERR_ALLOWLIST_ENTRY', message);
  }
}

type HostPattern =
  | { kind: 'any' }
  | { kind: 'name'; labels: readonly string[] }
  | { kind: 'cidr'; range: IpRange };

interface AllowlistRule {
  host: HostPattern;
  /** null: any port. */
  port: number | null;
}

function parseCidr(entry: string, text: string): HostPattern {
  const slash = text.indexOf('/');
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const network = parseIpAddress(addressText);
  if (!network) throw new AllowlistEntryError(`"${entry}": "${addressText}" is not an IP address (CIDR ranges are like 10.0.0.0/8 or [2001:db8::]/32)`);
  // A mapped IPv4 network must keep IPv6 prefix semantics; keep it simple and refuse it.
  if (network.family === 4 && isIP(addressText) === 6) throw new AllowlistEntryError(`"${entry}": write IPv4 ranges as IPv4 (e.g. 10.0.0.0/8)`);
  const max = network.family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    throw new AllowlistEntryError(`"${entry}": prefix length "${prefixText}" must be 0 to ${max} for IPv${network.family}`);
  }
  const prefix = Number(prefixText);
  const masked = networkOf(network, prefix);
  if (!sameIpAddress(masked, network)) {
    throw new AllowlistEntryError(`"${entry}": host bits are set after the /${prefix} prefix (did you mean ${formatIpAddress(masked)}/${prefix}?)`);
  }
  return { kind: 'cidr', range: new IpRange(network, prefix) };
}

function parseHostPattern(entry: string, text: string): HostPattern {
  if (text === '') throw new AllowlistEntryError(`"${entry}": no host (use * for any host)`);
  if (text === '*') return { kind: 'any' };
  if (text.includes('/')) return parseCidr(entry, text);
  const address = parseIpAddress(text);
  if (address) return { kind: 'cidr', range: new IpRange(address, address.family === 4 ? 32 : 128) };
  const name = text.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (labels.some((label) => label.includes('*') && label !== '*')) {
    throw new AllowlistEntryError(`"${entry}": a wildcard must be a whole label, like *.example.com`);
  }
  if (!isValidHostname(labels.map((label) => (label === '*' ? 'x' : label)).join('.'))) {
    throw new AllowlistEntryError(`"${entry}": "${text}" is not a host name pattern, IP address or CIDR range`);
  }
  return { kind: 'name', labels };
}

function parsePort(entry: string, text: string | undefined): number | null {
  if (text === undefined || text === '*') return null;
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new AllowlistEntryError(`"${entry}": port "${text}" must be 1 to 65535 or *`);
  }
  return Number(text);
}

/** Parses one allowlist entry; throws `AllowlistEntryError` saying what is wrong with it. */
export function parseAllowlistEntry(entry: string): AllowlistRule {
  if (entry === '') throw new AllowlistEntryError('"": empty (use patterns like *.example.com:443 or 10.0.0.0/8)');
  if (/\s/.test(entry)) throw new AllowlistEntryError(`"${entry}": contains whitespace`);
  if (entry.includes('://')) throw new AllowlistEntryError(`"${entry}": a URL; write host:port patterns like *.example.com:443`);
  if (entry.startsWith('[')) {
    // [v6], [v6]:port, [v6]/len, [v6]/len:port, [v6/len]:port
    const match = /^\[([^\]]+)\](\/[^:]*)?(?::(.*))?$/.exec(entry);
    if (!match) throw new AllowlistEntryError(`"${entry}": expected [IPv6 address]:port or [IPv6 range]/length:port`);
    const host = match[1]! + (match[2] ?? '');
    if (isIP(host.split('/')[0]!) !== 6) throw new AllowlistEntryError(`"${entry}": only IPv6 addresses go in brackets`);
    return { host: parseHostPattern(entry, host), port: parsePort(entry, match[3]) };
  }
  const colons = entry.split(':').length - 1;
  if (colons >= 2) {
    // Unbracketed IPv6 address or range: no port possible.
    if (isIP(entry.split('/')[0]!) !== 6 || /\/.*:/.test(entry)) {
      throw new AllowlistEntryError(`"${entry}": IPv6 addresses must be in brackets when a port follows, e.g. [2001:db8::1]:443 or [2001:db8::]/32:443`);
    }
    return { host: parseHostPattern(entry, entry), port: null };
  }
  if (colons === 1) {
    const colon = entry.indexOf(':');
    return { host: parseHostPattern(entry, entry.slice(0, colon)), port: parsePort(entry, entry.slice(colon + 1)) };
  }
  return { host: parseHostPattern(entry, entry), port: null };
}

type NormalizedHost = { kind: 'address'; address: IpAddress } | { kind: 'name'; name: string };

/** A requested host as something comparable; null when it is neither an IP literal nor a host name. */
function normalizeHost(host: string): NormalizedHost | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const address = parseIpAddress(bare);
  if (address) return { kind: 'address', address };
  if (!isValidHostname(bare)) return null;
  return { kind: 'name', name: bare.toLowerCase().replace(/\.$/, '') };
}

/**
 * Whether host labels match pattern labels, where a `*` label stands for one or more labels. A
 * backtracking regex took exponential time here (six `*` against a 241-character name: 74 s on
 * the main thread), so this is the classic iterative wildcard match over labels: a `*` is "one
 * label, then any number more", and on a mismatch only the most recent `*` is retried one label
 * further on. Earlier stars never need retrying (their choice only moves where the rest starts),
 * so the work is at most pattern labels × host labels.
 */
export function labelsMatch(pattern: readonly string[], host: readonly string[]): boolean {
  let p = 0;
  let h = 0;
  // Where the last `*` was seen and the host label it has absorbed up to (exclusive).
  let starP = -1;
  let starH = -1;
  while (h < host.length) {
    if (p < pattern.length && pattern[p] === '*') {
      // The `*` takes its one mandatory label now; any more are taken on backtrack.
      starP = p;
      starH = h + 1;
      p += 1;
      h += 1;
    } else if (p < pattern.length && pattern[p] === host[h]) {
      p += 1;
      h += 1;
    } else if (starP >= 0) {
      // Let the last `*` absorb one more label and retry the rest after it.
      p = starP + 1;
      starH += 1;
      h = starH;
    } else {
      return false;
    }
  }
  return p === pattern.length;
}

function ruleMatches(rule: AllowlistRule, host: NormalizedHost, port: number): boolean {
  if (rule.port !== null && rule.port !== port) return false;
  switch (rule.host.kind) {
    case 'any':
      return true;
    case 'name':
      return host.kind === 'name' && labelsMatch(rule.host.labels, host.name.split('.'));
    case 'cidr':
      return host.kind === 'address' && rule.host.range.contains(host.address);
  }
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/**
 * Compiles allowlist entries into a predicate. Throws `AllowlistEntryError` for the first bad entry
 * (the config loader reports every bad entry with its line before it gets here).
 */
export function compileAllowlist(entries: string[]): (host: string, port: number) => boolean {
  const rules = entries.map(parseAllowlistEntry);
  return (host, port) => {
    if (!validPort(port)) return false;
    const normalized = normalizeHost(host);
    return normalized !== null && rules.some((rule) => ruleMatches(rule, normalized, port));
  };
}

function sameHost(a: NormalizedHost, b: NormalizedHost): boolean {
  if (a.kind === 'name' || b.kind === 'name') return a.kind === 'name' && b.kind === 'name' && a.name === b.name;
  return sameIpAddress(a.address, b.address);
}

/** What the `/probe` policy reads of a config: its allowlist and its static targets. */
export interface ProbePolicySource {
  global: { probeAllowlist: readonly string[] };
  targets: readonly { host: string; port: number }[];
}

const compiled = new WeakMap<ProbePolicySource, (host: string, port: number) => boolean>();

/** Allowed for `/probe`: matched by `global.probe_allowlist`, or exactly a configured static target. */
export function isAllowedByConfig(config: ProbePolicySource, host: string, port: number): boolean {
  let check = compiled.get(config);
  if (!check) {
    const allowlist = compileAllowlist([...config.global.probeAllowlist]);
    const statics = config.targets.flatMap((t) => {
      const normalized = normalizeHost(t.host);
      return normalized ? [{ host: normalized, port: t.port }] : [];
    });
    check = (h, p) => {
      if (allowlist(h, p)) return true;
      const normalized = normalizeHost(h);
      return normalized !== null && statics.some((t) => t.port === p && sameHost(t.host, normalized));
    };
    compiled.set(config, check);
  }
  return check(host, port);
}
