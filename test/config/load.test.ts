import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { DEFAULT_GLOBAL, DEFAULT_MODULE, emptyConfig } from '../../src/config/schema.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TESTDATA = join(HERE, 'testdata');
const REPO = resolve(HERE, '../..');
const EXAMPLE = join(REPO, 'config.example.yaml');

let pki: TestPki;
/** Files the testdata refers to that must not be committed (keys): generated, served through readFile. */
let generated: Record<string, string>;

beforeAll(async () => {
  pki = await makeTestPki();
  generated = {
    [join(TESTDATA, 'client.crt')]: pki.leafEcdsa.pem,
    [join(TESTDATA, 'other.key')]: pki.leafRsa.keyPem,
  };
});

function readWithGenerated(path: string): string {
  return generated[path] ?? readFileSync(path, 'utf8');
}

function problemsOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, got a config');
}

/**
 * One invalid file per rule, with the exact message `--config.check` prints. The file is named in
 * messages as given (here: its base name), the line is the offending node's.
 */
const INVALID: Record<string, string> = {
  'allowlist-bad-cidr': 'allowlist-bad-cidr.yaml:3: global.probe_allowlist[0]: invalid entry "10.0.0.0/33": prefix length "33" must be 0 to 32 for IPv4',
  'allowlist-bad-port': 'allowlist-bad-port.yaml:3: global.probe_allowlist[0]: invalid entry "*.example.com:0": port "0" must be 1 to 65535 or *',
  'allowlist-host-bits-set':
    'allowlist-host-bits-set.yaml:3: global.probe_allowlist[0]: invalid entry "10.1.2.3/8:443": host bits are set after the /8 prefix (did you mean 10.0.0.0/8?)',
  'allowlist-ipv6-without-brackets':
    'allowlist-ipv6-without-brackets.yaml:3: global.probe_allowlist[0]: invalid entry "2001:db8::/32:443": IPv6 addresses must be in brackets when a port follows, e.g. [2001:db8::1]:443 or [2001:db8::]/32:443',
  'allowlist-partial-wildcard':
    'allowlist-partial-wildcard.yaml:3: global.probe_allowlist[0]: invalid entry "www*.example.com:443": a wildcard must be a whole label, like *.example.com',
  'allowlist-url': 'allowlist-url.yaml:3: global.probe_allowlist[0]: invalid entry "https://*.example.com": a URL; write host:port patterns like *.example.com:443',
  'bad-duration': 'bad-duration.yaml:3: modules.strict.timeout: invalid duration "10 seconds" (use Prometheus durations like 10s, 1m30s)',
  'bad-yaml': 'bad-yaml.yaml:4: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
  'ca-file-corrupt-certificate':
    'ca-file-corrupt-certificate.yaml:3: modules.internal.ca_file: "corrupt-certificate.pem": certificate 1 of 1 is not a valid X.509 certificate',
  'ca-file-without-certificate':
    'ca-file-without-certificate.yaml:3: modules.internal.ca_file: "not-a-certificate.pem" contains no PEM certificate (-----BEGIN CERTIFICATE-----)',
  'client-cert-without-key':
    'client-cert-without-key.yaml:3: modules.mtls.client_cert_file: client_key_file must be set too (a client certificate needs its key: set both or neither)',
  'client-key-mismatch': 'client-key-mismatch.yaml:5: modules.mtls.client_key_file: "other.key" is not the private key of the certificate in "client.crt"',
  'client-key-without-cert':
    'client-key-without-cert.yaml:3: modules.mtls.client_key_file: client_cert_file must be set too (a client certificate needs its key: set both or neither)',
  'concurrency-not-integer': 'concurrency-not-integer.yaml:2: global.concurrency: expected an integer from 1 to 10000, got 2.5',
  'concurrency-too-high': 'concurrency-too-high.yaml:2: global.concurrency: expected an integer from 1 to 10000, got 10001',
  'concurrency-zero': 'concurrency-zero.yaml:2: global.concurrency: expected an integer from 1 to 10000, got 0',
  'duplicate-key': 'duplicate-key.yaml:4: global.concurrency: duplicate key (first at line 2)',
  'duplicate-target': 'duplicate-target.yaml:4: targets[2]: duplicate target "WWW.example.com:443" with module "default" (already at targets[0], line 2)',
  'duplicate-target-ipv6':
    'duplicate-target-ipv6.yaml:3: targets[1]: duplicate target "[2001:0db8:0:0::1]:443" with module "default" (already at targets[0], line 2)',
  'duration-without-unit':
    'duration-without-unit.yaml:2: global.min_probe_interval: invalid duration 30: a number needs a unit (use Prometheus durations like 10s, 1m30s)',
  'ip-protocol-unknown': 'ip-protocol-unknown.yaml:3: modules.v4.ip_protocol: unknown ip_protocol "ipv4" (use ip4, ip6, any)',
  'label-double-underscore': 'label-double-underscore.yaml:4: targets[0].labels.__tenant: label names starting with "__" are reserved for Prometheus',
  'label-invalid-name': 'label-invalid-name.yaml:4: targets[0].labels.team-name: invalid label name (use letters, digits and "_", not starting with a digit)',
  'label-reserved':
    'label-reserved.yaml:4: targets[0].labels.module: label "module" is set by the exporter itself (reserved: target, address, module, reason, problem, status, version, cipher, subject, issuer, serial, fingerprint_sha256, ocsp_url, depth, file, certificate)',
  'label-value-not-string': 'label-value-not-string.yaml:4: targets[0].labels.tier: label values must be strings (quote it: "1")',
  'missing-ca-file': `missing-ca-file.yaml:3: modules.internal.ca_file: cannot read "certs/missing-ca.pem" (${join(TESTDATA, 'certs/missing-ca.pem')}): no such file`,
  'module-name-invalid': 'module-name-invalid.yaml:2: modules.strict mode: module names may contain only letters, digits, "_" and "-"',
  'module-name-proto': 'module-name-proto.yaml:2: modules.__proto__: invalid module name "__proto__" (reserved by JavaScript objects; choose another)',
  'multiple-documents': 'multiple-documents.yaml:3: invalid YAML: the file holds more than one YAML document (remove the extra ---)',
  'multiple-problems': [
    'multiple-problems.yaml:2: global.concurency: unknown key (did you mean "concurrency"?)',
    'multiple-problems.yaml:3: global.min_probe_interval: invalid duration "soon" (use Prometheus durations like 10s, 1m30s)',
    'multiple-problems.yaml:6: modules.strict.timeout: invalid duration "10 seconds" (use Prometheus durations like 10s, 1m30s)',
    'multiple-problems.yaml:8: targets[0].target: "https://www.example.com" is a URL, not host:port (did you mean "www.example.com:443"?)',
    'multiple-problems.yaml:10: targets[1].module: unknown module "fast" (defined: default, strict)',
  ].join('\n'),
  'responder-allowlist-url':
    'responder-allowlist-url.yaml:3: global.responder_allowlist[0]: invalid entry "http://ocsp.example.com/": a URL; write host:port patterns like *.example.com:443',
  'responder-cache-max-age-bad': [
    'responder-cache-max-age-bad.yaml:3: modules.direct.query_responder: expected true or false, got a string ("yes")',
    'responder-cache-max-age-bad.yaml:4: modules.direct.responder_cache_max_age: invalid duration "1 hour" (use Prometheus durations like 10s, 1m30s)',
  ].join('\n'),
  'responder-url-https-not-allowed':
    'responder-url-https-not-allowed.yaml:4: modules.direct.responder_url: "https://ocsp.example.com/" is https; set responder_allow_https: true to allow it (OCSP is plain HTTP by design)',
  'responder-url-not-absolute': 'responder-url-not-absolute.yaml:4: modules.direct.responder_url: "/ocsp" is not an absolute URL (e.g. http://ocsp.example.com/)',
  'responder-url-not-http': 'responder-url-not-http.yaml:4: modules.direct.responder_url: "ldap://ocsp.example.com/" is not an http:// URL',
  'responder-url-query':
    'responder-url-query.yaml:4: modules.direct.responder_url: "http://ocsp.example.com/ocsp?delete=all" has a query string; RFC 6960 Appendix A.1 appends the request to the URL\'s path, leaving no place for one',
  'server-name-invalid': 'server-name-invalid.yaml:3: targets[0].server_name: "www.example.com." is not a valid DNS name',
  'server-name-ip': 'server-name-ip.yaml:3: modules.pinned.server_name: "192.0.2.1" is an IP address; SNI carries only DNS names (RFC 6066 §3)',
  'target-bad-host': 'target-bad-host.yaml:2: targets[0].target: "www_example..com:443": "www_example..com" is not a valid host name or IPv4 address',
  'target-bad-port': 'target-bad-port.yaml:2: targets[0].target: "www.example.com:70000" has port 70000; ports are 1 to 65535',
  'target-empty-host': 'target-empty-host.yaml:2: targets[0].target: ":443" has no host (expected host:port, e.g. example.com:443 or [2001:db8::1]:443)',
  'target-ipv6-address-only': 'target-ipv6-address-only.yaml:2: targets[0].target: "::1": IPv6 addresses need brackets and a port (did you mean "[::1]:443"?)',
  'target-ipv6-without-brackets':
    'target-ipv6-without-brackets.yaml:2: targets[0].target: "2001:db8::1:443": IPv6 addresses need brackets and a port (did you mean "[2001:db8::1]:443"?)',
  'target-is-url': 'target-is-url.yaml:2: targets[0].target: "https://www.example.com/" is a URL, not host:port (did you mean "www.example.com:443"?)',
  'target-missing-port': 'target-missing-port.yaml:2: targets[0]: "www.example.com" has no port (did you mean "www.example.com:443"?)',
  'target-missing-target-key': 'target-missing-target-key.yaml:2: targets[0]: missing key "target" (host:port, e.g. example.com:443)',
  'target-port-not-number': 'target-port-not-number.yaml:2: targets[0].target: "www.example.com:https" has a port that is not a number: "https"',
  'timeout-too-long': 'timeout-too-long.yaml:3: modules.slow.timeout: must be more than 0s and at most 5m, got "5m1s"',
  'timeout-zero': 'timeout-zero.yaml:3: modules.default.timeout: must be more than 0s and at most 5m, got "0s"',
  'tls-min-above-max': 'tls-min-above-max.yaml:4: modules.odd.max_version: "TLS12" is lower than min_version "TLS13"',
  'tls-version-unknown': 'tls-version-unknown.yaml:3: modules.modern.min_version: unknown TLS version "1.3" (use TLS12 or TLS13)',
  'unknown-key': 'unknown-key.yaml:2: global.concurency: unknown key (did you mean "concurrency"?)',
  'unknown-key-module': 'unknown-key-module.yaml:4: modules.strict.servername: unknown key (did you mean "server_name"?)',
  'unknown-key-no-suggestion': 'unknown-key-no-suggestion.yaml:3: targets[0].insecure_skip_verify: unknown key (known keys: target, module, server_name, labels)',
  'unknown-key-top-level': 'unknown-key-top-level.yaml:1: target: unknown key (did you mean "targets"?)',
  'unknown-module': 'unknown-module.yaml:6: targets[0].module: unknown module "fast" (defined: default, strict)',
  'wrong-type-list-for-mapping': 'wrong-type-list-for-mapping.yaml:2: global: expected a mapping, got a list',
  'wrong-type-mapping-for-list': 'wrong-type-mapping-for-list.yaml:2: targets: expected a list, got a mapping',
  'wrong-type-string-for-boolean': 'wrong-type-string-for-boolean.yaml:3: modules.all.probe_all_addresses: expected true or false, got a string ("yes")',
  'wrong-type-string-for-integer': 'wrong-type-string-for-integer.yaml:2: global.concurrency: expected an integer from 1 to 10000, got a string ("ten")',
  'wrong-type-top-level': 'wrong-type-top-level.yaml:1: expected a mapping with the keys global, modules, targets, staple_files, responder_checks, got a list',
};

