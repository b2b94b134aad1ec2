/**
 * `--web.config.file`: TLS, client certificates, extra response headers and basic auth for every
 * endpoint, in the format of Prometheus' exporter-toolkit (docs/web-configuration.md there), so one
 * file works for this exporter and the Go ones. The file is walked with the main config's machinery
 * (src/config/walker.ts) and validated completely at load: unknown keys, unreadable or mismatched
 * certificate files, bad enums and malformed bcrypt hashes are all collected and refused together,
 * one `FILE:LINE: key.path: what is wrong` per line. Relative paths are relative to the file's
 * directory (as exporter-toolkit does). The result is plain data; `httpsOptionsOf` turns it into
 * Node's HTTPS server options and src/server/auth.ts enforces the per-request part (with
 * basic-auth.ts and client-cert.ts).
 */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { isScalar, isSeq } from 'yaml';
import { formatProblem, type ConfigProblem } from '../config/errors.js';
import type { TlsVersion } from '../config/schema.js';
import { isLowerTlsVersion, SUPPORTED_TLS_VERSION_NAMES, tlsVersionNamed } from '../config/tls-version.js';
import { readConfigFileText, Walker, type Fields, type ProblemKind, type WalkerWording } from '../config/walker.js';
import { CodedError } from '../util/errors.js';
import { describeFileError } from '../util/files.js';
import { checkCertificateBundle, checkKeyPair } from '../x509/keys.js';

/** exporter-toolkit's client_auth_type values (Go's tls.ClientAuthType names). */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

/** Node's names of the TLS versions the web config allows (the same as the main config's). */
export type WebTlsVersion = TlsVersion;

export interface WebTlsConfig {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  clientCaFile: string | null;
  clientCaPem: string | null;
  clientAuthType: ClientAuthType;
  minVersion: WebTlsVersion;
  maxVersion: WebTlsVersion;
  /** Honour the server's cipher order (`prefer_server_cipher_suites`, default true as in exporter-toolkit). */
  preferServerCipherSuites: boolean;
  /** When non-null, the client certificate must carry one of these SAN values (DNS, IP, email or URI). */
  clientAllowedSans: string[] | null;
}

export interface WebConfig {
  /** Absolute path of the file. */
  file: string;
  /** Null → plain HTTP. */
  tls: WebTlsConfig | null;
  /** Extra response headers (`http_server_config.headers`), restricted as in exporter-toolkit. */
  headers: Record<string, string>;
  /** user → bcrypt hash; empty → no basic auth. */
  basicAuthUsers: Map<string, string>;
}

export type WebConfigErrorCode =
  /** The web config file itself cannot be read. */
  | 'ERR_WEB_CONFIG_READ'
  /** Not valid YAML (duplicate keys included). */
  | 'ERR_WEB_CONFIG_SYNTAX'
  /** Valid YAML, wrong content (unknown key, wrong type, bad value, bad hash). */
  | 'ERR_WEB_CONFIG_INVALID'
  /** A file it names (certificate, key, client CA) is missing or unusable. */
  | 'ERR_WEB_CONFIG_FILE';

/** One thing wrong with the web config, with the code it alone would have. */
export interface WebConfigProblem extends ConfigProblem {
  code: WebConfigErrorCode;
}

/**
 * Everything wrong with a web config file. `problems` lists every problem found, in line order;
 * the message is them one per line (`FILE:LINE: key.path: what is wrong`, as `ConfigError`'s), and
 * `code` is the code of the first of them, so a file with a YAML error and nothing else is
 * ERR_WEB_CONFIG_SYNTAX, one whose first problem is a missing certificate is ERR_WEB_CONFIG_FILE.
 * An unreadable web config file is the single problem of an ERR_WEB_CONFIG_READ error, whose
 * message is `cannot read web config file FILE: why`.
 */
export class WebConfigError extends CodedError<WebConfigErrorCode> {
  override readonly name = 'WebConfigError';
  readonly problems: readonly WebConfigProblem[];

  constructor(code: WebConfigErrorCode, message: string, options: { cause?: unknown; problems?: readonly WebConfigProblem[] } = {}) {
    super(code, message, 'cause' in options ? { cause: options.cause } : undefined);
    this.problems = options.problems ?? [];
  }

