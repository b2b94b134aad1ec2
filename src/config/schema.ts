/**
 * Configuration types and their defaults, in one place. `load.ts` turns YAML into these after
 * applying defaults and validating every key; everything downstream reads only these types.
 */
import type { ProxyRoute } from '../net/proxy.js';
import type { IpProtocol } from '../net/resolve.js';
import type { ResponderDestinations } from '../responder/destinations.js';
import type { StarttlsProtocol } from '../starttls/protocols.js';
import type { ResponderCheckEntry } from './responder-checks.js';
import type { StapleFileEntry } from './staple-files.js';

export type { IpProtocol };

export { RESERVED_LABEL_NAMES } from './labels.js';
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Probe settings, chosen by name (`module`). A module named `default` always exists. */
export interface ModuleConfig {
  name: string;
  /** Upper bound for one probe (DNS + connect + handshake), seconds. */
  timeoutSeconds: number;
  /** SNI to send; null → the target's host (no SNI for IP literals). */
  serverName: string | null;
  /** PEM file of trusted CAs; null → Node's system store. Also a source of issuers. */
  caFile: string | null;
  /** Contents of caFile, read at load time so probes do no file I/O. */
  caPem: string | null;
  clientCertFile: string | null;
  clientKeyFile: string | null;
  clientCertPem: string | null;
  clientKeyPem: string | null;
  minVersion: TlsVersion | null;
  maxVersion: TlsVersion | null;
  ipProtocol: IpProtocol;
  /** Resolve the host and probe every address with the same SNI, one result per address. */
  probeAllAddresses: boolean;
  /** Allowed clock skew when judging thisUpdate/nextUpdate, seconds. */
  clockSkewSeconds: number;
  /**
   * `allow_link_local`: let this module probe link-local and cloud metadata addresses
   * (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, 0.0.0.0/8), which src/net/guard.ts
   * refuses after DNS resolution by default. Absent → false.
   */
  allowLinkLocal?: boolean;
  /**
   * `query_responder`: after the handshake, also ask the leaf's OCSP responder directly
   * (src/responder/). Opt-in: it tells the CA which certificates you watch and adds load on it.
   * Absent → false.
   */
  queryResponder?: boolean;
  /** `responder_url`: ask this http:// URL instead of the leaf's AIA OCSP URL. Absent → null. */
  responderUrl?: string | null;
  /** `responder_allow_https`: also ask https:// responder URLs (OCSP is plain HTTP by design). Absent → false. */
  responderAllowHttps?: boolean;
  /**
   * `responder_cache_max_age`: reuse a responder's answer at most this long, seconds, even when its
   * nextUpdate is later; 0 disables reuse. Absent → 3600.
   */
  responderCacheMaxAgeSeconds?: number;
  /** `query_chain_responders`: ask each intermediate's issuer responder about it. Absent → false. */
  queryChainResponders?: boolean;
  /**
   * `fetch_issuer`: when the leaf's issuer is neither in the presented chain nor in the CA file, fetch
   * it from the leaf's AIA caIssuers URL (used only when it verifies the leaf's signature). Absent → false.
   */
  fetchIssuer?: boolean;
  /**
   * `starttls`: speak this protocol's plaintext upgrade (SMTP STARTTLS, IMAP STARTTLS, POP3 STLS, FTP
   * AUTH TLS, LDAP StartTLS, XMPP starttls, PostgreSQL SSLRequest, MySQL SSL request) before the TLS
   * handshake (src/starttls/). Absent or null → TLS from the first byte.
   */
  starttls?: StarttlsProtocol | null;
  /**
   * `proxy_url` (or `proxy_url_file`, or HTTPS_PROXY with `proxy_from_environment`): probes,
   * responder queries and caIssuers fetches go through this http:// or https:// proxy (CONNECT,
   * src/net/proxy.ts), except to hosts `no_proxy` matches. Absent or null → direct.
   */
  proxy?: ProxyRoute | null;
  /**
   * Which key set the proxy, kept so `/config` can show it as written: the file's path for
   * `proxy_url_file` (never its contents), the flag for `proxy_from_environment` (never the
   * variable's value). Absent → no proxy key was set.
   */
  proxySource?: { key: 'proxy_url' } | { key: 'proxy_url_file'; file: string } | { key: 'proxy_from_environment' };
  /** `proxy_ca_file`, resolved (its contents are in `proxy.caPem`). Absent → none. */
  proxyCaFile?: string;
  /** `no_proxy`: hosts reached directly despite `proxy` (src/net/no-proxy.ts syntax). Absent → none. */
  noProxy?: string[];
  /**
   * `source_ip_address`: the local IP the probe's connections (and the responder's) are bound to;
   * with it, only addresses of its family are probed. Absent or null → the system's choice.
   */
  sourceIpAddress?: string | null;
  /**
   * `handshake`: `native` (the project's TLS client, src/tls-native/) or `node` (Node's TLS). Absent →
   * the default engine (src/probe/engines.ts), Node's for a module with a client certificate.
   */
  handshake?: 'native' | 'node';
  /**
   * Not a module key: where this module's responder queries and caIssuers fetches may go. The loader
   * sets it on every module from `global.responder_allowlist`; the app adds its own listen sockets
   * once it listens (src/app.ts). Absent → no allowlist, loopback refused (src/responder/destinations.ts).
   */
  responderDestinations?: ResponderDestinations;
}

