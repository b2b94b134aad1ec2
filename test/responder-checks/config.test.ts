/**
 * The `responder_checks` section through the real loader: each entry's keys, paths resolved
 * against the config file's directory, files read at load (a missing or key-only file fails the
 * load with its line), globs checked now, and the exact messages of every refusal.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/load.js';
import { RESPONDER_CHECK_KEYS } from '../../src/config/responder-checks.js';
import { ConfigError } from '../../src/config/errors.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let dir: string;

beforeAll(async () => {
  pki = await makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'responder-checks-config-'));
  mkdirSync(join(dir, 'certs'));
  writeFileSync(join(dir, 'certs', 'a.pem'), pki.leafEcdsa.pem + pki.intermediate.pem + pki.leafEcdsa.keyPem);
  writeFileSync(join(dir, 'certs', 'b.pem'), pki.leafRsa.pem);
  writeFileSync(join(dir, 'issuer.pem'), pki.intermediate.pem);
  writeFileSync(join(dir, 'key-only.pem'), pki.leafEcdsa.keyPem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(body: string) {
  return parseConfig(`modules:\n  default: {}\n  internal:\n    responder_url: http://ocsp.internal.example/\n${body}`, join(dir, 'config.yml'));
}

function problems(body: string): string[] {
  try {
    load(body);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('responder_checks config', () => {
  it('reads entries with defaults, resolving paths against the config directory', () => {
    const config = load(
      'responder_checks:\n  - certificate: certs/a.pem\n  - certificate: certs/b.pem\n    issuer: issuer.pem\n    module: internal\n    labels:\n      team: pki\n  - certificate: "certs/*.pem"\n',
    );
    expect(config.responderChecks).toEqual([
      { certificate: join(dir, 'certs/a.pem'), glob: false, issuer: null, module: 'default', labels: {} },
      { certificate: join(dir, 'certs/b.pem'), glob: false, issuer: join(dir, 'issuer.pem'), module: 'internal', labels: { team: 'pki' } },
      { certificate: join(dir, 'certs/*.pem'), glob: true, issuer: null, module: 'default', labels: {} },
    ]);
  });

  it('has no responderChecks without the section, or with an empty one', () => {
    expect(load('').responderChecks).toBeUndefined();
    expect(load('responder_checks: []\n').responderChecks).toBeUndefined();
  });

  it('refuses unknown keys, a missing certificate key, unknown modules and reserved labels', () => {
    expect(problems('responder_checks:\n  - certificate: certs/a.pem\n    modul: internal\n')).toEqual(['7: responder_checks[0].modul: unknown key (did you mean "module"?)']);
    expect(problems('responder_checks:\n  - issuer: issuer.pem\n')).toEqual(['6: responder_checks[0]: needs certificate (a certificate file, or a glob of them)']);
    expect(problems('responder_checks:\n  - certificate: certs/a.pem\n    module: nope\n')).toEqual(['7: responder_checks[0].module: unknown module "nope" (defined: default, internal)']);
    expect(problems('responder_checks:\n  - certificate: certs/a.pem\n    labels: { certificate: x }\n')[0]).toMatch(/^7: responder_checks\[0\]\.labels\.certificate: label "certificate" is set by the exporter itself/);
    expect(problems('responder_checks: {}\n')).toEqual(['5: responder_checks: expected a list, got a mapping']);
  });

  it('fails the load for a file that is missing, holds no certificate, or a glob that matches nothing', () => {
    expect(problems('responder_checks:\n  - certificate: certs/none.pem\n')).toEqual([`6: responder_checks[0].certificate: ${join(dir, 'certs/none.pem')}: no such file`]);
    expect(problems('responder_checks:\n  - certificate: key-only.pem\n')).toEqual([`6: responder_checks[0].certificate: ${join(dir, 'key-only.pem')}: no CERTIFICATE block`]);
    expect(problems('responder_checks:\n  - certificate: certs\n')).toEqual([`6: responder_checks[0].certificate: ${join(dir, 'certs')}: is a directory`]);
    expect(problems('responder_checks:\n  - certificate: "nothing/*.pem"\n')).toEqual([`6: responder_checks[0].certificate: "${join(dir, 'nothing/*.pem')}" matches no file`]);
    expect(problems('responder_checks:\n  - certificate: "*.pem"\n')).toEqual([
      `6: responder_checks[0].certificate: 1 of the 2 files "${join(dir, '*.pem')}" matches cannot be used: ${join(dir, 'key-only.pem')}: no CERTIFICATE block`,
    ]);
    expect(problems('responder_checks:\n  - certificate: "certs/**/*.pem"\n')[0]).toMatch(/^6: responder_checks\[0\]\.certificate: invalid glob: "\*\*" is not supported/);
    expect(problems('responder_checks:\n  - certificate: certs/a.pem\n    issuer: missing.pem\n')).toEqual([`7: responder_checks[0].issuer: ${join(dir, 'missing.pem')}: no such file`]);
  });

  it('refuses the same certificate file twice: its series would be duplicated', () => {
    expect(problems('responder_checks:\n  - certificate: certs/a.pem\n  - certificate: ./certs/a.pem\n    module: internal\n')).toEqual([
      `7: responder_checks[1].certificate: "${join(dir, 'certs/a.pem')}" is already checked by responder_checks[0]`,
    ]);
  });
});

describe('config.example.yaml responder_checks', () => {
  const example = join(__dirname, '..', '..', 'config.example.yaml');
  const text = readFileSync(example, 'utf8');
  const block = text.slice(text.indexOf('# responder_checks:'));

  it('shows every key of an entry', () => {
    for (const key of RESPONDER_CHECK_KEYS) expect(block, key).toMatch(new RegExp(`^#\\s+(?:- )?${key}:`, 'm'));
  });

  it('loads with the section uncommented (its files as stand-ins in a directory of their own)', () => {
    const uncommented = block
      .split('\n')
      .filter((line) => /^#( |$)/.test(line) && !/^# [A-Z]/.test(line))
      .map((line) => line.replace(/^# ?/, ''))
      .join('\n')
      .replace(/\/etc\/ssl\/private\/www\.example\.com\.pem/, 'certs/a.pem')
      .replace('"/etc/haproxy/certs/*.pem"', '"certs/*.pem"')
      .replace('certs/vpn.crt', 'certs/b.pem')
      .replace('certs/vpn-issuing-ca.crt', 'issuer.pem');
    const config = parseConfig(`modules:\n  internal: {}\n${uncommented}\n`, join(dir, 'example.yml'));
    expect(config.responderChecks?.map((e) => [e.glob, e.module, e.labels, e.issuer !== null])).toEqual([
      [false, 'default', {}, false],
      [true, 'internal', { team: 'edge' }, false],
      [false, 'default', {}, true],
    ]);
  });
});
