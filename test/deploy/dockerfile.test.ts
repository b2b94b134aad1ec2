/**
 * The Dockerfile without a Docker engine: linted offline (dockerfile-utils, the linter behind the
 * VS Code Docker extension), checked for the properties we promise (multi-stage, slim LTS Node
 * base, non-root numeric user, port 9858, exec-form node entrypoint, OCI labels, health check,
 * .dockerignore), and replayed: every stage's COPY and RUN steps run in temp directories exactly
 * as written (npm from the local cache), then the final stage's ENTRYPOINT + CMD starts the
 * exporter, which is scraped on /-/healthy and /metrics while it probes a loopback TLS server.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate } from 'dockerfile-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestPki, stapleFor } from '../helpers/pki.js';
import * as H from '../hardening/hostile.js';
import { execForm, keyValues, readDockerfile, type Stage } from './dockerfile.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readDockerfile(join(ROOT, 'Dockerfile'));
const finalStage = dockerfile.stages[dockerfile.stages.length - 1]!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

describe('Dockerfile lint and shape', () => {
  it('has no lint findings', () => {
    expect(validate(dockerfile.text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('builds in one stage and runs from a clean one, on a slim LTS Node image', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['build', 'deps', '#2']);
    const nodeImage = dockerfile.preamble.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='))?.args.split('=')[1];
    expect(nodeImage).toMatch(/^node:(22|24)-(bookworm-|trixie-)?slim$/);
    expect(dockerfile.stages.every((s) => s.image === '${NODE_IMAGE}')).toBe(true);
    const runs = (name: string) => all(dockerfile.stages.find((s) => s.name === name)!, 'RUN').map((i) => i.args);
    expect(runs('build')).toEqual(['npm ci --ignore-scripts --no-audit --no-fund', 'npm run build']);
    expect(runs('deps')).toEqual(['npm ci --omit=dev --ignore-scripts --no-audit --no-fund']);
    // The final stage installs nothing and compiles nothing: it only copies.
    expect(all(finalStage, 'RUN')).toEqual([]);
  });

  it('runs as a non-root numeric user, exposes 9858, starts node directly in exec form', () => {
    expect(all(finalStage, 'USER').map((i) => i.args)).toEqual(['1000:1000']);
    expect(all(finalStage, 'EXPOSE').map((i) => i.args)).toEqual(['9858']);
    expect(execForm(all(finalStage, 'ENTRYPOINT')[0]!.args)).toEqual(['node', 'dist/cli.js']);
    expect(execForm(all(finalStage, 'CMD')[0]!.args)).toEqual([
      'serve',
      '--config.file=/etc/ocsp-stapling-exporter/config.yaml',
      '--web.listen-address=:9858',
    ]);
    const health = all(finalStage, 'HEALTHCHECK')[0]!.args;
    expect(health).toContain('http://127.0.0.1:9858/-/healthy');
  });

  it('carries OCI labels', () => {
    const labels = keyValues(all(finalStage, 'LABEL').map((i) => i.args).join(' '));
    expect(Object.keys(labels).sort()).toEqual(
      [
        'org.opencontainers.image.base.name',
        'org.opencontainers.image.description',
        'org.opencontainers.image.licenses',
        'org.opencontainers.image.revision',
        'org.opencontainers.image.title',
        'org.opencontainers.image.version',
      ].sort(),
    );
    expect(labels['org.opencontainers.image.licenses']).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).license);
  });

  it('.dockerignore lets in exactly what the Dockerfile copies from the context', () => {
    const allowed = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const copied = dockerfile.stages.flatMap((s) =>
      all(s, 'COPY')
        .filter((i) => !i.args.startsWith('--from='))
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1).map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))),
    );
    expect([...new Set(copied)].sort()).toEqual([...allowed].sort());
    expect(readFileSync(join(ROOT, '.dockerignore'), 'utf8')).toMatch(/^\*$/m);
  });
});

describe('the Dockerfile replayed without Docker', () => {
  const work = mkdtempSync(join(tmpdir(), 'ocsp-exporter-docker-'));
  afterAll(async () => {
    await H.closeAll();
    rmSync(work, { recursive: true, force: true });
  });

  /** Each stage's WORKDIR maps to its own temp directory. */
  const stageDirs = new Map<string, { dir: string; workdir: string }>();
  const toHost = (stageName: string, containerPath: string): string => {
    const stage = stageDirs.get(stageName)!;
    return isAbsolute(containerPath) ? join(stage.dir, relative(stage.workdir, containerPath)) : join(stage.dir, containerPath);
  };

  it('every stage runs as written: npm ci, build, production-only install, copies', () => {
    const env = { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' };
    for (const stage of dockerfile.stages) {
      const dir = join(work, stage.name.replace('#', 'stage'));
      mkdirSync(dir, { recursive: true });
      stageDirs.set(stage.name, { dir, workdir: '/' });
      for (const { keyword, args } of stage.instructions) {
        if (keyword === 'WORKDIR') stageDirs.get(stage.name)!.workdir = args;
        else if (keyword === 'COPY') {
          const from = /^--from=(\S+)\s+/.exec(args);
          const parts = (from ? args.slice(from[0].length) : args).split(/\s+/);
          const dest = toHost(stage.name, parts.pop()!);
          for (const source of parts) {
            const origin = from ? toHost(from[1]!, source) : join(ROOT, source);
            const target = dest.endsWith('/') || parts.length > 1 ? join(dest, source.split('/').filter(Boolean).pop()!) : dest;
            cpSync(origin, target, { recursive: true });
          }
        } else if (keyword === 'RUN') {
          const result = spawnSync('sh', ['-c', args], { cwd: dir, env, encoding: 'utf8', timeout: 240_000 });
          expect(result.status, `${stage.name}: RUN ${args}\n${result.stderr}`).toBe(0);
        }
      }
    }
    const final = stageDirs.get(finalStage.name)!.dir;
    expect(existsSync(join(final, 'dist/cli.js'))).toBe(true);
    expect(existsSync(join(final, 'node_modules/fastify/package.json'))).toBe(true);
    // No build tools or test runners in the runtime image.
    for (const dev of ['typescript', 'vitest', 'tsx', 'dockerfile-utils']) expect(existsSync(join(final, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(final, 'src'))).toBe(false);
  }, 300_000);

  it('ENTRYPOINT + CMD start the exporter: /-/healthy and /metrics answer, a loopback target is probed', async () => {
    const final = stageDirs.get(finalStage.name)?.dir;
    expect(final, 'the previous test builds the stages').toBeDefined();
    const pki = await makeTestPki();
    const server = await H.stapleServer({ key: pki.leafEcdsa.keyPem, cert: H.chainPem(pki.leafEcdsa), staple: await stapleFor(pki, pki.leafEcdsa) });
    const config = join(work, 'config.yaml');
    writeFileSync(config, `global:\n  concurrency: 4\ntargets:\n  - target: 127.0.0.1:${server.port}\n    server_name: localhost\n`);
    // The image's command with the two paths a test cannot use: the config in /etc and port 9858.
    const argv = [...execForm(all(finalStage, 'ENTRYPOINT')[0]!.args)!, ...execForm(all(finalStage, 'CMD')[0]!.args)!].map((a) =>
      a.startsWith('--config.file=') ? `--config.file=${config}` : a.startsWith('--web.listen-address=') ? '--web.listen-address=127.0.0.1:0' : a,
    );
    expect(argv[0]).toBe('node');
    const env = { ...process.env, ...keyValues(all(finalStage, 'ENV').map((i) => i.args).join(' ')) };
    const child = spawn(process.execPath, argv.slice(1), { cwd: final, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let url: string | undefined;
      for (const deadline = Date.now() + 20_000; !url && Date.now() < deadline; ) {
        url = /serving (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(stderr)?.[1];
        if (!url) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(url, stderr).toBeDefined();
      const fetchText = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          get(`${url}${path}`, (response) => {
            let body = '';
            response.on('data', (c: Buffer) => (body += c.toString()));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          }).on('error', reject);
        });
      expect(await fetchText('/-/healthy')).toEqual({ status: 200, body: 'Healthy' });
      const metrics = await fetchText('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/^ocsp_exporter_build_info\{version="\d+\.\d+\.\d+[^"]*",nodejs_version="v\d+/m);
      expect(metrics.body).toMatch(new RegExp(`^ocsp_probe_success\\{[^}]*target="127\\.0\\.0\\.1:${server.port}"[^}]*\\} 1$`, 'm'));
      expect(metrics.body).toMatch(new RegExp(`^ocsp_staple_valid\\{[^}]*target="127\\.0\\.0\\.1:${server.port}"[^}]*\\} 1$`, 'm'));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});
