/**
 * `--web.config.file`: TLS, client certificates, extra response headers and basic auth for every
 * endpoint, in the format of Prometheus' exporter-toolkit (docs/web-configuration.md there), so one
 * file works for this exporter and the Go ones. The file is validated completely at load: unknown
 * keys, unreadable or mismatched certificate files, bad enums and malformed bcrypt hashes are
 * refused with `FILE:LINE: key.path: what is wrong`. Relative paths are relative to the file's
 * directory (as exporter-toolkit does). The result is plain data; `httpsOptionsOf` turns it into
 * Node's HTTPS server options and src/server/auth.ts enforces the per-request part.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { CodedError } from '../util/errors.js';

/** exporter-toolkit's client_auth_type values (Go's tls.ClientAuthType names). */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

export type WebTlsVersion = 'TLSv1.2' | 'TLSv1.3';

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
  /** Not valid YAML. */
  | 'ERR_WEB_CONFIG_SYNTAX'
  /** Valid YAML, wrong content (unknown key, wrong type, bad value, bad hash). */
  | 'ERR_WEB_CONFIG_INVALID'
  /** A file it names (certificate, key, client CA) is missing or unusable. */
  | 'ERR_WEB_CONFIG_FILE';

export class WebConfigError extends CodedError<WebConfigErrorCode> {
  override readonly name = 'WebConfigError';
}

/** Reads what the file names; injectable for tests. */
export type ReadFileFn = (file: string) => string;

const readUtf8: ReadFileFn = (file) => fs.readFileSync(file, 'utf8');

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

const TLS_VERSIONS: Record<string, WebTlsVersion | null> = { TLS13: 'TLSv1.3', TLS12: 'TLSv1.2', TLS11: null, TLS10: null };

/** `$2a$`, `$2b$` or `$2y$`, two-digit cost 04–31, 22 characters of salt and 31 of hash (bcrypt's base64). */
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

export function isBcryptHash(value: string): boolean {
  return BCRYPT_HASH.test(value);
}