export interface TargetConfig {
  /** `host:port` exactly as configured (the `target` label). */
  target: string;
  host: string;
  port: number;
  module: string;
  serverName: string | null;
  /** Extra labels added to every series of this target. */
  labels: Record<string, string>;
}

export interface GlobalConfig {
  /** At most this many probes in flight at once (p-limit bound). */
  concurrency: number;
  /** Results younger than this are reused by /metrics instead of probing again, seconds. */
  minProbeIntervalSeconds: number;
  /**
   * Which `/probe?target=` values may be probed. Entries are `host:port` patterns with `*` wildcards
   * (`*.example.com:443`, `*:443`) or CIDR ranges with an optional port (`10.0.0.0/8`, `10.0.0.0/8:443`).
   * Empty → `/probe` refuses every target not listed in `targets`.
   */
  probeAllowlist: string[];
  /**
   * `responder_allowlist`: which hosts (patterns and CIDR ranges, the `probe_allowlist` syntax) the
   * responder queries and caIssuers fetches may ask. Absent or null (unset) → any address the guard allows
   * except loopback, unspecified and the exporter's own listen sockets (src/responder/destinations.ts).
   */
  responderAllowlist?: string[] | null;
}

export interface Config {
  global: GlobalConfig;
  /** By name; a null-prototype object (see {@link moduleMap}), so `toString` or `__proto__` never resolve to inherited members. */
  modules: Record<string, ModuleConfig>;
  targets: TargetConfig[];
  /** `staple_files` (src/config/staple-files.ts); absent → none. */
  stapleFiles?: StapleFileEntry[];
  /** `responder_checks` (src/config/responder-checks.ts); absent → none. */
  responderChecks?: ResponderCheckEntry[];
  /** Where it came from, for messages; null for the built-in default. */
  file: string | null;
}

export const DEFAULT_MODULE: Omit<ModuleConfig, 'name'> = {
  timeoutSeconds: 10,
  serverName: null,
  caFile: null,
  caPem: null,
  clientCertFile: null,
  clientKeyFile: null,
  clientCertPem: null,
  clientKeyPem: null,
  minVersion: null,
  maxVersion: null,
  ipProtocol: 'any',
  probeAllAddresses: false,
  clockSkewSeconds: 300,
};

export const DEFAULT_GLOBAL: GlobalConfig = {
  concurrency: 32,
  minProbeIntervalSeconds: 15,
  probeAllowlist: [],
};

export function defaultModule(name = 'default'): ModuleConfig {
  return { name, ...DEFAULT_MODULE };
}

/** A module table without a prototype: a lookup by a configured or requested name finds own modules only. */
export function moduleMap(entries: Iterable<ModuleConfig> = []): Record<string, ModuleConfig> {
  const modules = Object.create(null) as Record<string, ModuleConfig>;
  for (const module of entries) modules[module.name] = module;
  return modules;
}

/** The module called `name`, or undefined: own modules only, never an inherited member. */
export function moduleNamed(config: Pick<Config, 'modules'>, name: string): ModuleConfig | undefined {
  return Object.hasOwn(config.modules, name) ? config.modules[name] : undefined;
}

export function emptyConfig(): Config {
  return { global: { ...DEFAULT_GLOBAL }, modules: moduleMap([defaultModule()]), targets: [], file: null };
}
