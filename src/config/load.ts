/**
 * YAML text → `Config`, or a `ConfigError` listing every problem with its file, line and key path.
 * The walk itself (line numbers, unknown keys with a "did you mean" hint, types, durations, reading
 * referenced files) is src/config/walker.ts's, shared with the web config; this file holds the main
 * config's rules. Defaults come first (schema.ts), then every key is checked, and referenced files
 * (`ca_file`, client certificate and key) are read and parsed now, so a running exporter never
 * discovers a broken file mid-probe. Nothing is half-applied: the caller gets a whole valid `Config`
 * or an error (the store keeps the last good one on reload).
 */
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Pair } from 'yaml';
import { parseAllowlistEntry } from '../net/allowlist.js';
import { formatIpAddress, parseIpAddress } from '../net/ip.js';
import { parseNoProxyEntry, splitNoProxy } from '../net/no-proxy.js';
import { parseProxyUrl } from '../net/proxy.js';
import { judgeResponderUrl } from '../responder/url.js';
import { messageOf } from '../util/errors.js';
import { describeFileError } from '../util/files.js';
import { isStarttlsProtocol, STARTTLS_PROTOCOLS } from '../starttls/protocols.js';
import { checkCertificateBundle, checkKeyPair, loadPrivateKey } from '../x509/keys.js';
import { formatDuration } from './duration.js';
import { ConfigError } from './errors.js';
import { defaultModule, DEFAULT_GLOBAL, moduleMap, RESERVED_LABEL_NAMES, type Config, type GlobalConfig, type IpProtocol, type ModuleConfig, type TargetConfig } from './schema.js';
import type { ProxyRoute } from '../net/proxy.js';
import { isValidHostname, parseTargetAddress } from './target.js';
import { isLowerTlsVersion, SUPPORTED_TLS_VERSION_NAMES, tlsVersionName, tlsVersionNamed } from './tls-version.js';
import { readConfigFileText, Walker, withoutKind, type Fields } from './walker.js';
import { parseStapleFiles } from './staple-files.js';
import { parseExtraLabels } from './labels.js';
import { parseResponderChecks } from './responder-checks.js';