  /** The error for `problems` (at least one), coded by the first. */
  static of(problems: readonly WebConfigProblem[]): WebConfigError {
    const first = problems[0];
    if (!first) throw new TypeError('WebConfigError needs at least one problem');
    return new WebConfigError(first.code, problems.map(formatProblem).join('\n'), { problems });
  }
}

/** Reads what the file names; injectable for tests. */
export type ReadFileFn = (file: string) => string;

const CODE_OF_KIND: Record<ProblemKind, WebConfigErrorCode> = {
  syntax: 'ERR_WEB_CONFIG_SYNTAX',
  content: 'ERR_WEB_CONFIG_INVALID',
  file: 'ERR_WEB_CONFIG_FILE',
};

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users'];
const TLS_KEYS = [
  'cert_file',
  'key_file',
  'client_ca_file',
  'client_auth_type',
  'min_version',
  'max_version',
  'prefer_server_cipher_suites',
  'client_allowed_sans',
];
const HTTP_KEYS = ['http2', 'headers'];

/** exporter-toolkit keys this exporter knows but does not implement: refused, never silently ignored. */
const UNSUPPORTED: Record<string, string> = {
  rate_limit: 'rate limiting is not implemented; put a proxy in front of the exporter if you need it',
  'tls_server_config.cert': 'inline certificates are not supported; use cert_file',
  'tls_server_config.key': 'inline keys are not supported; use key_file',
  'tls_server_config.client_ca': 'inline client CAs are not supported; use client_ca_file',
  'tls_server_config.cipher_suites': "Go cipher suite names do not apply to Node's OpenSSL; remove it (TLS 1.3 and strong TLS 1.2 suites are the default)",
  'tls_server_config.curve_preferences': "Go curve names do not apply to Node's OpenSSL; remove it",
};

/** exporter-toolkit's list: header → allowed values (empty: any value). */
const ALLOWED_HEADERS: Record<string, string[]> = {
  'Strict-Transport-Security': [],
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': [],
  'Content-Security-Policy': [],
};

/** exporter-toolkit users know these messages; the walker's rules, this file's sentences. */
const WEB_WORDING: WalkerWording = {
  syntax: (error) => `not valid YAML: ${error.message.split('\n')[0]}`,
  unknownKey: (key, keyPath, parentPath, known) => {
    const unsupported = UNSUPPORTED[keyPath];
    return unsupported ? { path: keyPath, message: unsupported } : { path: parentPath, message: `unknown key "${key}" (expected one of: ${known.join(', ')})` };
  },
  unreadableFile: (_name, resolved, reason) => `cannot read ${resolved}: ${reason}`,
  saysWhatItFound: false,
};

/** `$2a$`, `$2b$` or `$2y$`, two-digit cost 04–31, 22 characters of salt and 31 of hash (bcrypt's base64). */
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

export function isBcryptHash(value: string): boolean {
  return BCRYPT_HASH.test(value);
}

const NOT_A_BCRYPT_HASH =
  'not a bcrypt hash (expected $2y$, $2b$ or $2a$, a cost of 04-31 and 53 characters, e.g. from `htpasswd -nBC 10 "" | tr -d \':\\n\'`)';

/** Parses and validates web config text; `file` is used for messages and to resolve relative paths. */
export function parseWebConfig(text: string, file: string, readFile: ReadFileFn = readConfigFileText): WebConfig {
  const absolute = path.resolve(file);
  const w = new Walker(file, text, { readFile, baseDir: path.dirname(absolute), wording: WEB_WORDING });
  if (w.problems.length > 0) throw errorOf(w);
  const config: WebConfig = { file: absolute, tls: null, headers: {}, basicAuthUsers: new Map() };
  const root = w.deref(w.doc.contents);
  // An empty file means plain HTTP without auth, as in exporter-toolkit.
  if (w.isNull(root)) return config;
  if (!w.isMapping(root)) {
    w.report(root, '', 'expected a mapping with tls_server_config, http_server_config or basic_auth_users');
    throw errorOf(w);
  }
  const top = w.fields(root, '', TOP_KEYS)!;
  // A section with nothing under it is as good as absent.
  const section = (key: string): boolean => top.has(key) && !w.isNull(top.value(key));
  if (section('http_server_config')) config.headers = parseHttpServerConfig(w, top.value('http_server_config'), top.keyNode('http_server_config'));
  if (section('basic_auth_users')) config.basicAuthUsers = parseBasicAuthUsers(w, top.value('basic_auth_users'), top.keyNode('basic_auth_users'));
  if (section('tls_server_config')) config.tls = parseTlsServerConfig(w, top.value('tls_server_config'), top.keyNode('tls_server_config'));
  if (w.problems.length > 0) throw errorOf(w);
  return config;
}

