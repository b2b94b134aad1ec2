/**
 * `/config` against the real config machinery: a YAML file in a temp dir with every kind of secret
 * a config can hold (proxy credentials inline, in a file and from the environment; client key,
 * certificate and CA files), loaded by `parseConfig` into a `ConfigStore` behind the app. The answer
 * must name no secret, must load again as a config file with the same effect, and must say when it
 * was loaded and why the last reload failed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { KNOWN_KEYS, parseConfig } from '../../src/config/load.js';
import { RESPONDER_CHECK_KEYS } from '../../src/config/responder-checks.js';
import { STAPLE_FILE_KEYS } from '../../src/config/staple-files.js';
import type { Config, ModuleConfig } from '../../src/config/schema.js';
import { configToYaml, redactUrlCredentials, REDACTED } from '../../src/config/serialize.js';
import { ConfigStore } from '../../src/config/store.js';
import { DEFAULT_RESPONDER_CACHE_MAX_AGE_SECONDS } from '../../src/responder/check.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { fakeProbe } from './fakes.js';

const ENV = {
  HTTPS_PROXY: 'http://carol:env-secret-3@proxy.env.test:3128',
  NO_PROXY: '.internal.test, 10.0.0.0/8',
};

/** Values a label can hold that YAML would read as something else, or that could break out of a comment. */
const HOSTILE_LABELS: Record<string, string> = {
  quote: 'a"b\'c',
  newline: 'line1\nline2\r\n# not a comment',
  comment: '# not a comment',
  bool: 'yes',
  truthy: 'true',
  nothing: 'null',
  tilde: '~',
  number: '0x1F',
  float: '1e3',
  alias: '*anchor &x',
  flow: '{a: 1, b: [2]}',
  dashes: '---',
  dots: '...',
  colon: 'key: value',
  spaces: '  padded  ',
  empty: '',
  control: '\u001b[31mred\u0007\u0000',
  separator: 'a\u2028b\u0085c',
  bidi: '\u202eevil',
  emoji: '💥 ünïcode',
  backslash: 'C:\\path\\n',
  redacted: REDACTED,
  tab: 'a\tb',
};

let dir: string;
let file: string;
let pki: TestPki;
let text: string;
let store: ConfigStore;
let app: App;
let clockMs = Date.UTC(2026, 11, 2, 9, 30, 0);

function configText(): string {
  const labels = Object.entries(HOSTILE_LABELS)
    .map(([name, value]) => `      ${name}: ${JSON.stringify(value)}`)
    .join('\n');
  return `global:
  concurrency: 7
  min_probe_interval: 1m30s
  probe_allowlist: ["*.example.test:443", "10.20.0.0/16"]
  responder_allowlist: [ocsp.example.test]
modules:
  inline:
    timeout: 2500ms
    proxy_url: http://alice:inline-secret-1@proxy.example.test:3128
    no_proxy: [.corp.test]
  from_file:
    proxy_url_file: proxy-url.txt
  from_env:
    proxy_from_environment: true
    handshake: native
  https_proxy:
    proxy_url: https://[2001:db8::1]:3129
    proxy_ca_file: ca.pem
  mtls:
    server_name: mtls.example.test
    ca_file: ca.pem
    client_cert_file: client.crt
    client_key_file: client.key
    min_version: TLS12
    max_version: TLS13
    ip_protocol: ip4
    clock_skew: 0s
    query_responder: true
    responder_url: http://ocsp.example.test/path
    responder_cache_max_age: 0s
    fetch_issuer: true
    starttls: smtp
    source_ip_address: 127.0.0.1
    handshake: node
targets:
  - a.example.test:443
  - target: "[2001:db8::2]:8443"
    module: mtls
    server_name: b.example.test
  - target: hostile.example.test:443
    module: inline
    labels:
${labels}
staple_files:
  - haproxy: haproxy/*.pem
    labels: { team: "edge\\nops" }
  - staple: nginx/site.ocsp
    certificate: nginx/site.pem
    issuer: ca.pem
    rewrite_within: 0.25
  - directory: certs
    staple_directory: staples
    certificate_suffix: .crt
    staple_suffix: .der
    module: inline
responder_checks:
  - certificate: client.crt
    issuer: ca.pem
    module: mtls
    labels: { owner: "#ops" }
  - certificate: "*.crt"
`;
}

function parse(yaml: string): Config {
  return parseConfig(yaml, file, { env: ENV });
}

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'ocsp-config-endpoint-'));
  file = join(dir, 'config.yaml');
  writeFileSync(join(dir, 'proxy-url.txt'), 'http://bob:file-secret-2@proxy.file.test:8080\n');
  writeFileSync(join(dir, 'ca.pem'), pki.root.pem);
  writeFileSync(join(dir, 'client.crt'), pki.leafEcdsa.pem);
  writeFileSync(join(dir, 'client.key'), pki.leafEcdsa.keyPem);
  text = configText();
  writeFileSync(file, text);
  store = new ConfigStore(parse(text), () => parse(readBack()), { now: () => clockMs });
  app = buildApp({ store, probe: fakeProbe().probe, now: () => clockMs, logLevel: 'silent', processMetrics: false });
});

