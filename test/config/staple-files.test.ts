import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { STAPLE_FILE_KEYS } from '../../src/config/staple-files.js';

const FILE = '/etc/ocsp-exporter/config.yaml';
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, FILE);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  throw new Error('expected the config to be refused');
}

describe('staple_files config', () => {
  it('reads the three layouts, with defaults, paths resolved against the config file', () => {
    const config = parseConfig(
      [
        'modules:',
        '  internal: {}',
        'staple_files:',
        '  - haproxy: /etc/haproxy/certs/*.pem',
        '  - staple: staples/www.der',
        '    certificate: /etc/nginx/www.crt',
        '    issuer: ca/issuing.pem',
        '    module: internal',
        '    labels: { site: www }',
        '    rewrite_within: 0.25',
        '  - directory: /etc/ssl/live',
        '    staple_directory: /var/cache/ocsp',
        '    certificate_suffix: .crt',
        '    staple_suffix: .der',
      ].join('\n'),
      FILE,
    );
    expect(config.stapleFiles).toEqual([
      { layout: { kind: 'haproxy', bundles: '/etc/haproxy/certs/*.pem' }, issuer: null, module: 'default', labels: {}, rewriteWithin: 0.5 },
      {
        layout: { kind: 'pair', staple: '/etc/ocsp-exporter/staples/www.der', certificate: '/etc/nginx/www.crt' },
        issuer: '/etc/ocsp-exporter/ca/issuing.pem',
        module: 'internal',
        labels: { site: 'www' },
        rewriteWithin: 0.25,
      },
      {
        layout: { kind: 'directory', directory: '/etc/ssl/live', stapleDirectory: '/var/cache/ocsp', certificateSuffix: '.crt', stapleSuffix: '.der' },
        issuer: null,
        module: 'default',
        labels: {},
        rewriteWithin: 0.5,
      },
    ]);
  });

  it('a directory entry defaults to name.pem ↔ name.ocsp in the same directory', () => {
    const config = parseConfig('staple_files:\n  - directory: certs\n', FILE);
    expect(config.stapleFiles?.[0]?.layout).toEqual({
      kind: 'directory',
      directory: '/etc/ocsp-exporter/certs',
      stapleDirectory: '/etc/ocsp-exporter/certs',
      certificateSuffix: '.pem',
      stapleSuffix: '.ocsp',
    });
  });

  it('no section, or an empty one: no staple files', () => {
    expect(parseConfig('targets: []\n', FILE).stapleFiles).toBeUndefined();
    expect(parseConfig('staple_files: []\n', FILE).stapleFiles).toBeUndefined();
  });

  it.each([
    ['staple_files: {}', 'config.yaml:1: staple_files: expected a list, got a mapping'],
    ['staple_files:\n  - haproxy: a.pem\n    stapel: x', 'config.yaml:3: staple_files[0].stapel: unknown key (did you mean "staple"?)'],
    ['staple_files:\n  - labels: {}', 'config.yaml:2: staple_files[0]: needs one of haproxy (a glob of PEM bundles), staple with certificate (one pair) or directory'],
    ['staple_files:\n  - haproxy: a.pem\n    directory: d', 'config.yaml:2: staple_files[0]: set only one of haproxy, directory (each entry has one layout)'],
    ['staple_files:\n  - staple: a.ocsp', 'config.yaml:2: staple_files[0].staple: needs certificate too (the certificate file the staple is about)'],
    ['staple_files:\n  - haproxy: a.pem\n    certificate: b.pem', 'config.yaml:3: staple_files[0].certificate: goes with staple (the explicit pair); haproxy and directory find certificates themselves'],
    ['staple_files:\n  - haproxy: a.pem\n    staple_suffix: .x', 'config.yaml:3: staple_files[0].staple_suffix: applies only to a directory entry'],
    ['staple_files:\n  - staple: "*.ocsp"\n    certificate: a.pem', 'config.yaml:2: staple_files[0].staple: is a single path, not a glob (for many bundles use haproxy: or directory:)'],
    ['staple_files:\n  - haproxy: "/etc/**/*.pem"', 'config.yaml:2: staple_files[0].haproxy: invalid glob: "**" is not supported (a pattern matches within one directory level: use * per level)'],
    ['staple_files:\n  - haproxy: "/etc/[ab.pem"', 'config.yaml:2: staple_files[0].haproxy: invalid glob: unclosed "[" in "[ab.pem"'],
    ['staple_files:\n  - haproxy: a.pem\n    module: nope', 'config.yaml:3: staple_files[0].module: unknown module "nope" (defined: default)'],
    ['staple_files:\n  - haproxy: a.pem\n    rewrite_within: 0', 'config.yaml:3: staple_files[0].rewrite_within: expected a number above 0 and at most 1 (a share of the staple\'s usable window, e.g. 0.5), got a number (0)'],
    ['staple_files:\n  - haproxy: a.pem\n    rewrite_within: 1.5', 'config.yaml:3: staple_files[0].rewrite_within: expected a number above 0 and at most 1 (a share of the staple\'s usable window, e.g. 0.5), got a number (1.5)'],
    ['staple_files:\n  - directory: d\n    certificate_suffix: .pem\n    staple_suffix: .ocsp.pem', 'config.yaml:4: staple_files[0].staple_suffix: ".ocsp.pem" ends with certificate_suffix ".pem": staple files would be taken for certificates'],
    ['staple_files:\n  - directory: d\n    staple_suffix: x/y', 'config.yaml:3: staple_files[0].staple_suffix: is a file name ending, not a path (no "/")'],
  ])('refuses %j', (yaml, expected) => {
    expect(problems(yaml).map((line) => line.replace('/etc/ocsp-exporter/', ''))).toEqual(expect.arrayContaining([expected]));
  });

  it('refuses the identity labels as extra labels', () => {
    const [problem] = problems('staple_files:\n  - haproxy: a.pem\n    labels: { file: x, certificate: y }');
    expect(problem).toMatch(/^\/etc\/ocsp-exporter\/config\.yaml:3: staple_files\[0\]\.labels\.file: label "file" is set by the exporter itself \(reserved: .*\bfile, certificate\b/);
  });

  it('config.example.yaml shows every staple_files key', () => {
    const text = readFileSync(join(REPO, 'config.example.yaml'), 'utf8');
    for (const key of STAPLE_FILE_KEYS) expect(text, key).toMatch(new RegExp(`^\\s*#\\s*(?:- )?${key}:`, 'm'));
  });
});