function errorOf(w: Walker): WebConfigError {
  return WebConfigError.of(w.sortedProblems().map(({ kind, ...problem }) => ({ ...problem, code: CODE_OF_KIND[kind] })));
}

/** `http_server_config`: `http2` (accepted, not acted on) and the extra response `headers`. */
function parseHttpServerConfig(w: Walker, node: unknown, keyNode: unknown): Record<string, string> {
  const f = w.fields(node, 'http_server_config', HTTP_KEYS, keyNode);
  if (!f) return {};
  // Accepted for compatibility: the exporter serves HTTP/1.1 either way (docs/security.md).
  f.boolean('http2');
  return f.has('headers') ? parseHeaders(w, f.value('headers'), f.keyNode('headers')) : {};
}

/** `http_server_config.headers`: only exporter-toolkit's headers, some only with its values. */
function parseHeaders(w: Walker, node: unknown, keyNode: unknown): Record<string, string> {
  const where = 'http_server_config.headers';
  const headers: Record<string, string> = {};
  // Unlike a section, `headers:` with nothing under it is refused: it names no header to send.
  if (w.isNull(node)) {
    w.report(node, where, w.expected('a mapping', node), keyNode);
    return headers;
  }
  const f = w.fields(node, where, Object.keys(ALLOWED_HEADERS), keyNode);
  for (const [name] of f?.entries() ?? []) {
    const value = f!.nonEmptyString(name);
    if (value === undefined) continue;
    const allowed = ALLOWED_HEADERS[name] ?? [];
    const unsendable = headerValueProblem(value);
    if (unsendable) f!.report(name, unsendable);
    else if (allowed.length > 0 && !allowed.includes(value)) f!.report(name, `"${value}" is not one of: ${allowed.join(', ')}`);
    else headers[name] = value;
  }
  return headers;
}

/**
 * Why a header value cannot be sent, or null. RFC 9110 §5.5: a field value is visible characters,
 * spaces and tabs (and obs-text, the bytes 0x80–0xFF); CR and LF would split the header (response
 * splitting), and Node refuses such a value at send time, which made every endpoint answer 500.
 * Checked here, at load, with the set Node accepts (its `validateHeaderValue`).
 */
function headerValueProblem(value: string): string | null {
  const bad = /[^\t\x20-\x7e\x80-\xff]/.exec(value);
  if (!bad) return null;
  const char = bad[0];
  const code = char.codePointAt(0)!;
  const shown = code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (char === '\r' || char === '\n') return `the value contains a line break (${shown}); a header value must be one line (RFC 9110 §5.5)`;
  if (code < 0x20 || code === 0x7f) return `the value contains the control character ${shown}; only visible characters, spaces and tabs are allowed (RFC 9110 §5.5)`;
  return `the value contains ${shown}, which cannot be sent in an HTTP header; use ASCII (RFC 9110 §5.5)`;
}

/** `basic_auth_users`: user name → bcrypt hash; any user name without a colon. */
function parseBasicAuthUsers(w: Walker, node: unknown, keyNode: unknown): Map<string, string> {
  const users = new Map<string, string>();
  if (!w.isMapping(node)) {
    w.report(node, 'basic_auth_users', 'expected a mapping of user name to bcrypt hash', keyNode);
    return users;
  }
  const f = w.fields(node, 'basic_auth_users', null, keyNode)!;
  for (const [user, pair] of f.entries()) {
    const where = f.pathOf(user);
    // RFC 7617 §2: the first colon of the credentials ends the user-id, so a user-id cannot hold one.
    const usable = user !== '' && !user.includes(':');
    if (!usable) w.report(pair.key, where, 'user names must be non-empty and contain no ":" (RFC 7617 §2)');
    const hash = w.deref(pair.value);
    if (!isScalar(hash) || typeof hash.value !== 'string' || !isBcryptHash(hash.value)) w.report(hash, where, NOT_A_BCRYPT_HASH, pair.key);
    else if (usable) users.set(user, hash.value);
  }
  return users;
}

