/**
 * `--config.auto-reload` on a real file on disk: the watcher (src/config/watch.ts) drives the app's
 * own reload, so metrics and the kept last good config are those of SIGHUP. Each way of changing a
 * file is tried with each mechanism alone: polling the content hash (no directory watch) and the
 * directory watch (polling too slow to matter), so neither hides the other's gaps.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import { watchConfigFile, type ConfigWatcher } from '../../src/config/watch.js';
import { parseServeArgs } from '../../src/commands/serve.js';
import { parseExposition, valueOf } from '../metrics/exposition.js';
import { fakeProbe, until } from '../server/fakes.js';

function yaml(...targets: string[]): string {
  return `global:\n  min_probe_interval: 0s\ntargets:\n${targets.map((t) => `  - ${t}\n`).join('')}`;
}

interface Rig {
  dir: string;
  /** The path given to --config.file. */
  file: string;
  store: ConfigStore;
  app: App;
  watcher: ConfigWatcher;
  reloads: number;
  watchErrors: string[];
}

const rigs: Rig[] = [];

afterEach(async () => {
  for (const rig of rigs.splice(0)) {
    rig.watcher.close();
    await rig.app.close();
    rmSync(rig.dir, { recursive: true, force: true });
  }
});

type Mode = { name: string; watchDirectory: boolean; intervalMs: number };
const MODES: Mode[] = [
  { name: 'polling the content hash', watchDirectory: false, intervalMs: 40 },
  { name: 'watching the directory', watchDirectory: true, intervalMs: 600_000 },
];

/** `layout` writes the initial file(s) into `dir` and returns the path to load. */
function start(mode: Mode, layout: (dir: string) => string = (dir) => writeConfig(join(dir, 'config.yaml'), yaml('a.example.test:443'))): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'ocsp-auto-reload-'));
  const file = layout(dir);
  const store = new ConfigStore(loadConfigFile(file), () => loadConfigFile(file));
  const app = buildApp({ store, probe: fakeProbe().probe, logLevel: 'silent', processMetrics: false });
  const rig = { dir, file, store, app, reloads: 0, watchErrors: [] as string[] } as Rig;
  rig.watcher = watchConfigFile({
    file,
    intervalMs: mode.intervalMs,
    debounceMs: 20,
    watchDirectory: mode.watchDirectory,
    onChange: () => {
      rig.reloads++;
      app.reloadConfig();
    },
    onWatchError: (message) => rig.watchErrors.push(message),
  });
  rigs.push(rig);
  return rig;
}

