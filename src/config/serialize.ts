/**
 * `Config` → the YAML of a config file, for `/config`: the configuration in force, in the file's own
 * key names (snake_case, durations in Prometheus syntax), every module key with its effective value
 * (defaults written out, as blackbox_exporter's `/config` shows them), so the answer is itself a file
 * the loader accepts. Secrets never reach the text: each section below writes the keys it knows one
 * by one (no generic dump of the object), file paths rather than the file contents read at load
 * (`ca_file`, client certificate and key, `proxy_url_file`, `proxy_ca_file`), and a proxy URL with
 * its userinfo replaced by {@link REDACTED}.
 */
import { Document, visit } from 'yaml';
import type { ProxyRoute } from '../net/proxy.js';
import { DEFAULT_RESPONDER_CACHE_MAX_AGE_SECONDS } from '../responder/check.js';
import { formatDuration } from './duration.js';
import type { ResponderCheckEntry } from './responder-checks.js';
import type { Config, GlobalConfig, ModuleConfig, TargetConfig } from './schema.js';
import type { StapleFileEntry, StapleFileLayout } from './staple-files.js';
import { TERMINAL_UNSAFE } from '../util/text.js';
import { tlsVersionName } from './tls-version.js';

/** What a secret is replaced with; still valid in a URL's userinfo, so the output loads. */
export const REDACTED = '<redacted>';

type YamlMapping = Record<string, unknown>;

/** The whole document, sections in the order the reference describes them. */
export function configToYaml(config: Config): string {
  const document: YamlMapping = {
    global: serializeGlobal(config.global),
    modules: serializeModules(config.modules),
    targets: config.targets.map(serializeTarget),
  };
  const stapleFiles = serializeStapleFiles(config.stapleFiles ?? []);
  if (stapleFiles.length > 0) document.staple_files = stapleFiles;
  const responderChecks = serializeResponderChecks(config.responderChecks ?? []);
  if (responderChecks.length > 0) document.responder_checks = responderChecks;
  return yamlText(document);
}

/** One module's keys with their effective values, as under `modules.<name>` (`/probe?debug=true` shows it). */
export function moduleToYaml(module: ModuleConfig): string {
  return yamlText(serializeModule(module));
}

function yamlText(document: YamlMapping): string {
  // No anchors/aliases (the loader caps them), no line folding (a long value stays one line).
  const doc = new Document(document, { aliasDuplicateObjects: false });
  // A label value with a control, line-separator or bidi character is written double-quoted, the
  // one YAML style with escapes, and the character as an escape: the answer is read in terminals
  // (Trojan Source, CVE-2021-42574), and YAML's writer leaves most of them raw.
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && node.value.search(TERMINAL_UNSAFE) !== -1) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ lineWidth: 0 }).replace(TERMINAL_UNSAFE, yamlEscape);
}

/**
 * A character as a YAML double-quoted escape (YAML 1.2 §5.7), `\xHH` or `\uHHHH` (all of
 * TERMINAL_UNSAFE is in the BMP). The line feeds between the document's lines stay: inside a
 * scalar the writer has already escaped them as `\n`.
 */