/** `tls_server_config`: the server's certificate and key, TLS versions and the client certificate policy; null when unusable. */
function parseTlsServerConfig(w: Walker, node: unknown, keyNode: unknown): WebTlsConfig | null {
  const f = w.fields(node, 'tls_server_config', TLS_KEYS, keyNode);
  if (!f) return null;
  const problemsBefore = w.problems.length;
  for (const key of ['cert_file', 'key_file']) {
    if (!f.has(key)) w.report(f.node, f.path, `${key} is required when tls_server_config is set`);
  }
  const cert = readNamedFile(f, 'cert_file');
  const key = readNamedFile(f, 'key_file');
  const versions = parseTlsVersions(f);
  const clientAuthType = parseClientAuthType(f);
  const clientCa = parseClientCa(f, clientAuthType);
  if (cert && certificatesUsable(f, 'cert_file', cert) && key) {
    const pair = checkKeyPair(cert.text, key.text);
    if (!pair.ok) f.reportFile('key_file', `${key.resolved} is not a usable private key for ${cert.resolved}: ${pair.detail}`);
  }
  const preferServerCipherSuites = f.boolean('prefer_server_cipher_suites') ?? true;
  const clientAllowedSans = parseClientAllowedSans(w, f, clientAuthType);

  if (w.problems.length > problemsBefore || !cert || !key || !versions || !clientAuthType) return null;
  return {
    certFile: cert.resolved,
    keyFile: key.resolved,
    certPem: cert.text,
    keyPem: key.text,
    clientCaFile: clientCa?.resolved ?? null,
    clientCaPem: clientCa?.text ?? null,
    clientAuthType,
    minVersion: versions.min,
    maxVersion: versions.max,
    preferServerCipherSuites,
    clientAllowedSans,
  };
}

/** The file `key` names, read; undefined (reported) when the name or the file is not usable. */
function readNamedFile(f: Fields, key: string): { resolved: string; text: string } | undefined {
  const name = f.nonEmptyString(key);
  return name === undefined ? undefined : f.readFile(key, name);
}

/** Whether every PEM certificate in `read` is readable (and there is one); reported when not. */
function certificatesUsable(f: Fields, key: string, read: { resolved: string; text: string }): boolean {
  const bundle = checkCertificateBundle(read.text);
  if (bundle.ok) return true;
  f.reportFile(key, bundle.reason === 'no_certificate' ? `${read.resolved} contains no PEM certificate` : `${read.resolved} has an unreadable certificate: ${bundle.detail}`);
  return false;
}

/** `min_version` (default TLS12) and `max_version` (default TLS13); undefined when either is wrong or they are out of order. */
function parseTlsVersions(f: Fields): { min: WebTlsVersion; max: WebTlsVersion } | undefined {
  const version = (key: string, fallback: WebTlsVersion): WebTlsVersion | undefined => {
    if (!f.has(key)) return fallback;
    const text = f.nonEmptyString(key);
    if (text === undefined) return undefined;
    const found = tlsVersionNamed(text);
    if (found.ok) return found.version;
    if (found.problem === 'unsupported') f.report(key, `${text} is not supported: the exporter serves TLS 1.2 and 1.3 only`);
    else f.report(key, `"${text}" is not one of: ${SUPPORTED_TLS_VERSION_NAMES.join(', ')}`);
    return undefined;
  };
  const min = version('min_version', 'TLSv1.2');
  const max = version('max_version', 'TLSv1.3');
  if (!min || !max) return undefined;
  if (isLowerTlsVersion(max, min)) {
    f.report('max_version', 'is lower than min_version');
    return undefined;
  }
  return { min, max };
}