function parseTestdata(name: string) {
  const file = `${name}.yaml`;
  return parseConfig(readFileSync(join(TESTDATA, file), 'utf8'), file, { baseDir: TESTDATA, readFile: readWithGenerated });
}

describe('invalid configs: one file per rule, exact message', () => {
  it('every testdata YAML file has an expected message, and every expectation a file', () => {
    const files = readdirSync(TESTDATA)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.slice(0, -'.yaml'.length))
      .sort();
    expect(files).toEqual(Object.keys(INVALID).sort());
  });

  it.each(Object.entries(INVALID))('%s', (name, expected) => {
    const error = problemsOf(() => parseTestdata(name));
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.message).toBe(expected);
    expect(error.problems).toHaveLength(expected.split('\n').length);
    for (const problem of error.problems) expect(problem.file).toBe(`${name}.yaml`);
  });

  it('gives each problem as structured data, and .errors is the same list', () => {
    const error = problemsOf(() => parseTestdata('multiple-problems'));
    expect(error.problems[0]).toEqual({
      file: 'multiple-problems.yaml',
      line: 2,
      path: 'global.concurency',
      message: 'unknown key (did you mean "concurrency"?)',
    });
    expect(error.problems.map((p) => p.line)).toEqual([2, 3, 6, 8, 10]);
    expect(error.errors).toBe(error.problems);
    expect(error).toBeInstanceOf(Error);
  });

  it('loadConfigFile names the file as given by the caller', () => {
    const path = join(TESTDATA, 'unknown-key.yaml');
    const error = problemsOf(() => loadConfigFile(path));
    expect(error.message).toBe(`${path}:2: global.concurency: unknown key (did you mean "concurrency"?)`);
  });
});

