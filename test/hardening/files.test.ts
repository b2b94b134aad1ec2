/**
 * The files the exporter is pointed at are read with a hard cap and only when they are regular
 * files: a config symlinked to /dev/zero, a FIFO, or a huge file fails at once with an error
 * naming the path, instead of filling memory or blocking the event loop.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile } from '../../src/config/load.js';
import { MAX_CONFIG_FILE_BYTES } from '../../src/config/walker.js';
import { loadWebConfigFile } from '../../src/server/webconfig.js';
import { FileTooLargeError, NotRegularFileError, readFileCapped } from '../../src/util/files.js';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = ['--import', 'tsx', path.join(ROOT, 'src/cli.ts')];

let dir: string;
let zeroLink: string;
let fifo: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ocsp-exporter-files-'));
  zeroLink = path.join(dir, 'zero.yaml');
  symlinkSync('/dev/zero', zeroLink);
  fifo = path.join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

async function inspect(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await main(['inspect', ...args], { stdout: () => undefined, stderr: (t) => void (stderr += t) });
  return { code, stderr };
}

describe('capped reading of regular files only', () => {
  it('refuses a symlink to /dev/zero before reading anything', () => {
    const started = performance.now();
    const error = thrown(() => readFileCapped(zeroLink, MAX_CONFIG_FILE_BYTES));
    expect(error).toBeInstanceOf(NotRegularFileError);
    expect((error as Error).message).toBe('not a regular file (a character device)');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a config symlinked to /dev/zero is a clear config error, quickly', () => {
    const started = performance.now();
    const error = thrown(() => loadConfigFile(zeroLink));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`${zeroLink}: cannot read the config file: not a regular file (a character device)`);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a FIFO as config is refused without blocking (in-process: opening never waits for a writer)', () => {
    const error = thrown(() => loadConfigFile(fifo));
    expect((error as Error).message).toBe(`${fifo}: cannot read the config file: not a regular file (a FIFO)`);
  });

  it('a FIFO as config or web config fails --config.check in a real process, within a bound', async () => {
    // A child process, so a blocking open would be killed by the timeout instead of hanging the test worker.
    const config = path.join(dir, 'ok.yaml');
    writeFileSync(config, 'targets: []\n');
    for (const args of [['--config.file', fifo], ['--config.file', config, '--web.config.file', fifo]]) {
      const run = execFileAsync(process.execPath, [...CLI, ...args, '--config.check'], { cwd: ROOT, timeout: 30_000 });
      const error = (await run.then(
        () => {
          throw new Error('expected --config.check to fail');
        },
        (e: unknown) => e,
      )) as { code: number | null; killed: boolean; stderr: string };
      expect(error.killed, args.join(' ')).toBe(false);
      expect(error.code).not.toBe(0);
      expect(error.stderr).toContain('not a regular file (a FIFO)');
    }
  }, 70_000);

  it('a web config file over the cap is refused with the limit named', () => {
    const big = path.join(dir, 'web-big.yml');
    writeFileSync(big, `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`);
    const error = thrown(() => loadWebConfigFile(big));
    expect((error as Error).message).toBe(`cannot read web config file ${big}: larger than 10 MiB`);
    expect(thrown(() => readFileCapped(big, MAX_CONFIG_FILE_BYTES))).toBeInstanceOf(FileTooLargeError);
  });

  it('a web config whose TLS key file is /dev/zero names the file and why', () => {
    const web = path.join(dir, 'web.yml');
    writeFileSync(web, `tls_server_config:\n  cert_file: ${zeroLink}\n  key_file: /dev/zero\n`);
    const error = thrown(() => loadWebConfigFile(web));
    expect((error as Error).message).toContain('not a regular file (a character device)');
    expect((error as Error).message).toContain('/dev/zero');
  });

  it('inspect --response /dev/zero (or a FIFO) exits 2 with a clear error', async () => {
    const started = performance.now();
    const zero = await inspect('--response', '/dev/zero');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--response /dev/zero: not a regular file (a character device)');
    const pipe = await inspect('--response', fifo);
    expect(pipe.code).toBe(2);
    expect(pipe.stderr).toContain(`--response ${fifo}: not a regular file (a FIFO); use - to read standard input`);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('inspect takes - for one input only (standard input is read once)', async () => {
    const run = await inspect('--response', '-', '--cert', '-');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('only one of --response, --cert and --issuer can be - (standard input)');
  });

  it('inspect --response - reads a pipe on standard input, capped', async () => {
    const run = (input: Buffer) =>
      new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = execFile(process.execPath, [...CLI, 'inspect', '--response', '-'], { cwd: ROOT, timeout: 30_000, maxBuffer: 1 << 20 }, (error, _stdout, stderr) => {
          if (error && (error as { killed?: boolean }).killed) reject(new Error('inspect - timed out'));
          else resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr });
        });
        child.stdin!.on('error', () => undefined);
        child.stdin!.end(input);
      });
    // Junk is read and judged as a response: a decoding error, not a file error.
    const junk = await run(Buffer.from('not an OCSP response\n'));
    expect(junk.code).toBe(2);
    expect(junk.stderr).not.toContain('cannot read file');
    expect(junk.stderr).not.toContain('--response -:');
    const huge = await run(Buffer.alloc(MAX_CONFIG_FILE_BYTES + 1, 0x41));
    expect(huge.code).toBe(2);
    expect(huge.stderr).toContain('--response -: larger than 10 MiB');
  }, 70_000);
});