/** `client_auth_type` (default NoClientCert); undefined when it is not one of exporter-toolkit's. */
function parseClientAuthType(f: Fields): ClientAuthType | undefined {
  if (!f.has('client_auth_type')) return 'NoClientCert';
  const text = f.nonEmptyString('client_auth_type');
  if (text === undefined) return undefined;
  // "RequireClientCert" is exporter-toolkit's old spelling of RequireAnyClientCert.
  const normalised = text === 'RequireClientCert' ? 'RequireAnyClientCert' : text;
  if ((CLIENT_AUTH_TYPES as readonly string[]).includes(normalised)) return normalised as ClientAuthType;
  f.report('client_auth_type', `"${text}" is not one of: ${CLIENT_AUTH_TYPES.join(', ')}`);
  return undefined;
}

/**
 * `client_ca_file`, read and checked, and that it goes with the policy: a CA without a policy asking
 * for certificates is a mistake, and a verifying policy without one would accept any publicly
 * trusted certificate. The policy checks need a valid `clientAuthType`.
 */
function parseClientCa(f: Fields, clientAuthType: ClientAuthType | undefined): { resolved: string; text: string } | undefined {
  const ca = f.has('client_ca_file') ? readNamedFile(f, 'client_ca_file') : undefined;
  if (clientAuthType === 'NoClientCert' && f.has('client_ca_file')) {
    f.report('client_ca_file', 'is set but client_auth_type is NoClientCert: set client_auth_type (e.g. RequireAndVerifyClientCert)');
  }
  if (!f.has('client_ca_file') && (clientAuthType === 'VerifyClientCertIfGiven' || clientAuthType === 'RequireAndVerifyClientCert')) {
    f.report(
      'client_auth_type',
      `${clientAuthType} needs client_ca_file (the CA that issues client certificates); without it any publicly trusted certificate would pass`,
    );
  }
  return ca && certificatesUsable(f, 'client_ca_file', ca) ? ca : undefined;
}

/** `client_allowed_sans`: a non-empty list, only with a policy that requires a certificate. */
function parseClientAllowedSans(w: Walker, f: Fields, clientAuthType: ClientAuthType | undefined): string[] | null {
  const key = 'client_allowed_sans';
  if (!f.has(key)) return null;
  const list = w.deref(f.value(key));
  if (!isSeq(list) || list.items.length === 0) {
    f.report(key, 'expected a non-empty list of SAN values');
    return null;
  }
  const sans = list.items.map((item) => w.nonEmptyString(item, f.pathOf(key), f.keyNode(key))).filter((san): san is string => san !== undefined);
  if (clientAuthType !== undefined && clientAuthType !== 'RequireAnyClientCert' && clientAuthType !== 'RequireAndVerifyClientCert') {
    f.report(key, 'requires client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
  }
  return sans;
}

/** Reads and validates a web config file (capped at 10 MiB like the main config, as are the files it names). */
export function loadWebConfigFile(file: string, readFile: ReadFileFn = readConfigFileText): WebConfig {
  let text: string;
  try {
    text = readFile(file);
  } catch (error) {
    const reason = describeFileError(error);
    throw new WebConfigError('ERR_WEB_CONFIG_READ', `cannot read web config file ${file}: ${reason}`, {
      cause: error,
      problems: [{ file, line: null, path: '', message: `cannot read the web config file: ${reason}`, code: 'ERR_WEB_CONFIG_READ' }],
    });
  }
  return parseWebConfig(text, file, readFile);
}

/**
 * Node HTTPS server options for the TLS part; null for plain HTTP. The handshake itself enforces
 * RequireAndVerifyClientCert (rejectUnauthorized); the other policies need the request hook of
 * src/server/auth.ts, because OpenSSL through Node cannot require an unverified certificate.
 */
export function httpsOptionsOf(config: WebConfig): HttpsServerOptions | null {
  const t = config.tls;
  if (!t) return null;
  return {
    cert: t.certPem,
    key: t.keyPem,
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    honorCipherOrder: t.preferServerCipherSuites,
    requestCert: t.clientAuthType !== 'NoClientCert',
    rejectUnauthorized: t.clientAuthType === 'RequireAndVerifyClientCert',
    ...(t.clientCaPem ? { ca: t.clientCaPem } : {}),
  } satisfies tls.TlsOptions;
}
