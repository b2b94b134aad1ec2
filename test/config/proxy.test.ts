/** Module keys proxy_url, proxy_url_file, proxy_from_environment, proxy_ca_file, no_proxy and source_ip_address. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig, type ParseOptions } from '../../src/config/load.js';
import { makeTestPki } from '../helpers/pki.js';

const files: Record<string, string> = {
  '/etc/exporter/proxy-url': 'http://user:s3cret@proxy.example:3128\n',
  '/etc/exporter/two-lines': 'http://a:1\nhttp://b:2\n',
};
const parse = (text: string, options: ParseOptions = {}) =>
  parseConfig(text, '/etc/exporter/c.yaml', {
    readFile: (path) => {
      if (path in files) return files[path]!;
      throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    },
    env: {},
    ...options,
  });
const module = (body: string, options?: ParseOptions) => parse(`modules:\n  m:\n${body}`, options).modules['m']!;

function problemsOf(body: string, options?: ParseOptions): string {
  try {
    module(body, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the config loaded');
}

describe('proxy_url', () => {
  it('parses the URL with its credentials; the password never shows', () => {
    const m = module('    proxy_url: http://user:s3cret@proxy.example:3128\n');
    expect(m.proxy).toMatchObject({ protocol: 'http:', host: 'proxy.example', port: 3128, shown: 'http://user:***@proxy.example:3128' });
    expect(m.proxy!.authorization).toBe(`Basic ${Buffer.from('user:s3cret').toString('base64')}`);
  });

  it('is unset by default: direct', () => {
    const m = module('    timeout: 5s\n');
    expect(m.proxy ?? null).toBeNull();
    expect(m.noProxy).toBeUndefined();
  });

  it.each([
    ['    proxy_url: socks5://p:1080\n', 'c.yaml:3: modules.m.proxy_url: socks5://p:1080: socks5 proxies are not supported'],
    ['    proxy_url: "http://u:s3cret@p:3128/path"\n', 'c.yaml:3: modules.m.proxy_url: http://u:***@p:3128: a proxy URL has no path'],
    ['    proxy_url: ""\n', 'modules.m.proxy_url: expected a non-empty string'],
    ['    proxy_url: http://p:1\n    proxy_url_file: proxy-url\n', 'modules.m.proxy_url_file: set only one of proxy_url, proxy_url_file, proxy_from_environment'],
    ['    proxy_url: http://p:1\n    probe_all_addresses: true\n', 'modules.m.proxy_url: cannot be combined with probe_all_addresses'],
  ])('%j is refused', (body, message) => {
    const problems = problemsOf(body);
    expect(problems).toContain(message);
    expect(problems).not.toContain('s3cret');
  });
});

describe('proxy_url_file', () => {
  it('reads the URL from the file (relative to the config), credentials included', () => {
    const m = module('    proxy_url_file: proxy-url\n');
    expect(m.proxy).toMatchObject({ host: 'proxy.example', port: 3128, shown: 'http://user:***@proxy.example:3128' });
  });

  it('refuses a file with more than one line, and a missing file', () => {
    expect(problemsOf('    proxy_url_file: two-lines\n')).toContain('"two-lines": must hold one proxy URL on one line');
    expect(problemsOf('    proxy_url_file: missing\n')).toContain('modules.m.proxy_url_file');
  });
});

describe('proxy_from_environment', () => {
  it('takes https_proxy before HTTPS_PROXY, and no_proxy before NO_PROXY', () => {
    const env = { https_proxy: 'http://lower:3128', HTTPS_PROXY: 'http://upper:3128', no_proxy: 'internal.example,10.0.0.0/8', NO_PROXY: 'ignored.example' };
    const m = module('    proxy_from_environment: true\n', { env });
    expect(m.proxy).toMatchObject({ host: 'lower', port: 3128 });
    expect(m.noProxy).toEqual(['internal.example', '10.0.0.0/8']);
    expect(module('    proxy_from_environment: true\n', { env: { HTTPS_PROXY: 'upper:8080' } }).proxy).toMatchObject({ protocol: 'http:', host: 'upper', port: 8080 });
  });

  it('no variable set: direct; an explicit no_proxy replaces NO_PROXY', () => {
    expect(module('    proxy_from_environment: true\n').proxy ?? null).toBeNull();
    const m = module('    proxy_from_environment: true\n    no_proxy: [a.example]\n', { env: { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'b.example' } });
    expect(m.noProxy).toEqual(['a.example']);
  });

  it('false: the environment is not read', () => {
    expect(module('    proxy_from_environment: false\n', { env: { HTTPS_PROXY: 'http://p:1' } }).proxy ?? null).toBeNull();
  });

  it('names the variable when its value is wrong', () => {
    expect(problemsOf('    proxy_from_environment: true\n', { env: { HTTPS_PROXY: 'socks5://p:1' } })).toContain(
      'modules.m.proxy_from_environment: HTTPS_PROXY from the environment: socks5://p:1: socks5 proxies are not supported',
    );
    expect(problemsOf('    proxy_from_environment: true\n', { env: { HTTPS_PROXY: 'http://p:1', no_proxy: '*.example.com' } })).toContain(
      'no_proxy from the environment: invalid no_proxy entry "*.example.com"',
    );
  });
});

describe('no_proxy', () => {
  it('takes a comma list or a YAML list', () => {
    expect(module('    proxy_url: http://p:1\n    no_proxy: "a.example, .b.example,10.0.0.0/8"\n').noProxy).toEqual(['a.example', '.b.example', '10.0.0.0/8']);
    expect(module('    proxy_url: http://p:1\n    no_proxy:\n      - a.example\n      - "[::1]:443"\n').noProxy).toEqual(['a.example', '[::1]:443']);
  });

  it('refuses bad entries, other types, and no_proxy without a proxy', () => {
    expect(problemsOf('    proxy_url: http://p:1\n    no_proxy: "ok.example,10.0.0.0/40"\n')).toContain(
      'c.yaml:4: modules.m.no_proxy: invalid no_proxy entry "10.0.0.0/40": prefix length must be 0-32',
    );
    expect(problemsOf('    proxy_url: http://p:1\n    no_proxy: 5\n')).toContain('expected a comma-separated string or a list of hosts');
    expect(problemsOf('    no_proxy: a.example\n')).toContain('modules.m.no_proxy: has no effect without a proxy');
  });
});

describe('proxy_ca_file', () => {
  it('is read for an https:// proxy and refused for an http:// one', async () => {
    const pki = await makeTestPki();
    files['/etc/exporter/proxy-ca.pem'] = pki.root.pem;
    expect(module('    proxy_url: https://p:443\n    proxy_ca_file: proxy-ca.pem\n').proxy!.caPem).toBe(pki.root.pem);
    expect(problemsOf('    proxy_url: http://p:3128\n    proxy_ca_file: proxy-ca.pem\n')).toContain('modules.m.proxy_ca_file: applies only to an https:// proxy');
    expect(problemsOf('    proxy_url: https://p:443\n    proxy_ca_file: two-lines\n')).toContain('contains no PEM certificate');
  });
});

describe('source_ip_address', () => {
  it('takes an IP literal; with ip_protocol any it narrows to its family', () => {
    const v4 = module('    source_ip_address: 127.0.0.2\n');
    expect(v4).toMatchObject({ sourceIpAddress: '127.0.0.2', ipProtocol: 'ip4' });
    expect(module('    source_ip_address: "2001:DB8:0:0::10"\n    ip_protocol: ip6\n')).toMatchObject({ sourceIpAddress: '2001:db8::10', ipProtocol: 'ip6' });
    expect(module('    source_ip_address: "::ffff:127.0.0.2"\n')).toMatchObject({ sourceIpAddress: '127.0.0.2', ipProtocol: 'ip4' });
    expect(module('    timeout: 5s\n').sourceIpAddress ?? null).toBeNull();
  });

  it.each([
    ['    source_ip_address: host.example\n', 'c.yaml:3: modules.m.source_ip_address: "host.example" is not an IP address'],
    ['    source_ip_address: "fe80::1%eth0"\n', 'is not an IP address'],
    ['    source_ip_address: 10.0.0.300\n', 'is not an IP address'],
    ['    source_ip_address: 192.0.2.1\n    ip_protocol: ip6\n', '"192.0.2.1" is an IPv4 address, but ip_protocol is ip6'],
    ['    source_ip_address: "::1"\n    ip_protocol: ip4\n', '"::1" is an IPv6 address, but ip_protocol is ip4'],
    ['    source_ip_address: 12\n', 'modules.m.source_ip_address: expected a string'],
  ])('%j is refused', (body, message) => {
    expect(problemsOf(body)).toContain(message);
  });
});