let nextText: string | null = null;
function readBack(): string {
  return nextText ?? text;
}

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function getConfig(): Promise<{ body: string; type: string | undefined }> {
  const res = await app.server.inject('/config');
  expect(res.statusCode).toBe(200);
  return { body: res.body, type: res.headers['content-type'] as string | undefined };
}

/** The PEM's base64 lines: any of them in the answer would mean the file's contents leaked. */
function pemBodyLines(pem: string): string[] {
  return pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
}

/** What a module does, with the optional keys at their defaults and the proxy's credentials reduced to "some"/"none". */
function effectiveModule(module: ModuleConfig): unknown {
  return {
    ...module,
    allowLinkLocal: module.allowLinkLocal ?? false,
    queryResponder: module.queryResponder ?? false,
    responderAllowHttps: module.responderAllowHttps ?? false,
    responderCacheMaxAgeSeconds: module.responderCacheMaxAgeSeconds ?? DEFAULT_RESPONDER_CACHE_MAX_AGE_SECONDS,
    queryChainResponders: module.queryChainResponders ?? false,
    fetchIssuer: module.fetchIssuer ?? false,
    ...(module.proxy ? { proxy: { ...module.proxy, authorization: module.proxy.authorization === null ? 'none' : 'some', shown: 'ignored' } } : {}),
  };
}

function effective(config: Config): unknown {
  return {
    ...config,
    file: 'ignored',
    modules: Object.fromEntries(Object.entries(config.modules).map(([name, module]) => [name, effectiveModule(module)])),
  };
}