describe('missing or unreadable config file', () => {
  it('is a ConfigError naming the file, without a line', () => {
    const path = join(TESTDATA, 'no-such-config.yaml');
    const error = problemsOf(() => loadConfigFile(path));
    expect(error.message).toBe(`${path}: cannot read the config file: no such file`);
    expect(error.problems).toEqual([{ file: path, line: null, path: '', message: 'cannot read the config file: no such file' }]);
  });

  it('a file over 10 MiB is refused before it is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocsp-config-big-'));
    try {
      const path = join(dir, 'huge.yaml');
      writeFileSync(path, '');
      truncateSync(path, 10 * 1024 * 1024 + 1);
      expect(problemsOf(() => loadConfigFile(path)).message).toBe(`${path}: cannot read the config file: larger than 10 MiB`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('odd YAML values are type errors, not crashes', () => {
    expect(problemsOf(() => parseConfig('global: !!binary aGVsbG8=\n', 'c.yaml')).message).toBe('c.yaml:1: global: expected a mapping, got binary data');
    expect(problemsOf(() => parseConfig('? {a: 1}\n: 2\n', 'c.yaml')).message).toBe('c.yaml:1: keys must be plain strings, got a mapping');
    expect(problemsOf(() => parseConfig('targets: &t\n  - *t\n', 'c.yaml')).message).toBe('c.yaml:2: targets[0]: expected a mapping, got a list');
    expect(problemsOf(() => parseConfig('global: {concurrency: .inf}\n', 'c.yaml')).message).toBe(
      'c.yaml:1: global.concurrency: expected an integer from 1 to 10000, got .inf',
    );
  });

  it('a directory is not a config file', () => {
    const error = problemsOf(() => loadConfigFile(TESTDATA));
    expect(error.message).toBe(`${TESTDATA}: cannot read the config file: is a directory`);
  });
});

describe('valid configs', () => {
  it('an empty file is the built-in default, remembering its file', () => {
    expect(parseConfig('', 'empty.yaml')).toEqual({ ...emptyConfig(), file: 'empty.yaml' });
    expect(parseConfig('# nothing here\n', 'c.yaml')).toEqual({ ...emptyConfig(), file: 'c.yaml' });
    expect(parseConfig('global:\nmodules:\ntargets:\n', 'c.yaml')).toEqual({ ...emptyConfig(), file: 'c.yaml' });
  });

  it('applies defaults, parses every key and maps TLS versions', () => {
    const config = parseConfig(
      [
        'global:',
        '  concurrency: 4',
        '  min_probe_interval: 1m30s',
        '  probe_allowlist: ["*.example.com:443", "10.0.0.0/8"]',
        'modules:',
        '  strict:',
        '    timeout: 2500ms',
        '    server_name: www.example.com',
        '    min_version: TLS12',
        '    max_version: TLS13',
        '    ip_protocol: ip6',
        '    probe_all_addresses: true',
        '    clock_skew: 0',
        '    allow_link_local: true',
        'targets:',
        '  - www.example.com:443',
        '  - target: "[2001:db8::1]:8443"',
        '    module: strict',
        '    server_name: api.example.com',
        '    labels: {team: payments, env: "1"}',
      ].join('\n'),
      'c.yaml',
    );
    expect(config.global).toEqual({ concurrency: 4, minProbeIntervalSeconds: 90, probeAllowlist: ['*.example.com:443', '10.0.0.0/8'] });
    expect(config.modules['default']).toEqual({ name: 'default', ...DEFAULT_MODULE });
    expect(config.modules['strict']).toEqual({
      ...DEFAULT_MODULE,
      name: 'strict',
      timeoutSeconds: 2.5,
      serverName: 'www.example.com',
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      ipProtocol: 'ip6',
      probeAllAddresses: true,
      clockSkewSeconds: 0,
      allowLinkLocal: true,
    });
    expect(config.targets).toEqual([
      { target: 'www.example.com:443', host: 'www.example.com', port: 443, module: 'default', serverName: null, labels: {} },
      {
        target: '[2001:db8::1]:8443',
        host: '2001:db8::1',
        port: 8443,
        module: 'strict',
        serverName: 'api.example.com',
        labels: { team: 'payments', env: '1' },
      },
    ]);
    expect(config.file).toBe('c.yaml');
  });

  it('a configured default overrides only the fields it sets; other modules start from the built-in defaults', () => {
    const config = parseConfig('modules:\n  default:\n    timeout: 3s\n  other:\n    clock_skew: 1m\n', 'c.yaml');
    expect(config.modules['default']).toEqual({ name: 'default', ...DEFAULT_MODULE, timeoutSeconds: 3 });
    expect(config.modules['other']).toEqual({ name: 'other', ...DEFAULT_MODULE, clockSkewSeconds: 60 });
  });

  it('parses the direct responder keys; https responder URLs only when allowed', () => {
    const config = parseConfig(
      [
        'modules:',
        '  direct:',
        '    query_responder: true',
        '    responder_url: http://ocsp.example.com/',
        '    responder_cache_max_age: 10m',
        '    query_chain_responders: true',
        '  tls_responder:',
        '    query_responder: true',
        '    responder_url: https://ocsp.example.com/',
        '    responder_allow_https: true',
        '    responder_cache_max_age: 0',
      ].join('\n'),
      'c.yaml',
    );
    expect(config.modules['direct']).toEqual({
      name: 'direct',
      ...DEFAULT_MODULE,
      queryResponder: true,
      responderUrl: 'http://ocsp.example.com/',
      responderCacheMaxAgeSeconds: 600,
      queryChainResponders: true,
    });
    expect(config.modules['tls_responder']).toMatchObject({ responderUrl: 'https://ocsp.example.com/', responderAllowHttps: true, responderCacheMaxAgeSeconds: 0 });
    // Optional keys stay absent when not configured (readers apply their documented defaults).
    expect(config.modules['default']).not.toHaveProperty('queryResponder');
  });

  it('an empty module is the built-in defaults under that name', () => {
    expect(parseConfig('modules:\n  plain:\n', 'c.yaml').modules['plain']).toEqual({ name: 'plain', ...DEFAULT_MODULE });
  });

  it('the same host:port with different modules are two targets; YAML anchors work', () => {
    const config = parseConfig(
      'modules: {a: {}}\ntargets:\n  - {target: x.example.com:443, labels: &l {team: web}}\n  - {target: x.example.com:443, module: a, labels: *l}\n',
      'c.yaml',
    );
    expect(config.targets.map((t) => [t.module, t.labels])).toEqual([
      ['default', { team: 'web' }],
      ['a', { team: 'web' }],
    ]);
  });

  it('keeps the global defaults when global is absent', () => {
    expect(parseConfig('targets: []', 'c.yaml').global).toEqual(DEFAULT_GLOBAL);
  });

  it('responder_allowlist: kept globally and carried by every module (probes see only their module); unset, no module carries one', () => {
    const config = parseConfig('global:\n  responder_allowlist: ["*.example.com:80", "10.0.0.0/8", "127.0.0.1"]\nmodules:\n  direct:\n    query_responder: true\n', 'c.yaml');
    const allowlist = ['*.example.com:80', '10.0.0.0/8', '127.0.0.1'];
    expect(config.global.responderAllowlist).toEqual(allowlist);
    for (const name of ['default', 'direct']) {
      expect(config.modules[name]!.responderDestinations).toEqual({ allowlist, exporterEndpoints: [] });
    }
    // Set but empty: nothing may be asked (unlike unset).
    expect(parseConfig('global:\n  responder_allowlist: []\n', 'c.yaml').modules['default']!.responderDestinations).toEqual({ allowlist: [], exporterEndpoints: [] });
    const unset = parseConfig('modules:\n  direct:\n    query_responder: true\n', 'c.yaml');
    expect(unset.global).not.toHaveProperty('responderAllowlist');
    expect(unset.modules['direct']).not.toHaveProperty('responderDestinations');
  });

  it('modules are looked up as own entries only: no inherited member is a module, and __proto__ is refused', () => {
    const config = parseConfig('modules:\n  toString:\n    timeout: 3s\ntargets:\n  - {target: a.example.com:443, module: toString}\n', 'c.yaml');
    expect(Object.getPrototypeOf(config.modules)).toBeNull();
    expect(config.modules['toString']).toMatchObject({ name: 'toString', timeoutSeconds: 3 });
    expect(Object.keys(config.modules).sort()).toEqual(['default', 'toString']);
    // Not configured, so not a module, whatever Object.prototype holds.
    expect(problemsOf(() => parseConfig('targets:\n  - {target: a.example.com:443, module: valueOf}\n', 'c.yaml')).message).toBe(
      'c.yaml:2: targets[0].module: unknown module "valueOf" (defined: default)',
    );
    expect(Object.getPrototypeOf(emptyConfig().modules)).toBeNull();
    // __proto__ used to replace the table's prototype: the module vanished and the file loaded as OK.
    expect(problemsOf(() => parseConfig('modules:\n  __proto__:\n    timeout: 3s\n', 'c.yaml')).message).toBe(
      'c.yaml:2: modules.__proto__: invalid module name "__proto__" (reserved by JavaScript objects; choose another)',
    );
  });
});

describe('files named by the config', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ocsp-config-'));
    mkdirSync(join(dir, 'certs'));
    writeFileSync(join(dir, 'certs', 'ca.pem'), pki.root.pem + pki.intermediate.pem);
    writeFileSync(join(dir, 'certs', 'client.crt'), pki.leafEcdsa.pem + pki.intermediate.pem);
    writeFileSync(join(dir, 'certs', 'client.key'), pki.leafEcdsa.keyPem);
    writeFileSync(join(dir, 'certs', 'encrypted.key'), '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves relative paths against the config file directory and reads them at load time', () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      'modules:\n  internal:\n    ca_file: certs/ca.pem\n    client_cert_file: certs/client.crt\n    client_key_file: certs/client.key\n',
    );
    const module = loadConfigFile(file).modules['internal']!;
    expect(module.caFile).toBe(join(dir, 'certs', 'ca.pem'));
    expect(module.caPem).toBe(pki.root.pem + pki.intermediate.pem);
    expect(module.clientCertFile).toBe(join(dir, 'certs', 'client.crt'));
    expect(module.clientCertPem).toBe(pki.leafEcdsa.pem + pki.intermediate.pem);
    expect(module.clientKeyFile).toBe(join(dir, 'certs', 'client.key'));
    expect(module.clientKeyPem).toBe(pki.leafEcdsa.keyPem);
  });

  it('absolute paths are used as they are', () => {
    const config = parseConfig(`modules:\n  m:\n    ca_file: ${join(dir, 'certs', 'ca.pem')}\n`, 'elsewhere/c.yaml');
    expect(config.modules['m']!.caFile).toBe(join(dir, 'certs', 'ca.pem'));
  });

  it('an encrypted (or otherwise unusable) key is refused', () => {
    const error = problemsOf(() =>
      parseConfig('modules:\n  m:\n    client_cert_file: certs/client.crt\n    client_key_file: certs/encrypted.key\n', 'c.yaml', { baseDir: dir }),
    );
    expect(error.message).toBe('c.yaml:4: modules.m.client_key_file: "certs/encrypted.key" is not an unencrypted PEM private key');
  });

  it('reports every unreadable file, not only the first', () => {
    const error = problemsOf(() =>
      parseConfig('modules:\n  a:\n    ca_file: /nonexistent/a.pem\n  b:\n    ca_file: /nonexistent/b.pem\n', 'c.yaml'),
    );
    expect(error.message).toBe(
      'c.yaml:3: modules.a.ca_file: cannot read "/nonexistent/a.pem": no such file\nc.yaml:5: modules.b.ca_file: cannot read "/nonexistent/b.pem": no such file',
    );
  });
});

