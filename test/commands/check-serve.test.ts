/**
 * `check` against the demo lab's real TLS endpoints, and `serve` as a real process: config check,
 * start on a config file, SIGHUP reload keeping the last good config, SIGTERM exiting 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { startDemoLab, type DemoLab } from '../../src/demo/lab.js';
import { parseExposition, valueOf } from '../metrics/exposition.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

let lab: DemoLab;
let dir: string;
let configFile: string;

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

function endpoint(name: string): string {
  const e = lab.endpoints.find((x) => x.name === name)!;
  return `${e.host}:${e.port}`;
}

function configYaml(targets: string[]): string {
  return [
    'global:',
    '  min_probe_interval: 0s',
    'modules:',
    '  demo:',
    '    timeout: 3s',
    '    server_name: localhost',
    '    ca_file: ca.pem',
    'targets:',
    ...targets.flatMap((t) => [`  - target: "${t}"`, '    module: demo']),
    '',
  ].join('\n');
}

beforeAll(async () => {
  lab = await startDemoLab();
  dir = await mkdtemp(path.join(tmpdir(), 'check-serve-'));
  await writeFile(path.join(dir, 'ca.pem'), lab.caPem);
  configFile = path.join(dir, 'config.yaml');
  await writeFile(configFile, configYaml([endpoint('good')]));
});

afterAll(async () => {
  await lab?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('check', () => {
  it('exit 0 and a readable verdict for a valid good staple', async () => {
    const r = await run('check', endpoint('good'), '--config.file', configFile, '--module', 'demo');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Staple:\s+VALID, \d+ bytes, issuer from chain$/m);
    expect(r.stdout).toMatch(/^Status:\s+GOOD$/m);
    expect(r.stdout).toMatch(/^Chain:\s+verified \(2 certificates\)$/m);
  });

  it('--handshake native and node: the same verdict, the TLS line names the engine', async () => {
    const native = await run('check', endpoint('good'), '--config.file', configFile, '--module', 'demo', '--handshake', 'native');
    const node = await run('check', endpoint('good'), '--config.file', configFile, '--module', 'demo', '--handshake', 'node');
    expect(native.code).toBe(0);
    expect(native.stdout).toMatch(/^TLS:\s+TLSv1\.3 TLS_\S+, [\d.]+ s, native engine$/m);
    expect(node.stdout).toMatch(/^TLS:\s+TLSv1\.3 TLS_\S+, [\d.]+ s, node engine$/m);
    const withoutTls = (out: string) => out.split('\n').filter((line) => !line.startsWith('TLS:')).join('\n');
    expect(withoutTls(native.stdout)).toBe(withoutTls(node.stdout));
    const bad = await run('check', endpoint('good'), '--config.file', configFile, '--module', 'demo', '--handshake', 'rustls');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown --handshake engine "rustls" (use native or node)');
  });

  it('exit 1 for a missing staple on a Must-Staple certificate, and says so', async () => {
    const r = await run('check', endpoint('must_staple_missing'), '--config.file', configFile, '--module', 'demo');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Must-Staple:\s+yes$/m);
    expect(r.stdout).toMatch(/^Staple:\s+MISSING \(Must-Staple: clients will refuse this server\)$/m);
  });

  it('--json: one array of per-address reports with the staple verdict', async () => {
    const r = await run('check', endpoint('revoked'), '--config.file', configFile, '--module', 'demo', '--json');
    expect(r.code).toBe(1);
    const [report] = JSON.parse(r.stdout);
    expect(report.success).toBe(true);
    expect(report.staplePresent).toBe(true);
    expect(report.staple.valid).toBe(true);
    expect(report.staple.certStatus).toBe('revoked');
    expect(report.staple.revocationReason).toBe('keyCompromise');
    // The parsed response's own fields: the daemon's results drop it, check keeps it.
    expect(report.staple.responseStatus).toBe('successful');
    expect(report.staple.producedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(report.staple.responderId).not.toBeNull();
    expect(report.staple.numSingleResponses).toBe(1);
    expect(report.leaf.mustStaple).toBe(false);
  });

  it('without the CA file the chain is unverified but the staple is still judged (issuer from the chain)', async () => {
    const r = await run('check', endpoint('good'), '--server-name', 'localhost', '--json');
    const [report] = JSON.parse(r.stdout);
    expect(report.chain.verified).toBe(false);
    expect(report.staple.valid).toBe(true);
    expect(r.code).toBe(0);
  });

  it('a closed port is a failed probe (connect), exit 1', async () => {
    const r = await run('check', '127.0.0.1:1', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ success: false, failureReason: 'connect' });
  });

  it('usage errors exit 2 with a message', async () => {
    expect((await run('check')).code).toBe(2);
    const noPort = await run('check', 'example.com');
    expect(noPort.code).toBe(2);
    expect(noPort.stderr).toMatch(/^check: /);
    const unknown = await run('check', endpoint('good'), '--config.file', configFile, '--module', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown module "nope" (defined: default, demo)');
    // An inherited member is no module: it used to run the check with Object.prototype.toString as its module.
    for (const inherited of ['toString', '__proto__', 'constructor']) {
      const r = await run('check', endpoint('good'), '--module', inherited);
      expect(r.code, inherited).toBe(2);
      expect(r.stderr).toContain(`unknown module "${inherited}" (defined: default)`);
    }
  });
});

describe('serve', () => {
  it('--config.check: OK for a valid file, the exact problems and exit 2 for a bad one', async () => {
    const ok = await run('--config.file', configFile, '--config.check');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`${configFile}: OK (1 targets, 2 modules)\n`);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'global:\n  concurency: 3\n');
    const r = await run('--config.file', bad, '--config.check');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:2: global.concurency: unknown key`);
    // A module named __proto__ used to vanish into the table's prototype, and the file checked OK.
    const proto = path.join(dir, 'proto.yaml');
    await writeFile(proto, 'modules:\n  __proto__:\n    timeout: 3s\n');
    const refused = await run('--config.file', proto, '--config.check');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${proto}:2: modules.__proto__: invalid module name "__proto__"`);
  });

  it('bad flags exit 2', async () => {
    expect((await run('--web.listen-address', 'nonsense')).code).toBe(2);
    expect((await run('--log.level', 'loud')).code).toBe(2);
    expect((await run('--no-such-flag')).code).toBe(2);
  });

  describe('as a process', () => {
    let child: ChildProcess;
    let stderr = '';
    let baseUrl: string;
    let serveFile: string;

    beforeAll(async () => {
      serveFile = path.join(dir, 'serve.yaml');
      const file = serveFile;
      await writeFile(file, configYaml([endpoint('good')]));
      child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), '--config.file', file, '--web.listen-address', '127.0.0.1:0', '--log.level', 'warn'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout!.resume();
      const deadline = Date.now() + 20_000;
      while (!/serving (http:\/\/\S+)\/metrics/.test(stderr)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      baseUrl = /serving (http:\/\/\S+)\/metrics/.exec(stderr)![1]!;
    }, 30_000);

    afterAll(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    });

    it('serves /metrics for the configured target', async () => {
      const text = await (await fetch(`${baseUrl}/metrics`)).text();
      const m = parseExposition(text);
      expect(valueOf(m, 'ocsp_staple_valid', { target: endpoint('good') })).toBe(1);
      expect(valueOf(m, 'ocsp_exporter_config_last_reload_successful')).toBe(1);
    });

    it('SIGHUP with a broken file keeps the last good config; a fixed file is picked up', async () => {
      const file = serveFile;
      await writeFile(file, 'targets: [');
      child.kill('SIGHUP');
      await waitForMetric(baseUrl, (m) => valueOf(m, 'ocsp_exporter_config_last_reload_successful') === 0);
      const m = parseExposition(await (await fetch(`${baseUrl}/metrics`)).text());
      expect(valueOf(m, 'ocsp_exporter_targets')).toBe(1);
      expect(valueOf(m, 'ocsp_staple_valid', { target: endpoint('good') })).toBe(1);

      await writeFile(file, configYaml([endpoint('good'), endpoint('expired')]));
      child.kill('SIGHUP');
      await waitForMetric(baseUrl, (m) => valueOf(m, 'ocsp_exporter_config_last_reload_successful') === 1 && valueOf(m, 'ocsp_exporter_targets') === 2);
    });

    it('SIGTERM: exits 0', async () => {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    });
  });
});

async function waitForMetric(baseUrl: string, predicate: (m: ReturnType<typeof parseExposition>) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = parseExposition(await (await fetch(`${baseUrl}/metrics`)).text());
    if (predicate(m)) return;
    if (Date.now() > deadline) throw new Error('metric condition not reached');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('check --query-responder', () => {
  let tlsServer: import('node:tls').Server;
  let httpServer: import('node:http').Server;
  let tlsPort: number;
  let responderUrl: string;
  let requests = 0;

  beforeAll(async () => {
    const tls = await import('node:tls');
    const http = await import('node:http');
    const { makeTestPki, stapleFor } = await import('../helpers/pki.js');
    const pki = await makeTestPki();
    const good = Buffer.from(await stapleFor(pki, pki.leafEcdsa));
    // The CA has revoked the certificate since the server fetched its staple.
    const revoked = Buffer.from(
      await stapleFor(pki, pki.leafEcdsa, { status: 'revoked', revocationTime: new Date(Date.now() - 600_000), revocationReason: 'keyCompromise' }),
    );
    tlsServer = tls.createServer({ cert: pki.leafEcdsa.pem + pki.intermediate.pem, key: pki.leafEcdsa.keyPem });
    tlsServer.on('OCSPRequest', (_c: Buffer, _i: Buffer, cb: (e: Error | null, r?: Buffer) => void) => cb(null, good));
    httpServer = http.createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(revoked);
    });
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    tlsPort = (tlsServer.address() as import('node:net').AddressInfo).port;
    responderUrl = `http://127.0.0.1:${(httpServer.address() as import('node:net').AddressInfo).port}/`;
    await writeFile(path.join(dir, 'root.pem'), pki.root.pem);
    await writeFile(
      path.join(dir, 'responder.yaml'),
      // The test responder is on loopback: responder requests reach it only when allowlisted.
      ['global:', '  responder_allowlist: ["127.0.0.1"]', 'modules:', '  m:', '    server_name: localhost', '    ca_file: root.pem', `    responder_url: "${responderUrl}"`, ''].join('\n'),
    );
  });

  afterAll(async () => {
    await new Promise((r) => tlsServer?.close(r));
    await new Promise((r) => httpServer?.close(r));
  });

  it('shows the CA answer beside the staple and fails when the CA says revoked', async () => {
    const args = ['check', `127.0.0.1:${tlsPort}`, '--config.file', path.join(dir, 'responder.yaml'), '--module', 'm'];
    const plain = await run(...args);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain('Responder:');
    expect(requests).toBe(0);

    const asked = await run(...args, '--query-responder');
    expect(asked.code).toBe(1);
    expect(asked.stdout).toMatch(new RegExp(`^Responder:\\s+REVOKED from ${responderUrl.replace(/[./]/g, '\\$&')} via (GET|POST)`, 'm'));
    expect(asked.stdout).toContain("the staple says good but the CA's responder says revoked");
    expect(requests).toBe(1);

    const json = JSON.parse((await run(...args, '--query-responder', '--json')).stdout)[0];
    expect(json.staple.certStatus).toBe('good');
    expect(json.responder).toMatchObject({ up: true, url: responderUrl });
    expect(json.responder.answer).toMatchObject({ certStatus: 'revoked', revocationReason: 'keyCompromise', valid: true });
  });
});
