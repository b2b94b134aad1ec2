/**
 * `serve --web.config.file` as a process: a bad file stops the start with its message and exit
 * code 2 (never an unprotected exporter), `--config.check` validates it too, and a good one serves
 * HTTPS with basic auth, re-read on SIGHUP, until SIGTERM.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWebFixtures, type WebFixtures } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let fx: WebFixtures;
let configFile: string;
beforeAll(async () => {
  fx = await makeWebFixtures();
  configFile = fx.write('config.yaml', 'global:\n  concurrency: 4\n');
});
afterAll(() => fx?.cleanup());

function serve(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--config.file', configFile, '--probe.workers', '0', '--log.level', 'warn', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

function get(url: string, auth?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { ca: fx.serverCaPem, agent: false, ...(auth ? { auth } : {}) }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('serve --web.config.file', () => {
  it('refuses to start with an invalid web config, naming file, line and key', async () => {
    const web = fx.write('bad-web.yml', 'basic_auth_users:\n  alice: secret\n');
    const run = serve(['--web.config.file', web, '--web.listen-address', '127.0.0.1:0']);
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toContain(`${web}:2: basic_auth_users.alice: not a bcrypt hash`);
  }, 20_000);

  it('--config.check validates the web config too', async () => {
    const web = fx.write('check-web.yml', `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: ${fx.users.alice}\n`);
    const run = serve(['--config.check', '--web.config.file', web]);
    const missing = serve(['--config.check', '--web.config.file', `${fx.dir}/absent.yml`]);
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toContain(`${web}: OK (TLS, 1 basic auth users)`);
    expect(await missing.exited).toBe(2);
    expect(missing.output().stderr).toContain(`cannot read web config file ${fx.dir}/absent.yml: no such file`);
  }, 20_000);

  it('serves HTTPS with basic auth, takes new users on SIGHUP, then stops cleanly on SIGTERM', async () => {
    const web = fx.write('good-web.yml', `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: ${fx.users.alice}\n`);
    const run = serve(['--web.config.file', web, '--web.listen-address', '127.0.0.1:0']);
    try {
      const deadline = Date.now() + 15_000;
      let url: string | undefined;
      while (!url && Date.now() < deadline) {
        url = /serving (https:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(run.output().stderr)?.[1];
        if (!url) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(url, run.output().stderr).toBeDefined();
      expect(await get(`${url}/metrics`)).toBe(401);
      expect(await get(`${url}/metrics`, 'alice:alice-secret')).toBe(200);
      fx.write('good-web.yml', `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  bob: ${fx.users.bob}\n`);
      run.child.kill('SIGHUP');
      let status = 0;
      for (const deadline = Date.now() + 10_000; status !== 401 && Date.now() < deadline; ) {
        status = await get(`${url}/metrics`, 'alice:alice-secret');
        if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(401);
      expect(await get(`${url}/metrics`, 'bob:bob secret:with colon')).toBe(200);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
  }, 30_000);
});
