/**
 * YAML text → `Config`, or a `ConfigError` listing every problem with its file, line and key path.
 * Works on the `yaml` package's Document tree (not plain JS values) so that each problem can name
 * the line of the node that caused it. Defaults come first (schema.ts), then every key is checked:
 * unknown keys are rejected at every level with a "did you mean" hint, types and ranges are
 * checked, referenced files (`ca_file`, client certificate and key) are read and parsed now, so a
 * running exporter never discovers a broken file mid-probe. Nothing is half-applied: the caller
 * gets a whole valid `Config` or an error (the store keeps the last good one on reload).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Pair, type YAMLMap } from 'yaml';
import { parseAllowlistEntry } from '../net/allowlist.js';
import { parseIpAddress } from '../net/ip.js';
import { formatDuration, parseDuration } from './duration.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { defaultModule, DEFAULT_GLOBAL, RESERVED_LABEL_NAMES, type Config, type GlobalConfig, type IpProtocol, type ModuleConfig, type TargetConfig, type TlsVersion } from './schema.js';
import { isValidHostname, parseTargetAddress } from './target.js';
import { judgeResponderUrl } from '../responder/url.js';
import { messageOf } from '../util/errors.js';

export interface ParseOptions {
  /** Reads a file named by the config (ca_file, client cert/key). Default: `fs.readFileSync(path, 'utf8')`, capped. */
  readFile?: (path: string) => string;
  /** Relative file paths resolve against this. Default: the config file's directory. */
  baseDir?: string;
}

/** Config files and the PEM files they name are small; refuse to slurp anything huge by mistake. */
const MAX_FILE_BYTES = 10 * 1024 * 1024;
const MAX_TIMEOUT_SECONDS = 300;
const MAX_CONCURRENCY = 10_000;
const DURATION_HINT = 'use Prometheus durations like 10s, 1m30s';
/** Module names appear in key paths, URLs (`/probe?module=`) and label values: keep them plain. */
const MODULE_NAME = /^[A-Za-z0-9_-]+$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TLS_VERSIONS: Record<string, TlsVersion> = { TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const IP_PROTOCOLS: readonly IpProtocol[] = ['ip4', 'ip6', 'any'];

const TOP_KEYS = ['global', 'modules', 'targets'];
const GLOBAL_KEYS = ['concurrency', 'min_probe_interval', 'probe_allowlist'];
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
];
const TARGET_KEYS = ['target', 'module', 'server_name', 'labels'];

function defaultReadFile(path: string): string {
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
  return readFileSync(path, 'utf8');
}

/** The part of a file-system error a user needs: "no such file", not a stack of syscall details. */
function describeFileError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    default:
      return messageOf(error);
  }
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known key a typo most likely meant: same letters ignoring case and `_`/`-`, or a small edit away. */
export function suggestKey(key: string, known: readonly string[]): string | null {
  const squash = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const same = known.find((k) => squash(k) === squash(key));
  if (same) return same;
  const limit = key.length >= 5 ? 2 : 1;
  let best: { key: string; distance: number } | null = null;
  for (const k of known) {
    const distance = levenshtein(key.toLowerCase(), k);
    if (distance <= limit && (!best || distance < best.distance)) best = { key: k, distance };
  }
  return best?.key ?? null;
}

/** Collects problems while walking one document; every check reports and carries on. */
class Walker {
  readonly problems: ConfigProblem[] = [];
  private readonly lines = new LineCounter();
  readonly doc: Document.Parsed;

