/**
 * Lifecycle of the lab's long-running children (openssl responder, nginx, HAProxy, Apache). Each
 * child is spawned in its own process group so stopping it also stops its workers (nginx and
 * Apache fork), its output is kept (capped) for error messages, and every live group is killed
 * from a process 'exit'/signal hook, so neither a failing test nor an aborted run leaves servers
 * behind. Children are unref'd: they never keep the test process alive on their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const OUTPUT_CAP = 64 * 1024;

export interface SpawnOptions {
  /** Short label used in messages, e.g. `nginx`. */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Log files whose tails belong in diagnostics (error logs the server writes itself). */
  logFiles?: readonly string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ManagedProcess>();

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  private readonly child: ChildProcess;
  private readonly logFiles: readonly string[];
  private output = '';
  private exit: ExitInfo | null = null;

  constructor(options: SpawnOptions) {
    installExitHooks();
    this.name = options.name;
    this.logFiles = options.logFiles ?? [];
    this.child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true, // own process group: kill(-pid) reaches forked workers too
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) {
      // spawn failed synchronously (ENOENT is reported through 'error' below)
      this.pid = -1;
    } else {
      this.pid = this.child.pid;
    }
    const append = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      if (this.output.length > OUTPUT_CAP) this.output = this.output.slice(-OUTPUT_CAP);
    };
    this.child.stdout?.on('data', append);
    this.child.stderr?.on('data', append);
    this.exited = new Promise((resolve) => {
      const done = (info: ExitInfo): void => {
        if (this.exit !== null) return;
        this.exit = info;
        live.delete(this);
        resolve(info);
      };
      this.child.once('exit', (code, signal) => done({ code, signal }));
      this.child.once('error', (error) => {
        append(Buffer.from(`spawn error: ${error.message}\n`));
        done({ code: null, signal: null });
      });
    });
    this.child.unref();
    (this.child.stdout as { unref?: () => void } | null)?.unref?.();
    (this.child.stderr as { unref?: () => void } | null)?.unref?.();
    live.add(this);
  }

  /** Exit status once exited, else null. */
  get exitInfo(): ExitInfo | null {
    return this.exit;
  }

  /** Everything the process wrote to stdout/stderr so far (last 64 KiB). */
  get capturedOutput(): string {
    return this.output;
  }

  /** Output plus the tail of each log file: what to show when something went wrong. */
  diagnostics(): string {
    const parts = [`--- ${this.name} (pid ${this.pid}) output ---\n${this.output || '(none)'}`];
    if (this.exit) parts.push(`--- exited: code ${this.exit.code}, signal ${this.exit.signal} ---`);
    for (const file of this.logFiles) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8').slice(-8192);
      } catch (error) {
        text = `(unreadable: ${(error as Error).message})`;
      }
      parts.push(`--- ${file} ---\n${text || '(empty)'}`);
    }
    return parts.join('\n');
  }

  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exit !== null || this.pid < 0) return;
    signalGroup(this.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    // Workers that outlived their master (should not happen) go too.
    signalGroup(this.pid, 'SIGKILL');
  }

  /** Immediate SIGKILL to the group (used to simulate a crashed responder, and by exit hooks). */
  killNow(): void {
    if (this.pid > 0) signalGroup(this.pid, 'SIGKILL');
  }
}

/** Spawns a managed child; see ManagedProcess. */
export function spawnManaged(options: SpawnOptions): ManagedProcess {
  return new ManagedProcess(options);
}

/** Number of lab processes still running (tests assert it drops to zero). */
export function liveProcessCount(): number {
  return live.size;
}

/** Stops every live lab process (afterAll safety net). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

let hooksInstalled = false;
const exitCallbacks: Array<() => void> = [];

/**
 * Registers synchronous cleanup (e.g. removing a lab directory) to run when the test process
 * exits or is killed by SIGINT/SIGTERM/SIGHUP, after the lab's children were killed.
 */
export function atLabExit(callback: () => void): void {
  installExitHooks();
  exitCallbacks.push(callback);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = (): void => {
    for (const p of live) p.killNow();
    for (const callback of exitCallbacks.splice(0)) {
      try {
        callback();
      } catch {
        // best effort while exiting
      }
    }
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // Re-raise so the default action (exit) still happens once our listener is gone.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** PIDs whose parent is `pid` (Linux /proc), e.g. nginx's or Apache's workers. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.ppid === pid) children.push(Number(entry));
  }
  return children;
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

function readStat(pid: number): { state: string; ppid: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]) };
}