export interface ParseOptions {
  /** Reads a file named by the config (ca_file, client cert/key). Default: UTF-8, capped at 10 MiB (walker.ts). */
  readFile?: (path: string) => string;
  /** Relative file paths resolve against this. Default: the config file's directory. */
  baseDir?: string;
  /** Where `proxy_from_environment` reads HTTPS_PROXY and NO_PROXY. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

const MAX_TIMEOUT_SECONDS = 300;
const MAX_CONCURRENCY = 10_000;
/** Module names appear in key paths, URLs (`/probe?module=`) and label values: keep them plain. */
const MODULE_NAME = /^[A-Za-z0-9_-]+$/;
/** Names a JavaScript object treats specially: `__proto__` would replace a plain table's prototype instead of adding a module. */
const RESERVED_MODULE_NAMES: readonly string[] = ['__proto__'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const IP_PROTOCOLS: readonly IpProtocol[] = ['ip4', 'ip6', 'any'];

const TOP_KEYS = ['global', 'modules', 'targets', 'staple_files', 'responder_checks'];
const GLOBAL_KEYS = ['concurrency', 'min_probe_interval', 'probe_allowlist', 'responder_allowlist'];
const MODULE_KEYS = [
  'timeout',
  'server_name',
  'ca_file',
  'client_cert_file',
  'client_key_file',
  'min_version',
  'max_version',
  'ip_protocol',
  'probe_all_addresses',
  'clock_skew',
  'allow_link_local',
  'query_responder',
  'responder_url',
  'responder_allow_https',
  'responder_cache_max_age',
  'query_chain_responders',
  'fetch_issuer',
  'starttls',
  'proxy_url',
  'proxy_url_file',
  'proxy_from_environment',
  'proxy_ca_file',
  'no_proxy',
  'source_ip_address',
  'handshake',
];
const TARGET_KEYS = ['target', 'module', 'server_name', 'labels'];

/** Why a PEM bundle is not usable as certificates, or null when every block parses. */
function certificateProblem(name: string, text: string): string | null {
  const bundle = checkCertificateBundle(text);
  if (bundle.ok) return null;
  if (bundle.reason === 'no_certificate') return `"${name}" contains no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  return `"${name}": certificate ${bundle.index + 1} of ${bundle.count} is not a valid X.509 certificate`;
}

/** SNI carries DNS names only (RFC 6066 §3: no IP literals, no trailing dot). */
function serverNameProblem(name: string): string | null {
  if (parseIpAddress(name)) return `"${name}" is an IP address; SNI carries only DNS names (RFC 6066 §3)`;
  if (name.endsWith('.') || !isValidHostname(name)) return `"${name}" is not a valid DNS name`;
  return null;
}

/** The responder client's rules (src/responder/url.ts), checked at load so a typo is not a runtime failure. */
function responderUrlProblem(text: string, allowHttps: boolean): string | null {
  const judged = judgeResponderUrl(text, allowHttps);
  if (judged.ok) return null;
  switch (judged.problem) {
    case 'not_absolute':
      return `"${text}" is not an absolute URL (e.g. http://ocsp.example.com/)`;
    case 'https_not_allowed':
      return `"${text}" is https; set responder_allow_https: true to allow it (OCSP is plain HTTP by design)`;
    case 'not_http':
      return `"${text}" is not an http:// URL`;
    case 'no_host':
      return `"${text}" has no host`;
    case 'has_query':
      return `"${text}" has a query string; RFC 6960 Appendix A.1 appends the request to the URL's path, leaving no place for one`;
  }
}

/** `timeout` (bounded) and `clock_skew`. */
function parseModuleTimeouts(f: Fields, module: ModuleConfig): void {
  const timeout = f.duration('timeout');
  if (timeout !== undefined && (timeout <= 0 || timeout > MAX_TIMEOUT_SECONDS)) {
    f.report('timeout', `must be more than 0s and at most ${formatDuration(MAX_TIMEOUT_SECONDS)}, got "${formatDuration(timeout)}"`);
  } else if (timeout !== undefined) module.timeoutSeconds = timeout;
  const skew = f.duration('clock_skew');
  if (skew !== undefined) module.clockSkewSeconds = skew;
}

/** How to reach the target: `server_name`, `ip_protocol`, `probe_all_addresses`, `allow_link_local`, `starttls`. */
function parseModuleConnection(f: Fields, module: ModuleConfig): void {
  const serverName = f.string('server_name');
  const nameProblem = serverName === undefined ? null : serverNameProblem(serverName);
  if (nameProblem) f.report('server_name', nameProblem);
  else if (serverName !== undefined) module.serverName = serverName;

  const protocol = f.string('ip_protocol');
  if (protocol !== undefined && !(IP_PROTOCOLS as readonly string[]).includes(protocol)) {
    f.report('ip_protocol', `unknown ip_protocol "${protocol}" (use ${IP_PROTOCOLS.join(', ')})`);
  } else if (protocol !== undefined) module.ipProtocol = protocol as IpProtocol;

  const allAddresses = f.boolean('probe_all_addresses');
  if (allAddresses !== undefined) module.probeAllAddresses = allAddresses;
  const linkLocal = f.boolean('allow_link_local');
  if (linkLocal !== undefined) module.allowLinkLocal = linkLocal;

  const starttls = f.string('starttls');
  if (starttls !== undefined && !isStarttlsProtocol(starttls)) {
    f.report('starttls', `unknown starttls protocol "${starttls}" (use ${STARTTLS_PROTOCOLS.join(', ')})`);
  } else if (starttls !== undefined) module.starttls = starttls;
}

const PROXY_SOURCES = ['proxy_url', 'proxy_url_file', 'proxy_from_environment'] as const;

/** The first set, non-empty variable of `names` (curl reads the lower-case one first), or null. */
function environmentValue(env: Readonly<Record<string, string | undefined>>, names: readonly string[]): { name: string; value: string } | null {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return null;
}

/** Entries of `no_proxy` (a comma list or a YAML list of them), each checked; problems reported through `report`. */
function noProxyEntries(entries: string[], report: (message: string) => void): string[] {
  const kept: string[] = [];
  for (const entry of entries) {
    try {
      parseNoProxyEntry(entry);
      kept.push(entry);
    } catch (error) {
      report(`invalid no_proxy entry ${messageOf(error)}`);
    }
  }
  return kept;
}

/**
 * The module's proxy: one of `proxy_url`, `proxy_url_file` (a file holding the URL, so its
 * credentials stay out of the config) and `proxy_from_environment` (https_proxy / HTTPS_PROXY and
 * no_proxy / NO_PROXY, read now), then `proxy_ca_file` and `no_proxy`. Runs after
 * parseModuleConnection: `probe_all_addresses` cannot be combined with a proxy.
 */
function parseModuleProxy(w: Walker, f: Fields, module: ModuleConfig, env: Readonly<Record<string, string | undefined>>): void {
  const sources = PROXY_SOURCES.filter((key) => f.has(key));
  if (sources.length > 1) {
    f.report(sources[1]!, `set only one of ${PROXY_SOURCES.join(', ')} (here: ${sources.join(' and ')})`);
    return;
  }
  const source = sources[0];
  let proxyText: string | undefined;
  let environmentNoProxy: { name: string; value: string } | null = null;
  let reportProxy = (message: string): void => f.report(source!, message);
  if (source === 'proxy_url') {
    proxyText = f.nonEmptyString('proxy_url');
    module.proxySource = { key: 'proxy_url' };
  } else if (source === 'proxy_url_file') {
    const name = f.string('proxy_url_file');
    const read = name === undefined ? undefined : f.readFile('proxy_url_file', name);
    if (read) {
      proxyText = read.text.trim();
      module.proxySource = { key: 'proxy_url_file', file: read.resolved };
      reportProxy = (message) => f.reportFile('proxy_url_file', `"${name}": ${message}`);
      if (proxyText === '' || /[\r\n]/.test(proxyText)) {
        reportProxy('must hold one proxy URL on one line (e.g. http://user:password@proxy.example.com:3128)');
        proxyText = undefined;
      }
    }
  } else if (source === 'proxy_from_environment' && f.boolean('proxy_from_environment') === true) {
    module.proxySource = { key: 'proxy_from_environment' };
    const fromEnv = environmentValue(env, ['https_proxy', 'HTTPS_PROXY']);
    environmentNoProxy = environmentValue(env, ['no_proxy', 'NO_PROXY']);
    if (fromEnv) {
      proxyText = fromEnv.value;
      reportProxy = (message) => f.report('proxy_from_environment', `${fromEnv.name} from the environment: ${message}`);
    }
  }
  let proxy: ProxyRoute | null = null;
  if (proxyText !== undefined) {
    try {
      proxy = parseProxyUrl(proxyText);
    } catch (error) {
      reportProxy(messageOf(error));
    }
  }

  const caName = f.string('proxy_ca_file');
  if (caName !== undefined) {
    const read = f.readFile('proxy_ca_file', caName);
    const problem = read && certificateProblem(caName, read.text);
    if (problem) f.reportFile('proxy_ca_file', problem);
    else if (proxy?.protocol === 'http:') f.report('proxy_ca_file', `applies only to an https:// proxy; ${proxy.shown} is http://`);
    else if (read) {
      module.proxyCaFile = read.resolved;
      if (proxy) proxy.caPem = read.text;
    }
  }

  if (f.has('no_proxy')) {
    const node = w.deref(f.value('no_proxy'));
    let texts: string[] | undefined;
    if (isSeq(node)) {
      texts = [];
      for (const [i, item] of node.items.entries()) {
        const text = w.string(item, `${f.pathOf('no_proxy')}[${i}]`, node);
        if (text !== undefined) texts.push(text);
      }
    } else if (isScalar(node) && typeof node.value === 'string') texts = [node.value];
    else f.report('no_proxy', `expected a comma-separated string or a list of hosts, got ${w.describe(node)}`);
    if (texts && !source) f.report('no_proxy', `has no effect without a proxy (set ${PROXY_SOURCES.join(', ')})`);
    else if (texts) module.noProxy = noProxyEntries(splitNoProxy(texts), (message) => f.report('no_proxy', message));
  } else if (environmentNoProxy) {
    const { name } = environmentNoProxy;
    module.noProxy = noProxyEntries(splitNoProxy(environmentNoProxy.value), (message) => f.report('proxy_from_environment', `${name} from the environment: ${message}`));
  }

  if (proxy && module.probeAllAddresses) {
    f.report(source!, 'cannot be combined with probe_all_addresses: through a proxy, the proxy resolves the name and picks the address');
    return;
  }
  if (proxy) module.proxy = proxy;
}

/** `source_ip_address`: an IP literal of the family ip_protocol allows; `any` narrows to its family (a socket bound to one family reaches only that family). */
function parseModuleSourceAddress(f: Fields, module: ModuleConfig): void {
  const text = f.string('source_ip_address');
  if (text === undefined) return;
  const address = parseIpAddress(text);
  if (!address) {
    f.report('source_ip_address', `"${text}" is not an IP address (an IPv4 or IPv6 literal of this host, e.g. 192.0.2.10 or 2001:db8::10; no names, no zone ids)`);
    return;
  }
  const family = address.family === 4 ? 'ip4' : 'ip6';
  if (module.ipProtocol !== 'any' && module.ipProtocol !== family) {
    f.report('source_ip_address', `"${text}" is an ${family === 'ip4' ? 'IPv4' : 'IPv6'} address, but ip_protocol is ${module.ipProtocol}`);
    return;
  }
  module.ipProtocol = family;
  // One spelling (an IPv4-mapped IPv6 address becomes the IPv4 address it is), as bind() takes it.
  module.sourceIpAddress = formatIpAddress(address);
}

/** The direct responder check: its flags, `responder_cache_max_age` and `responder_url` (judged with `responder_allow_https`). */
function parseModuleResponder(f: Fields, module: ModuleConfig): void {
  const flags = {
    query_responder: (flag: boolean) => (module.queryResponder = flag),
    responder_allow_https: (flag: boolean) => (module.responderAllowHttps = flag),
    query_chain_responders: (flag: boolean) => (module.queryChainResponders = flag),
    fetch_issuer: (flag: boolean) => (module.fetchIssuer = flag),
  };
  for (const [key, set] of Object.entries(flags)) {
    const flag = f.boolean(key);
    if (flag !== undefined) set(flag);
  }
  const maxAge = f.duration('responder_cache_max_age');
  if (maxAge !== undefined) module.responderCacheMaxAgeSeconds = maxAge;
  const url = f.string('responder_url');
  const urlProblem = url === undefined ? null : responderUrlProblem(url, module.responderAllowHttps === true);
  if (urlProblem) f.report('responder_url', urlProblem);
  else if (url !== undefined) module.responderUrl = url;
}

/** `min_version` and `max_version`, and that they are in order. */
function parseModuleTlsVersions(f: Fields, module: ModuleConfig): void {
  for (const key of ['min_version', 'max_version'] as const) {
    const text = f.string(key);
    if (text === undefined) continue;
    const found = tlsVersionNamed(text);
    // TLS10/TLS11 read as unknown here: the probe never offered them.
    if (!found.ok) {
      f.report(key, `unknown TLS version "${text}" (use ${SUPPORTED_TLS_VERSION_NAMES.join(' or ')})`);
      continue;
    }
    if (key === 'min_version') module.minVersion = found.version;
    else module.maxVersion = found.version;
  }
  if (module.minVersion && module.maxVersion && isLowerTlsVersion(module.maxVersion, module.minVersion)) {
    f.report('max_version', `"${tlsVersionName(module.maxVersion)}" is lower than min_version "${tlsVersionName(module.minVersion)}"`);
  }
}

/** `ca_file`: read and checked to hold certificates now, so probes do no file I/O. */
function parseModuleTrustFile(f: Fields, module: ModuleConfig): void {
  const name = f.string('ca_file');
  const read = name === undefined ? undefined : f.readFile('ca_file', name);
  const problem = read && certificateProblem(name!, read.text);
  if (problem) f.reportFile('ca_file', problem);
  else if (read) {
    module.caFile = read.resolved;
    module.caPem = read.text;
  }
}

/** `client_cert_file` and `client_key_file`: both or neither, readable, and the key the certificate's. */
function parseModuleClientCertificate(w: Walker, f: Fields, module: ModuleConfig): void {
  const hasCert = f.has('client_cert_file');
  const hasKey = f.has('client_key_file');
  if (hasCert !== hasKey) {
    const [present, missing] = hasCert ? ['client_cert_file', 'client_key_file'] : ['client_key_file', 'client_cert_file'];
    w.report(f.keyNode(present), f.pathOf(present), `${missing} must be set too (a client certificate needs its key: set both or neither)`);
    return;
  }
  if (!hasCert) return;
  const certName = f.string('client_cert_file');
  const keyName = f.string('client_key_file');
  const cert = certName === undefined ? undefined : f.readFile('client_cert_file', certName);
  const key = keyName === undefined ? undefined : f.readFile('client_key_file', keyName);
  const certProblem = cert && certificateProblem(certName!, cert.text);
  if (certProblem) f.reportFile('client_cert_file', certProblem);
  if (!key) return;
  const unusableKey = `"${keyName}" is not an unencrypted PEM private key`;
  if (!cert || certProblem) {
    // No certificate to compare with: the key can still be judged on its own.
    if (!loadPrivateKey(key.text).ok) f.reportFile('client_key_file', unusableKey);
    return;
  }
  // The first certificate of the file is the one sent; its key must be the one configured.
  const pair = checkKeyPair(cert.text, key.text);
  if (!pair.ok) {
    f.reportFile('client_key_file', pair.reason === 'unreadable_key' ? unusableKey : `"${keyName}" is not the private key of the certificate in "${certName}"`);
    return;
  }
  module.clientCertFile = cert.resolved;
  module.clientKeyFile = key.resolved;
  module.clientCertPem = cert.text;
  module.clientKeyPem = key.text;
}

/** One module, in steps; the order of the steps is the order problems on one line are listed in. */
function parseModule(w: Walker, name: string, node: unknown, keyNode: unknown, base: ModuleConfig, env: Readonly<Record<string, string | undefined>>): ModuleConfig {
  const module: ModuleConfig = { ...base, name };
  const f = w.fields(node, `modules.${name}`, MODULE_KEYS, keyNode);
  if (!f) return module;
  parseModuleTimeouts(f, module);
  parseModuleConnection(f, module);
  parseModuleSourceAddress(f, module);
  parseModuleProxy(w, f, module, env);
  parseModuleResponder(f, module);
  parseModuleTlsVersions(f, module);
  parseModuleTrustFile(f, module);
  parseModuleClientCertificate(w, f, module);
  parseModuleHandshake(f, module);
  return module;
}

/** `handshake`: which TLS client runs the probe (src/probe/engines.ts); the native one sends no client certificate. */
function parseModuleHandshake(f: Fields, module: ModuleConfig): void {
  const text = f.string('handshake');
  if (text === undefined) return;
  if (text !== 'native' && text !== 'node') {
    f.report('handshake', `unknown handshake engine "${text}" (use native or node)`);
    return;
  }
  if (text === 'native' && module.clientCertPem) {
    f.report('handshake', 'the native engine does not send client certificates (client_cert_file): use handshake: node, or leave handshake unset');
    return;
  }
  module.handshake = text;
}

function parseGlobal(w: Walker, node: unknown, keyNode: unknown): GlobalConfig {
  const global: GlobalConfig = { ...DEFAULT_GLOBAL, probeAllowlist: [...DEFAULT_GLOBAL.probeAllowlist] };
  const pairs = w.mapping(node, 'global', GLOBAL_KEYS, keyNode);
  if (!pairs) return global;
  const concurrency = pairs.get('concurrency');
  if (concurrency) {
    const value = w.integer(concurrency.value, 'global.concurrency', 1, MAX_CONCURRENCY, concurrency.key);
    if (value !== undefined) global.concurrency = value;
  }
  const interval = pairs.get('min_probe_interval');
  if (interval) {
    const value = w.duration(interval.value, 'global.min_probe_interval', interval.key);
    if (value !== undefined) global.minProbeIntervalSeconds = value;
  }
  const probeAllowlist = allowlistOf(w, pairs, 'probe_allowlist');
  if (probeAllowlist) global.probeAllowlist.push(...probeAllowlist);
  const responderAllowlist = allowlistOf(w, pairs, 'responder_allowlist');
  if (responderAllowlist) global.responderAllowlist = responderAllowlist;
  return global;
}

/** A list of allowlist entries (src/net/allowlist.ts syntax), each checked; undefined when the key is absent. */
function allowlistOf(w: Walker, pairs: Map<string, Pair<unknown, unknown>>, key: string): string[] | undefined {
  const pair = pairs.get(key);
  if (!pair) return undefined;
  const entries: string[] = [];
  const items = w.list(pair.value, `global.${key}`, pair.key);
  for (const [i, item] of (items ?? []).entries()) {
    const path = `global.${key}[${i}]`;
    const entry = w.string(item, path, pair.value);
    if (entry === undefined) continue;
    try {
      parseAllowlistEntry(entry);
      entries.push(entry);
    } catch (error) {
      w.report(item, path, `invalid entry ${messageOf(error)}`);
    }
  }
  return entries;
}

function parseModules(w: Walker, node: unknown, keyNode: unknown, env: Readonly<Record<string, string | undefined>>): Record<string, ModuleConfig> {
  const modules = moduleMap([defaultModule()]);
  const pairs = w.mapping(node, 'modules', null, keyNode);
  for (const [name, pair] of pairs ?? []) {
    if (!MODULE_NAME.test(name)) {
      w.report(pair.key, `modules.${name}`, 'module names may contain only letters, digits, "_" and "-"');
      continue;
    }
    if (RESERVED_MODULE_NAMES.includes(name)) {
      w.report(pair.key, `modules.${name}`, `invalid module name "${name}" (reserved by JavaScript objects; choose another)`);
      continue;
    }
    // Every module starts from the built-in defaults; a configured `default` overrides them for itself only.
    modules[name] = parseModule(w, name, pair.value, pair.key, defaultModule(name), env);
  }
  return modules;
}

interface TargetDraft {
  config: TargetConfig;
  node: unknown;
  moduleNode: unknown;
  path: string;
}

function parseTarget(w: Walker, node: unknown, path: string, parent: unknown): TargetDraft | undefined {
  const n = w.deref(node);
  // Shorthand: a bare "host:port" string is a target with every other key at its default.
  let targetNode: unknown = n;
  let pairs: Map<string, Pair<unknown, unknown>> | null = null;
  if (!isScalar(n) || typeof n.value !== 'string') {
    pairs = w.mapping(n, path, TARGET_KEYS, parent);
    if (!pairs) return undefined;
    if (!pairs.has('target')) {
      w.report(n, path, 'missing key "target" (host:port, e.g. example.com:443)', parent);
      return undefined;
    }
    targetNode = pairs.get('target')!.value;
  }
  const targetPath = pairs ? `${path}.target` : path;
  const text = w.string(targetNode, targetPath, pairs?.get('target')?.key);
  if (text === undefined) return undefined;
  let address: { host: string; port: number };
  try {
    address = parseTargetAddress(text);
  } catch (error) {
    w.report(targetNode, targetPath, messageOf(error));
    return undefined;
  }
  const config: TargetConfig = { target: text, host: address.host, port: address.port, module: 'default', serverName: null, labels: {} };
  let ok = true;
  const moduleNode = pairs?.get('module')?.value;
  if (pairs?.has('module')) {
    const module = w.string(moduleNode, `${path}.module`, pairs.get('module')!.key);
    if (module === undefined) ok = false;
    else config.module = module;
  }
  if (pairs?.has('server_name')) {
    const pair = pairs.get('server_name')!;
    const serverName = w.string(pair.value, `${path}.server_name`, pair.key);
    const problem = serverName === undefined ? null : serverNameProblem(serverName);
    if (problem) w.report(pair.value, `${path}.server_name`, problem);
    if (serverName === undefined || problem) ok = false;
    else config.serverName = serverName;
  }
  if (pairs?.has('labels')) {
    const labels = parseExtraLabels(w, pairs.get('labels')!, `${path}.labels`);
    if (labels) config.labels = labels;
    else ok = false;
  }
  return ok ? { config, node: n, moduleNode, path } : undefined;
}

/** `host` compared the way connections see it: names case-insensitively, IPv6 in one spelling. */
function hostKey(host: string): string {
  const address = parseIpAddress(host);
  return address ? `${address.family}/${Array.from(address.bytes).join('.')}` : host.toLowerCase().replace(/\.$/, '');
}

function parseTargets(w: Walker, node: unknown, keyNode: unknown, modules: Record<string, ModuleConfig>): TargetConfig[] {
  const items = w.list(node, 'targets', keyNode);
  const targets: TargetConfig[] = [];
  const seen = new Map<string, TargetDraft>();
  const defined = Object.keys(modules).sort().join(', ');
  for (const [i, item] of (items ?? []).entries()) {
    const draft = parseTarget(w, item, `targets[${i}]`, node);
    if (!draft) continue;
    const { config } = draft;
    if (!Object.hasOwn(modules, config.module)) {
      w.report(draft.moduleNode, `${draft.path}.module`, `unknown module "${config.module}" (defined: ${defined})`);
      continue;
    }
    // Two entries for the same address and module would produce the same series twice.
    const key = `${hostKey(config.host)}|${config.port}|${config.module}`;
    const first = seen.get(key);
    if (first) {
      w.report(
        draft.node,
        draft.path,
        `duplicate target "${config.target}" with module "${config.module}" (already at ${first.path}, line ${w.lineOf(first.node)})`,
      );
      continue;
    }
    seen.set(key, draft);
    targets.push(config);
  }
  return targets;
}

/**
 * Parses and validates a config document. Throws `ConfigError` listing every problem found
 * (sorted by line). `file` names the file in messages and in `Config.file`.
 */
export function parseConfig(text: string, file: string, options: ParseOptions = {}): Config {
  const w = new Walker(file, text, { readFile: options.readFile ?? readConfigFileText, baseDir: options.baseDir ?? dirname(resolve(file)) });
  if (w.problems.length > 0) throw new ConfigError(w.problems.map(withoutKind));
  const root = w.deref(w.doc.contents);
  let pairs: Map<string, Pair<unknown, unknown>> | null = new Map();
  if (!w.isNull(root)) {
    if (!isMap(root)) {
      w.report(root, '', `expected a mapping with the keys ${TOP_KEYS.join(', ')}, got ${w.describe(root)}`);
      pairs = null;
    } else pairs = w.mapping(root, '', TOP_KEYS);
  }
  const at = (key: string): Pair<unknown, unknown> | undefined => pairs?.get(key);
  const global = parseGlobal(w, at('global')?.value, at('global')?.key);
  const modules = parseModules(w, at('modules')?.value, at('modules')?.key, options.env ?? process.env);
  const targets = parseTargets(w, at('targets')?.value, at('targets')?.key, modules);
  const stapleFiles = parseStapleFiles(w, at('staple_files')?.value, at('staple_files')?.key, modules);
  const responderChecks = parseResponderChecks(w, at('responder_checks')?.value, at('responder_checks')?.key, modules);
  if (w.problems.length > 0) throw new ConfigError(w.sortedProblems().map(withoutKind));
  if (global.responderAllowlist) {
    // The global allowlist travels with each module: probes (worker threads too) see only their module.
    const responderDestinations = { allowlist: global.responderAllowlist, exporterEndpoints: [] };
    for (const module of Object.values(modules)) module.responderDestinations = responderDestinations;
  }
  return { global, modules, targets, file, ...(stapleFiles.length > 0 ? { stapleFiles } : {}), ...(responderChecks.length > 0 ? { responderChecks } : {}) };
}

/** Reads and parses a config file; a missing or unreadable file is a `ConfigError` naming it. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readConfigFileText(path);
  } catch (error) {
    throw new ConfigError([{ file: path, line: null, path: '', message: `cannot read the config file: ${describeFileError(error)}` }], { cause: error });
  }
  return parseConfig(text, path);
}

/** Exposed for documentation and tests: what the loader accepts. */
export const KNOWN_KEYS = { top: TOP_KEYS, global: GLOBAL_KEYS, module: MODULE_KEYS, target: TARGET_KEYS, reservedLabels: RESERVED_LABEL_NAMES } as const;