describe('GET /config', () => {
  it('is plain UTF-8 text starting with where and when the config was loaded', async () => {
    const { body, type } = await getConfig();
    expect(type).toBe('text/plain; charset=utf-8');
    const lines = body.split('\n');
    expect(lines[0]).toBe('# The configuration in force (secrets redacted); itself a valid config file.');
    expect(lines[1]).toBe(`# loaded from ${file} at 2026-12-02T09:30:00Z`);
    expect(body).not.toContain('# last reload failed');
  });

  it('names no secret: proxy credentials inline, in a file, from the environment; no file contents', async () => {
    const { body } = await getConfig();
    for (const secret of ['inline-secret-1', 'alice', 'file-secret-2', 'bob', 'env-secret-3', 'carol', 'proxy.env.test', 'proxy.file.test']) {
      expect(body).not.toContain(secret);
    }
    const module = store.current.modules['inline']!;
    expect(module.proxy?.authorization).toMatch(/^Basic /);
    expect(body).not.toContain(module.proxy!.authorization!.slice('Basic '.length));
    // Key material and the other PEM files: paths only.
    for (const pem of [pki.leafEcdsa.keyPem, pki.leafEcdsa.pem, pki.root.pem]) {
      for (const line of pemBodyLines(pem)) expect(body).not.toContain(line);
    }
    expect(body).not.toContain('PRIVATE KEY');
    expect(body).not.toContain('BEGIN CERTIFICATE');
    // What is shown instead.
    expect(body).toContain(`proxy_url: http://${REDACTED}@proxy.example.test:3128`);
    expect(body).toContain(`proxy_url_file: ${join(dir, 'proxy-url.txt')}`);
    expect(body).toContain('proxy_from_environment: true');
    expect(body).toContain('proxy_url: https://[2001:db8::1]:3129');
    expect(body).toContain(`proxy_ca_file: ${join(dir, 'ca.pem')}`);
    expect(body).toContain(`client_key_file: ${join(dir, 'client.key')}`);
  });

  it('loads again as a config file with the same effect; the redacted credentials are the only difference', async () => {
    const { body } = await getConfig();
    const original = store.current;
    const reparsed = parse(body);
    expect(effective(reparsed)).toEqual(effective(original));
    // The redaction is real: the inline proxy's credentials are gone, the others are read again from their source.
    expect(reparsed.modules['inline']!.proxy!.authorization).not.toBe(original.modules['inline']!.proxy!.authorization);
    expect(reparsed.modules['from_file']!.proxy).toEqual(original.modules['from_file']!.proxy);
    expect(reparsed.modules['from_env']!.proxy).toEqual(original.modules['from_env']!.proxy);
    expect(reparsed.modules['from_env']!.noProxy).toEqual(['.internal.test', '10.0.0.0/8']);
    expect(reparsed.modules['https_proxy']!.proxy!.caPem).toBe(pki.root.pem);
    expect(reparsed.modules['mtls']!.clientKeyPem).toBe(pki.leafEcdsa.keyPem);
    // A fixed point: the reloaded config is shown with the same text.
    expect(configToYaml(reparsed)).toBe(configToYaml(original));
  });

  it('shows staple_files and responder_checks with their paths, resolved', async () => {
    const { body } = await getConfig();
    expect(store.current.stapleFiles).toHaveLength(3);
    expect(store.current.responderChecks).toHaveLength(2);
    expect(body).toContain(`  - haproxy: ${join(dir, 'haproxy', '*.pem')}`);
    expect(body).toContain(`    staple_directory: ${join(dir, 'staples')}`);
    expect(body).toContain('    rewrite_within: 0.25');
    expect(body).toContain(`  - certificate: ${join(dir, 'client.crt')}`);
    const reparsed = parse(body);
    expect(reparsed.stapleFiles).toEqual(store.current.stapleFiles);
    expect(reparsed.responderChecks).toEqual(store.current.responderChecks);
  });

  it('writes every key the loader knows (a key added to the loader but not to the serializer would vanish from /config)', async () => {
    const { body } = await getConfig();
    const written = new Set(body.split('\n').flatMap((line) => /^\s*(?:- )?([a-z_]+):/.exec(line)?.[1] ?? []));
    const known = [...KNOWN_KEYS.top, ...KNOWN_KEYS.global, ...KNOWN_KEYS.module, ...KNOWN_KEYS.target, ...STAPLE_FILE_KEYS, ...RESPONDER_CHECK_KEYS];
    expect(known.filter((key) => !written.has(key))).toEqual([]);
  });

  it('writes durations, TLS versions and defaults in the file syntax', async () => {
    const { body } = await getConfig();
    expect(body).toContain('min_probe_interval: 1m30s');
    expect(body).toContain('timeout: 2s500ms');
    expect(body).toContain('min_version: TLS12');
    expect(body).toContain('responder_cache_max_age: 0s');
    expect(body).toContain('responder_cache_max_age: 1h');
    expect(body).toContain('clock_skew: 5m');
    const keys = body.split('\n').flatMap((line) => /^\s*(?:- )?([^\s"'#:]+):/.exec(line)?.[1] ?? []);
    expect(keys).toContain('probe_all_addresses');
    expect(keys.filter((key) => !/^[a-z][a-z0-9_]*$/.test(key))).toEqual([]);
  });

  it('hostile label values come back exactly', async () => {
    const { body } = await getConfig();
    const hostile = parse(body).targets.find((t) => t.target === 'hostile.example.test:443')!;
    expect(hostile.labels).toEqual(HOSTILE_LABELS);
    // Nothing a terminal would act on is left raw: written as YAML escapes.
    expect(body).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u202e]/);
    expect(body).toContain('bidi: "\\u202eevil"');
    expect(body).toContain('tab: "a\\tb"');
    // None of them started a line of its own (a comment, a document marker, a key).
    expect(body.split('\n').filter((line) => line.startsWith('#'))).toHaveLength(2);
    expect(body.split('\n').filter((line) => line === '---' || line === '...')).toEqual([]);
  });

  it('shows the last failed reload beside the last good config, one line, bounded, credentials redacted', async () => {
    // 400 problems, one quoting a URL with credentials.
    const bad = ['targets:', '  - http://dave:err-secret-4@h.example.test:443', ...Array.from({ length: 400 }, (_, i) => `  - bad${i}.example.test`), ''].join('\n');
    nextText = bad;
    clockMs += 60_000;
    expect(app.reloadConfig().ok).toBe(false);
    expect(store.lastReloadFailure?.message).toContain('err-secret-4');
    const { body } = await getConfig();
    const comments = body.split('\n').filter((line) => line.startsWith('#'));
    expect(comments).toHaveLength(3);
    const failure = comments[2]!;
    expect(failure).toMatch(/^# last reload failed at 2026-12-02T09:31:00Z \(the configuration below is the last good one\): /);
    expect(failure).toContain(`"http://${REDACTED}@h.example.test:443" is a URL`);
    expect(failure).toContain('more characters)');
    expect(failure.length).toBeLessThan(1200);
    expect(body).not.toContain('err-secret-4');
    expect(body).not.toContain('dave');
    // Still the good config, loaded at the first time.
    expect(comments[1]).toBe(`# loaded from ${file} at 2026-12-02T09:30:00Z`);
    expect(body).toContain('hostile.example.test:443');

    nextText = null;
    clockMs += 60_000;
    expect(app.reloadConfig().ok).toBe(true);
    const after = (await getConfig()).body.split('\n').filter((line) => line.startsWith('#'));
    expect(after[1]).toBe(`# loaded from ${file} at 2026-12-02T09:32:00Z`);
    expect(after[2]).toMatch(/^# last reload failed at 2026-12-02T09:31:00Z \(a later reload succeeded\): /);
  });

  it('a file path with a newline cannot end the comment line', async () => {
    const config = { ...store.current, file: '/tmp/x\nmodules: {}\n# y' };
    const { configPage } = await import('../../src/server/config-page.js');
    const page = configPage(config, null);
    expect(page.split('\n')[1]).toBe('# loaded from /tmp/x; modules: {}; # y');
    expect(page.split('\n').filter((line) => line.startsWith('modules:'))).toHaveLength(1);
  });
});

describe('redactUrlCredentials', () => {
  it('replaces the userinfo of every URL and leaves other text alone', () => {
    expect(redactUrlCredentials('a http://u:p@h:1 b https://only-user@h c ftp://h/x@y d@e')).toBe(
      `a http://${REDACTED}@h:1 b https://${REDACTED}@h c ftp://h/x@y d@e`,
    );
  });
});
