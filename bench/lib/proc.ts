/**
 * What a process costs, read from /proc (Linux): CPU seconds of all its threads (worker threads
 * included), resident memory now and at its peak (VmHWM). Used for the exporter, blackbox_exporter
 * and nginx alike, so every contender is measured the same way from outside.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** USER_HZ, the unit of the CPU times in /proc/<pid>/stat (proc(5)), as `getconf CLK_TCK` reports it. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    let text: string;
    try {
      text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim();
    } catch (error) {
      throw new Error(`cannot read the clock tick with \`getconf CLK_TCK\` (Debian package libc-bin): ${(error as Error).message}`);
    }
    const ticks = Number(text);
    if (!Number.isInteger(ticks) || ticks <= 0) throw new Error(`\`getconf CLK_TCK\` printed ${JSON.stringify(text.slice(0, 40))}, not a positive integer`);
    ticksPerSecond = ticks;
  }
  return ticksPerSecond;
}

/** The fields of /proc/<pid>/stat after the command name, or null when the process is gone. */
function statFields(pid: number): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return null;
    throw error;
  }
  // The command name (field 2) may contain spaces and ')'; fields after it are counted from the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function mustStatFields(pid: number): string[] {
  const fields = statFields(pid);
  if (!fields) throw new Error(`process ${pid} is gone (no /proc/${pid}/stat)`);
  return fields;
}

// Indexes after the command name: field 3 (state) is 0, so utime (14) is 11, stime 12, cutime 13, cstime 14.
const UTIME = 11;
const STIME = 12;
const CUTIME = 13;
const CSTIME = 14;

const ticksOf = (fields: string[], ...indexes: number[]): number => indexes.reduce((sum, i) => sum + Number(fields[i]), 0);

/** utime + stime of the process (all threads), seconds. */
export function cpuSeconds(pid: number): number {
  return ticksOf(mustStatFields(pid), UTIME, STIME) / clockTicksPerSecond();
}

/**
 * PIDs of the direct children of `pid`. Its main task's `children` file (proc(5)) lists the children
 * of that thread, all of them for a single-threaded parent like nginx's master; kernels without
 * CONFIG_PROC_CHILDREN get a scan of /proc for PPid.
 */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    const children: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      if (Number(statFields(Number(entry))?.[1]) === pid) children.push(Number(entry));
    }
    return children;
  }
}

/**
 * CPU seconds of a process and its children, the way nginx's master and its workers cost: the
 * parent's utime + stime, the children it has reaped (cutime + cstime: a replaced worker's whole
 * time lands there when the master waits for it), and its live children's utime + stime. The
 * difference of two readings is what the whole tree spent between them, even when a child died
 * and was replaced in between. A child reaped after its own time was read would count twice (live
 * and reaped), so the reading is retried until the parent's reaped time stays put around it.
 */
export function treeCpuSeconds(pid: number): number {
  for (let attempt = 0; ; attempt++) {
    const before = mustStatFields(pid);
    let children = 0;
    for (const child of childPids(pid)) {
      const fields = statFields(child);
      if (fields) children += ticksOf(fields, UTIME, STIME);
    }
    const after = mustStatFields(pid);
    if (ticksOf(before, CUTIME, CSTIME) === ticksOf(after, CUTIME, CSTIME) || attempt === 4) {
      return (ticksOf(after, UTIME, STIME, CUTIME, CSTIME) + children) / clockTicksPerSecond();
    }
  }
}

function statusKb(pid: number, key: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no ${key}`);
  return Number(match[1]) * 1024;
}

/** Resident set size now, bytes. */
export function rssBytes(pid: number): number {
  return statusKb(pid, 'VmRSS');
}

/** Peak resident set size since the process started, bytes. */
export function peakRssBytes(pid: number): number {
  return statusKb(pid, 'VmHWM');
}
