/**
 * X25519 key shares under garbage-collection pressure. In Node 20 a key-pair generation job's
 * finalizer locks the generated key's mutex, and KeyObject.export() holds that mutex while it
 * allocates: a collection inside the export deadlocks the thread (a probe worker then hangs for
 * good, and with it every scrape waiting on its probes). key-exchange.ts takes the public key from
 * the generation itself. This runs the key shares in a child process with a 1 MB young generation,
 * so collections land inside the crypto calls, and fails (rather than hangs) if it stops.
 * Measured before the fix: four runs of four stuck within the 6 s; after it, ~160,000 shares each.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./fixtures/key-share-loop.ts', import.meta.url));
const SECONDS = 6;
const LIMIT_MS = 40_000;

function runLoop(): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', script, String(SECONDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL'); // a thread stuck on a mutex ignores anything gentler
    }, LIMIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

describe('X25519 key shares never deadlock under garbage collection', () => {
  it(`${SECONDS} s of key shares and secrets with a 1 MB young generation: the loop finishes`, async () => {
    const run = await runLoop();
    expect(run.killed, `stuck (a deadlock) after ${LIMIT_MS} ms; stderr: ${run.stderr}`).toBe(false);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^done \d+\n$/);
    expect(Number(run.stdout.split(' ')[1])).toBeGreaterThan(10_000);
  }, LIMIT_MS + 10_000);
});