describe('config.example.yaml', () => {
  const text = readFileSync(EXAMPLE, 'utf8');

  it('loads as shipped', () => {
    const config = loadConfigFile(EXAMPLE);
    expect(Object.keys(config.modules).sort()).toEqual(['all_nodes', 'default', 'internal', 'mail']);
    expect(config.modules['all_nodes']).toMatchObject({ probeAllAddresses: true, serverName: 'www.example.com' });
    expect(config.modules['mail']).toMatchObject({ starttls: 'smtp' });
    expect(config.targets.length).toBeGreaterThanOrEqual(4);
    expect(config.global.probeAllowlist.length).toBeGreaterThan(0);
  });

  it('still loads with every commented-out key enabled (ca_file read through a stand-in)', () => {
    const enabled = text.replace(/^(\s*)# ((?:server_name|ca_file|client_cert_file|client_key_file|min_version|max_version|responder_url): .*)$/gm, '$1$2');
    expect(enabled).not.toBe(text);
    const stand = {
      [join(REPO, 'certs/internal-ca.pem')]: pki.root.pem,
      [join(REPO, 'certs/exporter.crt')]: pki.leafEcdsa.pem,
      [join(REPO, 'certs/exporter.key')]: pki.leafEcdsa.keyPem,
    };
    const config = parseConfig(enabled, EXAMPLE, {
      readFile: (path) => {
        const content = stand[path];
        if (content === undefined) throw Object.assign(new Error(`unexpected read of ${path}`), { code: 'ENOENT' });
        return content;
      },
    });
    expect(config.modules['internal']!.caFile).toBe(join(REPO, 'certs/internal-ca.pem'));
    expect(config.modules['default']).toMatchObject({
      clientCertPem: pki.leafEcdsa.pem,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      responderUrl: 'http://ocsp.example.com/',
    });
  });

  it('shows every key the loader accepts', async () => {
    const { KNOWN_KEYS } = await import('../../src/config/load.js');
    for (const key of [...KNOWN_KEYS.top, ...KNOWN_KEYS.global, ...KNOWN_KEYS.module, ...KNOWN_KEYS.target]) {
      expect(text, key).toMatch(new RegExp(`^\\s*(?:# |- )?${key}:`, 'm'));
    }
  });
});
