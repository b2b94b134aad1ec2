import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { httpsOptionsOf, isBcryptHash, loadWebConfigFile, WebConfigError } from '../../src/server/webconfig.js';
import { makeWebFixtures, type WebFixtures } from './fixtures.js';

let fx: WebFixtures;
beforeAll(async () => {
  fx = await makeWebFixtures();
});
afterAll(() => fx?.cleanup());

/** Writes `text` as web.yml in the fixture dir and loads it. */
function load(text: string) {
  return loadWebConfigFile(fx.write('web.yml', text));
}

function errorOf(text: string): { code: string; message: string } {
  try {
    load(text);
  } catch (error) {
    expect(error).toBeInstanceOf(WebConfigError);
    const e = error as WebConfigError;
    return { code: e.code, message: e.message.replaceAll(fx.dir, '<dir>') };
  }
  throw new Error('expected the web config to be refused');
}

const TLS = () => `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n`;

describe('valid web config files', () => {
  it('an empty file means plain HTTP without auth', () => {
    const config = load('');
    expect(config.tls).toBeNull();
    expect(config.basicAuthUsers.size).toBe(0);
    expect(httpsOptionsOf(config)).toBeNull();
  });

  it('resolves relative paths against the file directory and applies exporter-toolkit defaults', () => {
    const config = load(TLS());
    expect(config.tls).toMatchObject({
      certFile: join(fx.dir, 'server.crt'),
      keyFile: join(fx.dir, 'server.key'),
      clientAuthType: 'NoClientCert',
      clientCaFile: null,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      preferServerCipherSuites: true,
      clientAllowedSans: null,
    });
    expect(httpsOptionsOf(config)).toMatchObject({ requestCert: false, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
  });

  it('reads every supported key', () => {
    const config = load(
      `${TLS()}  client_ca_file: ${fx.clientCaFile}\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\n` +
        `  max_version: TLS13\n  prefer_server_cipher_suites: false\n  client_allowed_sans: [prometheus.example.test]\n` +
        `http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n` +
        `basic_auth_users:\n  alice: ${fx.users.alice}\n  bob: '${fx.users.bob}'\n`,
    );
    expect(config.tls).toMatchObject({ clientAuthType: 'RequireAndVerifyClientCert', minVersion: 'TLSv1.3', clientAllowedSans: ['prometheus.example.test'] });
    expect(config.headers).toEqual({ 'X-Frame-Options': 'deny', 'Strict-Transport-Security': 'max-age=31536000' });
    expect([...config.basicAuthUsers.keys()]).toEqual(['alice', 'bob']);
    expect(httpsOptionsOf(config)).toMatchObject({ requestCert: true, rejectUnauthorized: true, honorCipherOrder: false });
  });

  it('accepts the legacy spelling RequireClientCert as RequireAnyClientCert', () => {
    expect(load(`${TLS()}  client_auth_type: RequireClientCert\n`).tls?.clientAuthType).toBe('RequireAnyClientCert');
  });

  it('basic auth alone, over plain HTTP', () => {
    const config = load(`basic_auth_users:\n  alice: ${fx.users.alice}\n`);
    expect(config.tls).toBeNull();
    expect(config.basicAuthUsers.get('alice')).toBe(fx.users.alice);
  });
});

describe('invalid web config files: one rule each, exact messages', () => {
  it.each([
    ['unknown top-level key', 'tls_config:\n  cert_file: x\n', 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:1: unknown key "tls_config" (expected one of: tls_server_config, http_server_config, basic_auth_users)'],
    [
      'unknown TLS key',
      `${TLS()}  cert_fil: x\n`,
      'ERR_WEB_CONFIG_INVALID',
      '<dir>/web.yml:4: tls_server_config: unknown key "cert_fil" (expected one of: cert_file, key_file, client_ca_file, client_auth_type, min_version, max_version, prefer_server_cipher_suites, client_allowed_sans)',
    ],
    ['not a mapping', '- a\n- b\n', 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:1: expected a mapping with tls_server_config, http_server_config or basic_auth_users'],
    ['bad YAML', 'tls_server_config: [\n', 'ERR_WEB_CONFIG_SYNTAX', '<dir>/web.yml:2: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['missing key_file', 'tls_server_config:\n  cert_file: server.crt\n', 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:2: tls_server_config: key_file is required when tls_server_config is set'],
    ['missing cert_file', 'tls_server_config:\n  key_file: server.key\n', 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:2: tls_server_config: cert_file is required when tls_server_config is set'],
    [
      'cert file that does not exist',
      'tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n',
      'ERR_WEB_CONFIG_FILE',
      '<dir>/web.yml:2: tls_server_config.cert_file: cannot read <dir>/nope.crt: no such file',
    ],
    ['empty cert_file', 'tls_server_config:\n  cert_file: ""\n  key_file: server.key\n', 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:2: tls_server_config.cert_file: expected a non-empty string'],
    [
      'client CA without a policy',
      `${TLS()}  client_ca_file: client-ca.crt\n`,
      'ERR_WEB_CONFIG_INVALID',
      '<dir>/web.yml:4: tls_server_config.client_ca_file: is set but client_auth_type is NoClientCert: set client_auth_type (e.g. RequireAndVerifyClientCert)',
    ],
    [
      'verifying policy without a client CA',
      `${TLS()}  client_auth_type: RequireAndVerifyClientCert\n`,
      'ERR_WEB_CONFIG_INVALID',
      '<dir>/web.yml:4: tls_server_config.client_auth_type: RequireAndVerifyClientCert needs client_ca_file (the CA that issues client certificates); without it any publicly trusted certificate would pass',
    ],
    [
      'unknown client_auth_type',
      `${TLS()}  client_auth_type: Always\n`,
      'ERR_WEB_CONFIG_INVALID',
      '<dir>/web.yml:4: tls_server_config.client_auth_type: "Always" is not one of: NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert',
    ],
    ['unknown TLS version', `${TLS()}  min_version: TLS14\n`, 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:4: tls_server_config.min_version: "TLS14" is not one of: TLS12, TLS13'],
    [
      'old TLS version',
      `${TLS()}  min_version: TLS10\n`,
      'ERR_WEB_CONFIG_INVALID',
      '<dir>/web.yml:4: tls_server_config.min_version: TLS10 is not supported: the exporter serves TLS 1.2 and 1.3 only',
    ],
    ['max below min', `${TLS()}  min_version: TLS13\n  max_version: TLS12\n`, 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:5: tls_server_config.max_version: is lower than min_version'],
    [
      'client_allowed_sans with an optional certificate',
      `${TLS()}  client_ca_file: client-ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n  client_allowed_sans: [a]\n`,
      'ERR_WEB_CONFIG_INVALID',
      '<dir>/web.yml:6: tls_server_config.client_allowed_sans: requires client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert',
    ],
    [
      'unsupported exporter-toolkit key',
      `${TLS()}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n`,
      'ERR_WEB_CONFIG_INVALID',
      "<dir>/web.yml:4: tls_server_config.cipher_suites: Go cipher suite names do not apply to Node's OpenSSL; remove it (TLS 1.3 and strong TLS 1.2 suites are the default)",
    ],
    [
      'rate_limit',
      'rate_limit:\n  burst: 1\n',
      'ERR_WEB_CONFIG_INVALID',
      '<dir>/web.yml:1: rate_limit: rate limiting is not implemented; put a proxy in front of the exporter if you need it',
    ],
    [
      'bad bcrypt hash',
      'basic_auth_users:\n  alice: secret\n',
      'ERR_WEB_CONFIG_INVALID',
      `<dir>/web.yml:2: basic_auth_users.alice: not a bcrypt hash (expected $2y$, $2b$ or $2a$, a cost of 04-31 and 53 characters, e.g. from \`htpasswd -nBC 10 "" | tr -d ':\\n'\`)`,
    ],
    [
      'user name with a colon',
      'basic_auth_users:\n  "a:b": $2y$04$abcdefghijklmnopqrstuu5vRhSAqNBVlcuRHJ3DMHeQWFLx4Ywy2\n',
      'ERR_WEB_CONFIG_INVALID',
      '<dir>/web.yml:2: basic_auth_users.a:b: user names must be non-empty and contain no ":" (RFC 7617 §2)',
    ],
    ['basic_auth_users not a mapping', 'basic_auth_users: [alice]\n', 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:1: basic_auth_users: expected a mapping of user name to bcrypt hash'],
    ['header not allowed', 'http_server_config:\n  headers:\n    Server: x\n', 'ERR_WEB_CONFIG_INVALID', expect.stringContaining('<dir>/web.yml:3: http_server_config.headers: unknown key "Server"')],
    ['header value not allowed', 'http_server_config:\n  headers:\n    X-Frame-Options: allow\n', 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:3: http_server_config.headers.X-Frame-Options: "allow" is not one of: deny, sameorigin'],
    ['http2 not a boolean', 'http_server_config:\n  http2: "yes"\n', 'ERR_WEB_CONFIG_INVALID', '<dir>/web.yml:2: http_server_config.http2: expected true or false'],
  ])('%s', (_name, text, code, message) => {
    expect(errorOf(text)).toEqual({ code, message });
  });

  it('a key that does not belong to the certificate', () => {
    fx.write('other.key', fx.pki.leafRsa.keyPem);
    const e = errorOf('tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n');
    expect(e.code).toBe('ERR_WEB_CONFIG_FILE');
    expect(e.message).toMatch(/^<dir>\/web.yml:3: tls_server_config.key_file: <dir>\/other.key is not a usable private key for <dir>\/server.crt: the key does not match the certificate$/);
  });

  it('a certificate file without certificates', () => {
    fx.write('empty.crt', 'nothing here\n');
    expect(errorOf('tls_server_config:\n  cert_file: empty.crt\n  key_file: server.key\n')).toEqual({
      code: 'ERR_WEB_CONFIG_FILE',
      message: '<dir>/web.yml:2: tls_server_config.cert_file: <dir>/empty.crt contains no PEM certificate',
    });
  });

  it('a certificate file with a corrupt certificate', () => {
    fx.write('corrupt.crt', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const e = errorOf('tls_server_config:\n  cert_file: corrupt.crt\n  key_file: server.key\n');
    expect(e.code).toBe('ERR_WEB_CONFIG_FILE');
    expect(e.message).toMatch(/^<dir>\/web.yml:2: tls_server_config.cert_file: <dir>\/corrupt.crt has an unreadable certificate: /);
  });

  it('the web config file itself missing', () => {
    expect(() => loadWebConfigFile(join(fx.dir, 'absent.yml'))).toThrow(
      expect.objectContaining({ code: 'ERR_WEB_CONFIG_READ', message: `cannot read web config file ${join(fx.dir, 'absent.yml')}: no such file` }),
    );
  });
});

describe('isBcryptHash', () => {
  it('accepts $2a$, $2b$, $2y$ with costs 04-31', () => {
    expect(isBcryptHash(fx.users.alice)).toBe(true);
    expect(isBcryptHash(fx.users.alice.replace('$2b$', '$2y$'))).toBe(true);
    expect(isBcryptHash(fx.users.alice.replace('$2b$04$', '$2a$31$'))).toBe(true);
  });
  it('refuses other shapes', () => {
    expect(isBcryptHash(fx.users.alice.replace('$2b$04$', '$2b$03$'))).toBe(false);
    expect(isBcryptHash(fx.users.alice.replace('$2b$04$', '$2b$32$'))).toBe(false);
    expect(isBcryptHash(fx.users.alice.replace('$2b$', '$2x$'))).toBe(false);
    expect(isBcryptHash(fx.users.alice.slice(0, -1))).toBe(false);
    expect(isBcryptHash(`${fx.users.alice} `)).toBe(false);
    expect(isBcryptHash('{SHA}abc')).toBe(false);
  });
});