function yamlEscape(char: string): string {
  if (char === '\n') return char;
  const code = char.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `global`. `responder_allowlist` only when set: unset and empty mean different things. */
export function serializeGlobal(global: GlobalConfig): YamlMapping {
  return {
    concurrency: global.concurrency,
    min_probe_interval: formatDuration(global.minProbeIntervalSeconds),
    probe_allowlist: [...global.probeAllowlist],
    ...(global.responderAllowlist ? { responder_allowlist: [...global.responderAllowlist] } : {}),
  };
}

/** `modules`, by name; `default` is always there. */
export function serializeModules(modules: Record<string, ModuleConfig>): YamlMapping {
  const out: YamlMapping = {};
  for (const [name, module] of Object.entries(modules)) out[name] = serializeModule(module);
  return out;
}

/** One module: every key with its effective value; keys whose value is "none" (null) are left out. */
export function serializeModule(module: ModuleConfig): YamlMapping {
  const out: YamlMapping = {
    timeout: formatDuration(module.timeoutSeconds),
    ...(module.serverName !== null ? { server_name: module.serverName } : {}),
    ...(module.caFile !== null ? { ca_file: module.caFile } : {}),
    ...(module.clientCertFile !== null ? { client_cert_file: module.clientCertFile } : {}),
    ...(module.clientKeyFile !== null ? { client_key_file: module.clientKeyFile } : {}),
    ...(module.minVersion !== null ? { min_version: tlsVersionName(module.minVersion) } : {}),
    ...(module.maxVersion !== null ? { max_version: tlsVersionName(module.maxVersion) } : {}),
    ip_protocol: module.ipProtocol,
    probe_all_addresses: module.probeAllAddresses,
    clock_skew: formatDuration(module.clockSkewSeconds),
    allow_link_local: module.allowLinkLocal ?? false,
    query_responder: module.queryResponder ?? false,
    ...(module.responderUrl ? { responder_url: module.responderUrl } : {}),
    responder_allow_https: module.responderAllowHttps ?? false,
    responder_cache_max_age: formatDuration(module.responderCacheMaxAgeSeconds ?? DEFAULT_RESPONDER_CACHE_MAX_AGE_SECONDS),
    query_chain_responders: module.queryChainResponders ?? false,
    fetch_issuer: module.fetchIssuer ?? false,
    ...(module.starttls ? { starttls: module.starttls } : {}),
    ...serializeModuleProxy(module),
    ...(module.sourceIpAddress ? { source_ip_address: module.sourceIpAddress } : {}),
    // Absent means "the default engine", which is not always the same one: written only when set.
    ...(module.handshake ? { handshake: module.handshake } : {}),
  };
  return out;
}

/**
 * The proxy keys as they were set: `proxy_url` with its credentials redacted, `proxy_url_file` as
 * its path, `proxy_from_environment` as the flag; then `proxy_ca_file` and `no_proxy` (written out
 * even when it came from NO_PROXY, which is what it is in force as).
 */
function serializeModuleProxy(module: ModuleConfig): YamlMapping {
  const out: YamlMapping = {};
  const source = module.proxySource;
  if (source?.key === 'proxy_url_file') out.proxy_url_file = source.file;
  else if (source?.key === 'proxy_from_environment') out.proxy_from_environment = true;
  else if (module.proxy) out.proxy_url = redactedProxyUrl(module.proxy);
  if (module.proxyCaFile) out.proxy_ca_file = module.proxyCaFile;
  if (module.noProxy && module.noProxy.length > 0 && (source || module.proxy)) out.no_proxy = [...module.noProxy];
  return out;
}

/** `scheme://host:port`, with `<redacted>@` in front of the host when the URL carried a user or password. */
export function redactedProxyUrl(proxy: ProxyRoute): string {
  const host = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  return `${proxy.protocol}//${proxy.authorization !== null ? `${REDACTED}@` : ''}${host}:${proxy.port}`;
}

/** Any `scheme://user:password@` in free text (an error message quoting the file) with the userinfo redacted. */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@"']*@/gi, `$1${REDACTED}@`);
}

/** One target: always the long form, so every key shows. */
export function serializeTarget(target: TargetConfig): YamlMapping {
  return {
    target: target.target,
    module: target.module,
    ...(target.serverName !== null ? { server_name: target.serverName } : {}),
    ...(Object.keys(target.labels).length > 0 ? { labels: { ...target.labels } } : {}),
  };
}

/**
 * `staple_files`: each entry's layout keys (paths only; HAProxy bundles often hold the private key,
 * and their contents are never read here), then `issuer`, `module`, `labels`, `rewrite_within`.
 */
export function serializeStapleFiles(entries: readonly StapleFileEntry[]): YamlMapping[] {
  return entries.map((entry) => ({
    ...stapleFileLayout(entry.layout),
    ...(entry.issuer !== null ? { issuer: entry.issuer } : {}),
    module: entry.module,
    ...(Object.keys(entry.labels).length > 0 ? { labels: { ...entry.labels } } : {}),
    rewrite_within: entry.rewriteWithin,
  }));
}

function stapleFileLayout(layout: StapleFileLayout): YamlMapping {
  switch (layout.kind) {
    case 'haproxy':
      return { haproxy: layout.bundles };
    case 'pair':
      return { staple: layout.staple, certificate: layout.certificate };
    case 'directory':
      return {
        directory: layout.directory,
        staple_directory: layout.stapleDirectory,
        certificate_suffix: layout.certificateSuffix,
        staple_suffix: layout.stapleSuffix,
      };
  }
}

/** `responder_checks`: the certificate file or glob, `issuer`, `module`, `labels`. */
export function serializeResponderChecks(entries: readonly ResponderCheckEntry[]): YamlMapping[] {
  return entries.map((entry) => ({
    certificate: entry.certificate,
    ...(entry.issuer !== null ? { issuer: entry.issuer } : {}),
    module: entry.module,
    ...(Object.keys(entry.labels).length > 0 ? { labels: { ...entry.labels } } : {}),
  }));
}
