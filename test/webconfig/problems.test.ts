/**
 * The web config collects every problem, like the main config: one line each, in line order, the
 * error coded by the first, every problem with its own code; and the file is read capped at 10 MiB.
 */
import { truncateSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWebConfigFile, WebConfigError } from '../../src/server/webconfig.js';
import { makeWebFixtures, type WebFixtures } from './fixtures.js';

let fx: WebFixtures;
beforeAll(async () => {
  fx = await makeWebFixtures();
});
afterAll(() => fx?.cleanup());

function refusal(text: string): WebConfigError {
  try {
    loadWebConfigFile(fx.write('web.yml', text));
  } catch (error) {
    expect(error).toBeInstanceOf(WebConfigError);
    return error as WebConfigError;
  }
  throw new Error('expected the web config to be refused');
}

describe('every problem of a web config file at once', () => {
  it('lists them one per line in line order, each with its code; the error has the first one\'s code', () => {
    const e = refusal(
      'tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n  min_version: TLS14\n' +
        'basic_auth_users:\n  alice: secret\n' +
        'http_server_config:\n  http2: "yes"\n',
    );
    const message = e.message.replaceAll(fx.dir, '<dir>');
    expect(message.split('\n')).toEqual([
      '<dir>/web.yml:2: tls_server_config.cert_file: cannot read <dir>/nope.crt: no such file',
      '<dir>/web.yml:4: tls_server_config.min_version: "TLS14" is not one of: TLS12, TLS13',
      expect.stringMatching(/^<dir>\/web.yml:6: basic_auth_users.alice: not a bcrypt hash /),
      '<dir>/web.yml:8: http_server_config.http2: expected true or false',
    ]);
    expect(e.code).toBe('ERR_WEB_CONFIG_FILE');
    expect(e.problems.map((p) => [p.line, p.path, p.code])).toEqual([
      [2, 'tls_server_config.cert_file', 'ERR_WEB_CONFIG_FILE'],
      [4, 'tls_server_config.min_version', 'ERR_WEB_CONFIG_INVALID'],
      [6, 'basic_auth_users.alice', 'ERR_WEB_CONFIG_INVALID'],
      [8, 'http_server_config.http2', 'ERR_WEB_CONFIG_INVALID'],
    ]);
  });

  it('a single problem is one problem, worded as before', () => {
    const e = refusal('basic_auth_users:\n  alice: secret\n');
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toMatchObject({ line: 2, path: 'basic_auth_users.alice', code: 'ERR_WEB_CONFIG_INVALID' });
  });

  it('a duplicate key is a YAML problem, reported with its key path', () => {
    const e = refusal(`basic_auth_users:\n  alice: ${fx.users.alice}\n  alice: ${fx.users.bob}\n`);
    expect(e.code).toBe('ERR_WEB_CONFIG_SYNTAX');
    expect(e.message.replaceAll(fx.dir, '<dir>')).toBe('<dir>/web.yml:3: basic_auth_users.alice: duplicate key (first at line 2)');
  });

  it('an unreadable web config file is one ERR_WEB_CONFIG_READ problem', () => {
    const e = (() => {
      try {
        loadWebConfigFile(`${fx.dir}/absent.yml`);
      } catch (error) {
        return error as WebConfigError;
      }
      throw new Error('expected a refusal');
    })();
    expect(e.code).toBe('ERR_WEB_CONFIG_READ');
    expect(e.problems).toEqual([{ file: `${fx.dir}/absent.yml`, line: null, path: '', message: 'cannot read the web config file: no such file', code: 'ERR_WEB_CONFIG_READ' }]);
  });

  it('a web config file over 10 MiB is refused, as the main config is', () => {
    const file = fx.write('huge.yml', '');
    truncateSync(file, 10 * 1024 * 1024 + 1);
    expect(() => loadWebConfigFile(file)).toThrow(
      expect.objectContaining({ code: 'ERR_WEB_CONFIG_READ', message: `cannot read web config file ${file}: larger than 10 MiB` }),
    );
  });
});