function writeConfig(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

function targetsOf(rig: Rig): string[] {
  return rig.store.current.targets.map((t) => t.target);
}

async function reloadMetric(rig: Rig): Promise<number | undefined> {
  const res = await rig.app.server.inject('/metrics');
  return valueOf(parseExposition(res.body), 'ocsp_exporter_config_last_reload_successful');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe.each(MODES)('auto-reload by $name', (mode) => {
  it('reloads an edited file', async () => {
    const rig = start(mode);
    writeFileSync(rig.file, yaml('a.example.test:443', 'b.example.test:443'));
    await until(() => targetsOf(rig).length === 2, 'the edited file loaded');
    expect(targetsOf(rig)).toEqual(['a.example.test:443', 'b.example.test:443']);
    expect(rig.reloads).toBe(1);
    expect(await reloadMetric(rig)).toBe(1);
    expect(rig.watchErrors).toEqual([]);
  });

  it('keeps the last good config on a broken edit, with the reload metric at 0, and loads the fix', async () => {
    const rig = start(mode);
    writeFileSync(rig.file, yaml('not a target'));
    await until(() => !rig.store.lastReloadSuccessful, 'the broken edit noticed');
    expect(targetsOf(rig)).toEqual(['a.example.test:443']);
    expect(await reloadMetric(rig)).toBe(0);
    expect(rig.store.lastReloadFailure?.message).toContain('targets[0]');
    writeFileSync(rig.file, yaml('c.example.test:443'));
    await until(() => rig.store.lastReloadSuccessful, 'the fixed file loaded');
    expect(targetsOf(rig)).toEqual(['c.example.test:443']);
    expect(await reloadMetric(rig)).toBe(1);
  });

  it("follows an editor's write-to-temp-and-rename", async () => {
    const rig = start(mode);
    const temp = join(rig.dir, '.config.yaml.swp');
    writeFileSync(temp, yaml('renamed.example.test:443'));
    renameSync(temp, rig.file);
    await until(() => targetsOf(rig)[0] === 'renamed.example.test:443', 'the renamed file loaded');
    expect(rig.reloads).toBe(1);
  });

  it("follows a Kubernetes ConfigMap's ..data symlink swap", async () => {
    // The kubelet's layout: config.yaml → ..data/config.yaml, ..data → ..<timestamp>/, swapped by a rename of a new symlink.
    const rig = start(mode, (dir) => {
      mkdirSync(join(dir, '..2026_12_02_10_00_00.1'));
      writeConfig(join(dir, '..2026_12_02_10_00_00.1', 'config.yaml'), yaml('first.example.test:443'));
      symlinkSync('..2026_12_02_10_00_00.1', join(dir, '..data'));
      symlinkSync(join('..data', 'config.yaml'), join(dir, 'config.yaml'));
      return join(dir, 'config.yaml');
    });
    expect(targetsOf(rig)).toEqual(['first.example.test:443']);
    mkdirSync(join(rig.dir, '..2026_12_02_10_05_00.2'));
    writeConfig(join(rig.dir, '..2026_12_02_10_05_00.2', 'config.yaml'), yaml('second.example.test:443'));
    symlinkSync('..2026_12_02_10_05_00.2', join(rig.dir, '..data_tmp'));
    renameSync(join(rig.dir, '..data_tmp'), join(rig.dir, '..data'));
    rmSync(join(rig.dir, '..2026_12_02_10_00_00.1'), { recursive: true });
    await until(() => targetsOf(rig)[0] === 'second.example.test:443', 'the swapped ConfigMap loaded');
    expect(rig.reloads).toBe(1);
    expect(await reloadMetric(rig)).toBe(1);
  });

  it('does not reload a file whose bytes did not change: a touch, the same text written again or renamed over it', async () => {
    const rig = start(mode);
    const text = readFileSync(rig.file, 'utf8');
    await sleep(150);
    utimesSync(rig.file, new Date(), new Date(Date.now() + 5_000));
    writeFileSync(rig.file, text);
    writeFileSync(join(rig.dir, 'tmp'), text);
    renameSync(join(rig.dir, 'tmp'), rig.file);
    // A sibling file changing is no change either.
    writeFileSync(join(rig.dir, 'other.yaml'), 'x: 1\n');
    await sleep(250);
    rig.watcher.check();
    expect(rig.reloads).toBe(0);
  });
});

describe('auto-reload lifecycle', () => {
  it('a file missing for a moment is looked at again before it counts; one that stays missing is a failed reload', async () => {
    const rig = start(MODES[0]!);
    rmSync(rig.file);
    rig.watcher.check();
    expect(rig.reloads).toBe(0);
    await until(() => rig.reloads === 1, 'the missing file reported');
    expect(rig.store.lastReloadSuccessful).toBe(false);
    expect(rig.store.lastReloadFailure?.message).toContain('cannot read the config file');
    expect(targetsOf(rig)).toEqual(['a.example.test:443']);
  });

  it('a throwing listener is a warning, and polling goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocsp-auto-reload-throw-'));
    const file = writeConfig(join(dir, 'config.yaml'), yaml('a.example.test:443'));
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    let calls = 0;
    const watcher = watchConfigFile({
      file,
      intervalMs: 30,
      watchDirectory: false,
      onChange: () => {
        calls++;
        throw new Error('listener broke');
      },
    });
    try {
      writeFileSync(file, yaml('b.example.test:443'));
      await eventually(() => calls === 1, 'the first change', 5_000);
      writeFileSync(file, yaml('c.example.test:443'));
      await eventually(() => calls === 2, 'the second change, polled after the throw', 5_000);
      await eventually(() => warnings.length === 2, 'both warnings', 5_000);
      expect(warnings[0]).toBe('config auto-reload: the change listener failed: listener broke');
    } finally {
      watcher.close();
      process.off('warning', onWarning);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops on close: nothing fires afterwards, by poll or by directory event', async () => {
    const rig = start({ name: 'both', watchDirectory: true, intervalMs: 20 });
    rig.watcher.close();
    writeFileSync(rig.file, yaml('after-close.example.test:443'));
    await sleep(200);
    expect(rig.reloads).toBe(0);
    expect(targetsOf(rig)).toEqual(['a.example.test:443']);
  });

  it('holds the process open neither while running nor after close', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocsp-auto-reload-exit-'));
    try {
      const file = writeConfig(join(dir, 'config.yaml'), yaml('a.example.test:443'));
      const script = `
        import { watchConfigFile } from ${JSON.stringify(new URL('../../src/config/watch.ts', import.meta.url).href)};
        const open = watchConfigFile({ file: ${JSON.stringify(file)}, intervalMs: 50, debounceMs: 10, onChange() {} });
        const closed = watchConfigFile({ file: ${JSON.stringify(file)}, intervalMs: 50, onChange() {} });
        closed.close();
        open.check();
        console.log('started');
      `;
      const started = Date.now();
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('started');
      expect(run.status).toBe(0);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('serve --config.auto-reload', () => {
  it('parses the flags: off by default, 30s, bounds and the flags it needs', () => {
    const base = { 'config.file': '/etc/x.yml' };
    expect(parseServeArgs(base)).toMatchObject({ configAutoReload: false, configAutoReloadIntervalSeconds: 30 });
    expect(parseServeArgs({ ...base, 'config.auto-reload': true, 'config.auto-reload-interval': '1m30s' })).toMatchObject({ configAutoReload: true, configAutoReloadIntervalSeconds: 90 });
    expect(() => parseServeArgs({ ...base, 'config.auto-reload': true, 'config.auto-reload-interval': '500ms' })).toThrow(
      '--config.auto-reload-interval: expected a duration from 1s to 1d (e.g. 30s, 2m), got "500ms"',
    );
    expect(() => parseServeArgs({ ...base, 'config.auto-reload': true, 'config.auto-reload-interval': '30' })).toThrow('got "30"');
    expect(() => parseServeArgs({ ...base, 'config.auto-reload-interval': '10s' })).toThrow('--config.auto-reload-interval has no effect without --config.auto-reload');
    expect(() => parseServeArgs({ 'config.auto-reload': true })).toThrow('--config.auto-reload needs --config.file FILE');
  });

  describe('as a process', () => {
    let dir: string;
    let child: ChildProcess;
    let stdout = '';
    let stderr = '';
    let baseUrl: string;

    afterEach(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('reloads an edited file with the log lines and metrics of SIGHUP; a broken edit keeps the last good one', async () => {
      dir = mkdtempSync(join(tmpdir(), 'ocsp-auto-reload-serve-'));
      const file = writeConfig(join(dir, 'config.yaml'), 'global:\n  concurrency: 3\n');
      const args = ['--import', 'tsx', 'src/cli.ts', 'serve', '--config.file', file, '--config.auto-reload', '--config.auto-reload-interval', '1s'];
      child = spawn(process.execPath, [...args, '--probe.workers', '0', '--web.listen-address', '127.0.0.1:0'], { cwd: new URL('../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await eventually(() => /serving (http:\/\/\S+)\/metrics/.test(stderr) || child.exitCode !== null, 'serve started', 20_000);
      baseUrl = /serving (http:\/\/\S+)\/metrics/.exec(stderr)![1]!;
      const metric = async (name: string) => valueOf(parseExposition(await (await fetch(`${baseUrl}/metrics`)).text()), name);
      expect(await metric('ocsp_exporter_targets')).toBe(0);

      writeFileSync(file, 'global:\n  concurrency: 3\ntargets: [127.0.0.1:1]\n');
      await eventually(() => stdout.includes('"msg":"configuration reloaded"'), 'the reload logged', 10_000);
      expect(stdout).toContain('"msg":"config file changed; reloading"');
      expect(await metric('ocsp_exporter_targets')).toBe(1);
      expect(await metric('ocsp_exporter_config_last_reload_successful')).toBe(1);
      expect(await (await fetch(`${baseUrl}/config`)).text()).toContain('- target: 127.0.0.1:1');

      writeFileSync(file, 'targets: [\n');
      await eventually(() => stdout.includes('configuration reload failed; keeping the last good configuration'), 'the failure logged', 10_000);
      expect(await metric('ocsp_exporter_config_last_reload_successful')).toBe(0);
      expect(await metric('ocsp_exporter_targets')).toBe(1);
      expect(await (await fetch(`${baseUrl}/config`)).text()).toMatch(/^# last reload failed at \S+ \(the configuration below is the last good one\): .*invalid YAML/m);

      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    }, 40_000);
  });
});