/** Parses and validates web config text; `file` is used for messages and to resolve relative paths. */
export function parseWebConfig(text: string, file: string, readFile: ReadFileFn = readUtf8): WebConfig {
  const absolute = path.resolve(file);
  const baseDir = path.dirname(absolute);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });

  const at = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0];
    return offset === undefined ? file : `${file}:${lineCounter.linePos(offset).line}`;
  };
  const invalid = (node: Node | null | undefined, key: string, message: string): WebConfigError =>
    new WebConfigError('ERR_WEB_CONFIG_INVALID', `${at(node)}: ${key ? `${key}: ` : ''}${message}`);

  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = lineCounter.linePos(first.pos[0]).line;
    throw new WebConfigError('ERR_WEB_CONFIG_SYNTAX', `${file}${line ? `:${line}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`);
  }

  const config: WebConfig = { file: absolute, tls: null, headers: {}, basicAuthUsers: new Map() };
  const root = doc.contents;
  // An empty file means plain HTTP without auth, as in exporter-toolkit.
  if (root === null || (isScalar(root) && root.value === null)) return config;
  if (!isMap(root)) throw invalid(root, '', 'expected a mapping with tls_server_config, http_server_config or basic_auth_users');

  /** Pairs of a mapping node with string keys, unknown keys refused. */
  const entries = (node: Node, where: string, known: string[]): [string, Node | null, Node][] => {
    if (!isMap(node)) throw invalid(node, where, 'expected a mapping');
    return (node.items as Pair<unknown, unknown>[]).map((pair) => {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const full = where ? `${where}.${key}` : key;
      const unsupported = UNSUPPORTED[full];
      if (unsupported) throw invalid(keyNode, full, unsupported);
      if (!known.includes(key)) {
        throw invalid(keyNode, where, `unknown key "${key}" (expected one of: ${known.join(', ')})`);
      }
      return [key, (pair.value as Node | null) ?? null, keyNode];
    });
  };
  const str = (value: Node | null, keyNode: Node, key: string): string => {
    if (!isScalar(value) || typeof value.value !== 'string' || value.value === '') throw invalid(value ?? keyNode, key, 'expected a non-empty string');
    return value.value;
  };
  const bool = (value: Node | null, keyNode: Node, key: string): boolean => {
    if (!isScalar(value) || typeof value.value !== 'boolean') throw invalid(value ?? keyNode, key, 'expected true or false');
    return value.value;
  };
  const readReferenced = (value: Node | null, keyNode: Node, key: string): { file: string; text: string } => {
    const named = str(value, keyNode, key);
    const resolved = path.resolve(baseDir, named);
    try {
      return { file: resolved, text: readFile(resolved) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      throw new WebConfigError('ERR_WEB_CONFIG_FILE', `${at(value)}: ${key}: cannot read ${resolved}: ${why}`, { cause: error });
    }
  };

  let tlsNode: Node | null = null;
  for (const [key, value] of entries(root, '', TOP_KEYS)) {
    if (value === null || (isScalar(value) && value.value === null)) continue;
    if (key === 'tls_server_config') tlsNode = value;
    else if (key === 'http_server_config') {
      for (const [httpKey, httpValue, httpKeyNode] of entries(value, 'http_server_config', HTTP_KEYS)) {
        const full = `http_server_config.${httpKey}`;
        if (httpKey === 'http2') {
          // Accepted for compatibility: the exporter serves HTTP/1.1 either way (README, security section).
          bool(httpValue, httpKeyNode, full);
        } else {
          for (const [name, headerValue, nameNode] of entries(httpValue ?? httpKeyNode, full, Object.keys(ALLOWED_HEADERS))) {
            const text = str(headerValue, nameNode, `${full}.${name}`);
            const allowed = ALLOWED_HEADERS[name] ?? [];
            if (allowed.length > 0 && !allowed.includes(text)) {
              throw invalid(headerValue, `${full}.${name}`, `"${text}" is not one of: ${allowed.join(', ')}`);
            }
            config.headers[name] = text;
          }
        }
      }
    }
    // basic_auth_users has arbitrary keys: read below.
  }
  // basic_auth_users has arbitrary keys, so it is read apart from `entries`.
  const usersNode = root.get('basic_auth_users', true) as Node | undefined;
  if (usersNode && !(isScalar(usersNode) && usersNode.value === null)) {
    if (!isMap(usersNode)) throw invalid(usersNode, 'basic_auth_users', 'expected a mapping of user name to bcrypt hash');
    for (const pair of usersNode.items as Pair<unknown, unknown>[]) {
      const keyNode = pair.key as Node;
      const user = isScalar(keyNode) ? String(keyNode.value) : '';
      const where = `basic_auth_users.${user}`;
      if (user === '' || user.includes(':')) throw invalid(keyNode, where, 'user names must be non-empty and contain no ":" (RFC 7617 §2)');
      const hashNode = (pair.value as Node | null) ?? null;
      if (!isScalar(hashNode) || typeof hashNode.value !== 'string' || !isBcryptHash(hashNode.value)) {
        throw invalid(
          hashNode ?? keyNode,
          where,
          'not a bcrypt hash (expected $2y$, $2b$ or $2a$, a cost of 04-31 and 53 characters, e.g. from `htpasswd -nBC 10 "" | tr -d \':\\n\'`)',
        );
      }
      config.basicAuthUsers.set(user, hashNode.value);
    }
  }

  if (tlsNode) config.tls = parseTls(tlsNode);
  return config;

  function parseTls(node: Node): WebTlsConfig {
    const pairs = entries(node, 'tls_server_config', TLS_KEYS);
    const get = (key: string) => pairs.find(([k]) => k === key);
    const where = (key: string) => `tls_server_config.${key}`;
    const cert = get('cert_file');
    const key = get('key_file');
    if (!cert) throw invalid(node, 'tls_server_config', 'cert_file is required when tls_server_config is set');
    if (!key) throw invalid(node, 'tls_server_config', 'key_file is required when tls_server_config is set');
    const certRead = readReferenced(cert[1], cert[2], where('cert_file'));
    const keyRead = readReferenced(key[1], key[2], where('key_file'));

    const version = (name: string, fallback: WebTlsVersion): WebTlsVersion => {
      const entry = get(name);
      if (!entry) return fallback;
      const text = str(entry[1], entry[2], where(name));
      const mapped = TLS_VERSIONS[text];
      if (mapped === undefined) throw invalid(entry[1], where(name), `"${text}" is not one of: TLS12, TLS13`);
      if (mapped === null) throw invalid(entry[1], where(name), `${text} is not supported: the exporter serves TLS 1.2 and 1.3 only`);
      return mapped;
    };
    const minVersion = version('min_version', 'TLSv1.2');
    const maxVersion = version('max_version', 'TLSv1.3');
    if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') {
      throw invalid(get('max_version')?.[1], where('max_version'), 'is lower than min_version');
    }

    let clientAuthType: ClientAuthType = 'NoClientCert';
    const auth = get('client_auth_type');
    if (auth) {
      const text = str(auth[1], auth[2], where('client_auth_type'));
      // "RequireClientCert" is exporter-toolkit's old spelling of RequireAnyClientCert.
      const normalised = text === 'RequireClientCert' ? 'RequireAnyClientCert' : text;
      if (!(CLIENT_AUTH_TYPES as readonly string[]).includes(normalised)) {
        throw invalid(auth[1], where('client_auth_type'), `"${text}" is not one of: ${CLIENT_AUTH_TYPES.join(', ')}`);
      }
      clientAuthType = normalised as ClientAuthType;
    }

    const ca = get('client_ca_file');
    const caRead = ca ? readReferenced(ca[1], ca[2], where('client_ca_file')) : null;
    if (caRead && clientAuthType === 'NoClientCert') {
      throw invalid(ca?.[1], where('client_ca_file'), 'is set but client_auth_type is NoClientCert: set client_auth_type (e.g. RequireAndVerifyClientCert)');
    }
    if (!caRead && (clientAuthType === 'VerifyClientCertIfGiven' || clientAuthType === 'RequireAndVerifyClientCert')) {
      throw invalid(
        auth?.[1],
        where('client_auth_type'),
        `${clientAuthType} needs client_ca_file (the CA that issues client certificates); without it any publicly trusted certificate would pass`,
      );
    }
    if (caRead && ca) checkCertificates(caRead.text, caRead.file, ca[1], where('client_ca_file'));
    checkCertificates(certRead.text, certRead.file, cert[1], where('cert_file'));
    const keyProblem = (why: string, cause?: unknown) =>
      new WebConfigError('ERR_WEB_CONFIG_FILE', `${at(key[1])}: ${where('key_file')}: ${keyRead.file} is not a usable private key for ${certRead.file}: ${why}`, {
        cause,
      });
    let privateKey;
    try {
      privateKey = createPrivateKey(keyRead.text);
    } catch (error) {
      throw keyProblem((error as Error).message, error);
    }
    // OpenSSL drops a mismatched key without an error when the context is built: check it here.
    if (!new X509Certificate(certRead.text).checkPrivateKey(privateKey)) throw keyProblem('the key does not match the certificate');

    const prefer = get('prefer_server_cipher_suites');
    let clientAllowedSans: string[] | null = null;
    const sans = get('client_allowed_sans');
    if (sans) {
      if (!isSeq(sans[1]) || sans[1].items.length === 0) throw invalid(sans[1] ?? sans[2], where('client_allowed_sans'), 'expected a non-empty list of SAN values');
      clientAllowedSans = sans[1].items.map((item) => str(item as Node, sans[2], where('client_allowed_sans')));
      if (clientAuthType !== 'RequireAnyClientCert' && clientAuthType !== 'RequireAndVerifyClientCert') {
        throw invalid(sans[1], where('client_allowed_sans'), 'requires client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
      }
    }

    return {
      certFile: certRead.file,
      keyFile: keyRead.file,
      certPem: certRead.text,
      keyPem: keyRead.text,
      clientCaFile: caRead?.file ?? null,
      clientCaPem: caRead?.text ?? null,
      clientAuthType,
      minVersion,
      maxVersion,
      preferServerCipherSuites: prefer ? bool(prefer[1], prefer[2], where('prefer_server_cipher_suites')) : true,
      clientAllowedSans,
    };
  }

  function checkCertificates(pem: string, file: string, node: Node | null, key: string): void {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new WebConfigError('ERR_WEB_CONFIG_FILE', `${at(node)}: ${key}: ${file} contains no PEM certificate`);
    for (const block of blocks) {
      try {
        new X509Certificate(block);
      } catch (error) {
        throw new WebConfigError('ERR_WEB_CONFIG_FILE', `${at(node)}: ${key}: ${file} has an unreadable certificate: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
  }
}

/** Reads and validates a web config file. */
export function loadWebConfigFile(file: string, readFile: ReadFileFn = readUtf8): WebConfig {
  let text: string;
  try {
    text = readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new WebConfigError('ERR_WEB_CONFIG_READ', `cannot read web config file ${file}: ${why}`, { cause: error });
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