  constructor(
    readonly file: string,
    text: string,
    private readonly readFile: (path: string) => string,
    private readonly baseDir: string,
  ) {
    // uniqueKeys off: duplicate keys are reported below with their key path, not as a bare parse error.
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: false });
    for (const error of [...this.doc.errors, ...this.doc.warnings]) {
      const message = error.code === 'MULTIPLE_DOCS' ? 'the file holds more than one YAML document (remove the extra ---)' : error.message;
      this.problems.push({ file, line: this.lineAt(error.pos[0]), path: '', message: `invalid YAML: ${message}` });
    }
  }

  private lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  lineOf(node: unknown): number | null {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? this.lineAt(range[0]) : null;
  }

  report(node: unknown, path: string, message: string, fallback?: unknown): void {
    this.problems.push({ file: this.file, line: this.lineOf(node) ?? this.lineOf(fallback), path, message });
  }

  /** Follows `*alias` references so anchors can be used anywhere. */
  deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  /** A human name for what a node is, for "expected X, got Y". */
  describe(node: unknown): string {
    const n = this.deref(node);
    if (n === null || n === undefined) return 'nothing';
    if (isMap(n)) return 'a mapping';
    if (isSeq(n)) return 'a list';
    if (isScalar(n)) {
      const v = n.value;
      if (v === null) return 'nothing';
      if (typeof v === 'string') return `a string (${JSON.stringify(v)})`;
      if (typeof v === 'number' || typeof v === 'bigint') return `a number (${String(n.source ?? v)})`;
      if (typeof v === 'boolean') return `a boolean (${v})`;
      return v instanceof Uint8Array ? 'binary data' : 'a value of another type';
    }
    return 'something else';
  }

  isNull(node: unknown): boolean {
    const n = this.deref(node);
    return n === null || n === undefined || (isScalar(n) && n.value === null);
  }

  /**
   * The pairs of a mapping, after rejecting unknown and duplicate keys. A missing or empty value
   * (`global:` with nothing under it) counts as an empty mapping. Null when the node is not a mapping.
   */
  mapping(node: unknown, path: string, known: readonly string[] | null, fallback?: unknown): Map<string, Pair<unknown, unknown>> | null {
    const n = this.deref(node);
    if (this.isNull(n)) return new Map();
    if (!isMap(n)) {
      this.report(n, path, `expected a mapping, got ${this.describe(n)}`, fallback);
      return null;
    }
    const pairs = new Map<string, Pair<unknown, unknown>>();
    for (const pair of (n as YAMLMap<unknown, unknown>).items) {
      const keyNode = this.deref(pair.key);
      const key = isScalar(keyNode) && (typeof keyNode.value === 'string' || typeof keyNode.value === 'number') ? String(keyNode.value) : null;
      const keyPath = path === '' ? (key ?? '?') : `${path}.${key ?? '?'}`;
      if (key === null) {
        this.report(keyNode, path, `keys must be plain strings, got ${this.describe(keyNode)}`, n);
        continue;
      }
      const first = pairs.get(key);
      if (first) {
        this.report(keyNode, keyPath, `duplicate key (first at line ${this.lineOf(first.key)})`, n);
        continue;
      }
      if (known && !known.includes(key)) {
        const suggestion = suggestKey(key, known);
        this.report(keyNode, keyPath, suggestion ? `unknown key (did you mean "${suggestion}"?)` : `unknown key (known keys: ${known.join(', ')})`, n);
        continue;
      }
      pairs.set(key, pair);
    }
    return pairs;
  }

  /** Items of a list; null (empty) counts as an empty list. */
  list(node: unknown, path: string, fallback?: unknown): unknown[] | null {
    const n = this.deref(node);
    if (this.isNull(n)) return [];
    if (!isSeq(n)) {
      this.report(n, path, `expected a list, got ${this.describe(n)}`, fallback);
      return null;
    }
    return n.items;
  }

  string(node: unknown, path: string, fallback?: unknown): string | undefined {
    const n = this.deref(node);
    if (isScalar(n) && typeof n.value === 'string') return n.value;
    this.report(n, path, `expected a string, got ${this.describe(n)}`, fallback);
    return undefined;
  }

  boolean(node: unknown, path: string, fallback?: unknown): boolean | undefined {
    const n = this.deref(node);
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.report(n, path, `expected true or false, got ${this.describe(n)}`, fallback);
    return undefined;
  }

  integer(node: unknown, path: string, min: number, max: number, fallback?: unknown): number | undefined {
    const n = this.deref(node);
    const value = isScalar(n) ? n.value : undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    const got = typeof value === 'number' ? String(n && isScalar(n) ? (n.source ?? value) : value) : this.describe(n);
    this.report(n, path, `expected an integer from ${min} to ${max}, got ${got}`, fallback);
    return undefined;
  }

  /** Prometheus duration in seconds. A bare `0` is fine; other bare numbers need a unit. */
  duration(node: unknown, path: string, fallback?: unknown): number | undefined {
    const n = this.deref(node);
    const value = isScalar(n) ? n.value : undefined;
    if (value === 0) return 0;
    if (typeof value === 'string') {
      try {
        return parseDuration(value);
      } catch (error) {
        const outOfRange = error instanceof Error && error.message.includes('out of range');
        this.report(n, path, outOfRange ? `duration "${value}" is too large` : `invalid duration "${value}" (${DURATION_HINT})`, fallback);
        return undefined;
      }
    }
    if (typeof value === 'number') {
      this.report(n, path, `invalid duration ${String((n as { source?: string }).source ?? value)}: a number needs a unit (${DURATION_HINT})`, fallback);
      return undefined;
    }
    this.report(n, path, `expected a duration (${DURATION_HINT}), got ${this.describe(n)}`, fallback);
    return undefined;
  }

  /** Reads a file named in the config; relative paths resolve against the config file's directory. */
  readReferencedFile(node: unknown, path: string, name: string): { resolved: string; text: string } | undefined {
    const resolved = isAbsolute(name) ? name : resolve(this.baseDir, name);
    try {
      return { resolved, text: this.readFile(resolved) };
    } catch (error) {
      const where = resolved === name ? `"${name}"` : `"${name}" (${resolved})`;
      this.report(node, path, `cannot read ${where}: ${describeFileError(error)}`);
      return undefined;
    }
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Why a PEM bundle is not usable as certificates, or null when every block parses. */
function certificateProblem(name: string, text: string): string | null {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return `"${name}" contains no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      return `"${name}": certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate`;
    }
  }
  return null;
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
  }
}

function parseModule(w: Walker, name: string, node: unknown, keyNode: unknown, base: ModuleConfig): ModuleConfig {
  const path = `modules.${name}`;
  const module: ModuleConfig = { ...base, name };
  const pairs = w.mapping(node, path, MODULE_KEYS, keyNode);
  if (!pairs) return module;
  const value = (key: string): unknown => pairs.get(key)?.value;
  const at = (key: string): unknown => pairs.get(key)?.key;
  const keyPath = (key: string): string => `${path}.${key}`;

  if (pairs.has('timeout')) {
    const seconds = w.duration(value('timeout'), keyPath('timeout'), at('timeout'));
    if (seconds !== undefined && (seconds <= 0 || seconds > MAX_TIMEOUT_SECONDS)) {
      w.report(value('timeout'), keyPath('timeout'), `must be more than 0s and at most ${formatDuration(MAX_TIMEOUT_SECONDS)}, got "${formatDuration(seconds)}"`);
    } else if (seconds !== undefined) module.timeoutSeconds = seconds;
  }
  if (pairs.has('clock_skew')) {
    const seconds = w.duration(value('clock_skew'), keyPath('clock_skew'), at('clock_skew'));
    if (seconds !== undefined) module.clockSkewSeconds = seconds;
  }
  if (pairs.has('server_name')) {
    const serverName = w.string(value('server_name'), keyPath('server_name'), at('server_name'));
    const problem = serverName === undefined ? null : serverNameProblem(serverName);
    if (problem) w.report(value('server_name'), keyPath('server_name'), problem);
    else if (serverName !== undefined) module.serverName = serverName;
  }
  if (pairs.has('ip_protocol')) {
    const protocol = w.string(value('ip_protocol'), keyPath('ip_protocol'), at('ip_protocol'));
    if (protocol !== undefined && !(IP_PROTOCOLS as readonly string[]).includes(protocol)) {
      w.report(value('ip_protocol'), keyPath('ip_protocol'), `unknown ip_protocol "${protocol}" (use ${IP_PROTOCOLS.join(', ')})`);
    } else if (protocol !== undefined) module.ipProtocol = protocol as IpProtocol;
  }
  const flags = {
    probe_all_addresses: (flag: boolean) => (module.probeAllAddresses = flag),
    allow_link_local: (flag: boolean) => (module.allowLinkLocal = flag),
    query_responder: (flag: boolean) => (module.queryResponder = flag),
    responder_allow_https: (flag: boolean) => (module.responderAllowHttps = flag),
    query_chain_responders: (flag: boolean) => (module.queryChainResponders = flag),
  };
  for (const [key, set] of Object.entries(flags)) {
    if (!pairs.has(key)) continue;
    const flag = w.boolean(value(key), keyPath(key), at(key));
    if (flag !== undefined) set(flag);
  }
  if (pairs.has('responder_cache_max_age')) {
    const seconds = w.duration(value('responder_cache_max_age'), keyPath('responder_cache_max_age'), at('responder_cache_max_age'));
    if (seconds !== undefined) module.responderCacheMaxAgeSeconds = seconds;
  }
  if (pairs.has('responder_url')) {
    const url = w.string(value('responder_url'), keyPath('responder_url'), at('responder_url'));
    const problem = url === undefined ? null : responderUrlProblem(url, module.responderAllowHttps === true);
    if (problem) w.report(value('responder_url'), keyPath('responder_url'), problem);
    else if (url !== undefined) module.responderUrl = url;
  }

  for (const key of ['min_version', 'max_version'] as const) {
    if (!pairs.has(key)) continue;
    const text = w.string(value(key), keyPath(key), at(key));
    if (text === undefined) continue;
    const version = TLS_VERSIONS[text];
    if (!version) {
      w.report(value(key), keyPath(key), `unknown TLS version "${text}" (use TLS12 or TLS13)`);
      continue;
    }
    if (key === 'min_version') module.minVersion = version;
    else module.maxVersion = version;
  }
  if (module.minVersion && module.maxVersion && module.minVersion > module.maxVersion) {
    // Only TLS12/TLS13 exist here, so the one impossible pair is min TLS13 with max TLS12.
    w.report(value('max_version'), keyPath('max_version'), '"TLS12" is lower than min_version "TLS13"');
  }

  if (pairs.has('ca_file')) {
    const name = w.string(value('ca_file'), keyPath('ca_file'), at('ca_file'));
    const read = name === undefined ? undefined : w.readReferencedFile(value('ca_file'), keyPath('ca_file'), name);
    const problem = read && certificateProblem(name!, read.text);
    if (problem) w.report(value('ca_file'), keyPath('ca_file'), problem);
    else if (read) {
      module.caFile = read.resolved;
      module.caPem = read.text;
    }
  }

  const hasCert = pairs.has('client_cert_file');
  const hasKey = pairs.has('client_key_file');
  if (hasCert !== hasKey) {
    const [present, missing] = hasCert ? ['client_cert_file', 'client_key_file'] : ['client_key_file', 'client_cert_file'];
    w.report(at(present), keyPath(present), `${missing} must be set too (a client certificate needs its key: set both or neither)`);
  } else if (hasCert && hasKey) {
    const certName = w.string(value('client_cert_file'), keyPath('client_cert_file'), at('client_cert_file'));
    const keyName = w.string(value('client_key_file'), keyPath('client_key_file'), at('client_key_file'));
    const cert = certName === undefined ? undefined : w.readReferencedFile(value('client_cert_file'), keyPath('client_cert_file'), certName);
    const key = keyName === undefined ? undefined : w.readReferencedFile(value('client_key_file'), keyPath('client_key_file'), keyName);
    const certProblem = cert && certificateProblem(certName!, cert.text);
    if (certProblem) w.report(value('client_cert_file'), keyPath('client_cert_file'), certProblem);
    let keyObject: KeyObject | undefined;
    if (key) {
      try {
        keyObject = createPrivateKey(key.text);
      } catch {
        w.report(value('client_key_file'), keyPath('client_key_file'), `"${keyName}" is not an unencrypted PEM private key`);
      }
    }
    if (cert && !certProblem && key && keyObject) {
      // The first certificate of the file is the one sent; its key must be the one configured.
      const leaf = new X509Certificate((cert.text.match(PEM_CERTIFICATE) ?? [])[0]!);
      if (!leaf.checkPrivateKey(keyObject)) {
        w.report(value('client_key_file'), keyPath('client_key_file'), `"${keyName}" is not the private key of the certificate in "${certName}"`);
      } else {
        module.clientCertFile = cert.resolved;
        module.clientKeyFile = key.resolved;
        module.clientCertPem = cert.text;
        module.clientKeyPem = key.text;
      }
    }
  }
  return module;
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
  const allowlist = pairs.get('probe_allowlist');
  if (allowlist) {
    const items = w.list(allowlist.value, 'global.probe_allowlist', allowlist.key);
    for (const [i, item] of (items ?? []).entries()) {
      const path = `global.probe_allowlist[${i}]`;
      const entry = w.string(item, path, allowlist.value);
      if (entry === undefined) continue;
      try {
        parseAllowlistEntry(entry);
        global.probeAllowlist.push(entry);
      } catch (error) {
        w.report(item, path, `invalid entry ${messageOf(error)}`);
      }
    }
  }
  return global;
}

function parseModules(w: Walker, node: unknown, keyNode: unknown): Record<string, ModuleConfig> {
  const modules: Record<string, ModuleConfig> = { default: defaultModule() };
  const pairs = w.mapping(node, 'modules', null, keyNode);
  for (const [name, pair] of pairs ?? []) {
    if (!MODULE_NAME.test(name)) {
      w.report(pair.key, `modules.${name}`, 'module names may contain only letters, digits, "_" and "-"');
      continue;
    }
    // Every module starts from the built-in defaults; a configured `default` overrides them for itself only.
    modules[name] = parseModule(w, name, pair.value, pair.key, defaultModule(name));
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
    const pair = pairs.get('labels')!;
    const labels = w.mapping(pair.value, `${path}.labels`, null, pair.key);
    if (!labels) ok = false;
    for (const [name, label] of labels ?? []) {
      const labelPath = `${path}.labels.${name}`;
      if (!LABEL_NAME.test(name)) {
        w.report(label.key, labelPath, 'invalid label name (use letters, digits and "_", not starting with a digit)');
        ok = false;
      } else if (name.startsWith('__')) {
        w.report(label.key, labelPath, 'label names starting with "__" are reserved for Prometheus');
        ok = false;
      } else if (RESERVED_LABEL_NAMES.includes(name)) {
        w.report(label.key, labelPath, `label "${name}" is set by the exporter itself (reserved: ${RESERVED_LABEL_NAMES.join(', ')})`);
        ok = false;
      }
      const v = w.deref(label.value);
      if (isScalar(v) && (typeof v.value === 'number' || typeof v.value === 'boolean')) {
        w.report(v, labelPath, `label values must be strings (quote it: "${String(v.source ?? v.value)}")`);
        ok = false;
        continue;
      }
      const value = w.string(v, labelPath, label.key);
      if (value === undefined) ok = false;
      else config.labels[name] = value;
    }
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
  const w = new Walker(file, text, options.readFile ?? defaultReadFile, options.baseDir ?? dirname(resolve(file)));
  if (w.problems.length > 0) throw new ConfigError(w.problems);
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
  const modules = parseModules(w, at('modules')?.value, at('modules')?.key);
  const targets = parseTargets(w, at('targets')?.value, at('targets')?.key, modules);
  if (w.problems.length > 0) {
    const sorted = w.problems
      .map((problem, order) => ({ problem, order }))
      .sort((a, b) => (a.problem.line ?? Infinity) - (b.problem.line ?? Infinity) || a.order - b.order)
      .map(({ problem }) => problem);
    throw new ConfigError(sorted);
  }
  return { global, modules, targets, file };
}

/** Reads and parses a config file; a missing or unreadable file is a `ConfigError` naming it. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = defaultReadFile(path);
  } catch (error) {
    throw new ConfigError([{ file: path, line: null, path: '', message: `cannot read the config file: ${describeFileError(error)}` }], { cause: error });
  }
  return parseConfig(text, path);
}

/** Exposed for documentation and tests: what the loader accepts. */
export const KNOWN_KEYS = { top: TOP_KEYS, global: GLOBAL_KEYS, module: MODULE_KEYS, target: TARGET_KEYS, reservedLabels: RESERVED_LABEL_NAMES } as const;
