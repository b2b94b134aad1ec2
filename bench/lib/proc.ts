/**
 * What a process costs, read from /proc (Linux): CPU seconds of all its threads (worker threads
 * included), resident memory now and at its peak (VmHWM). Used for the exporter, blackbox_exporter
 * and nginx alike, so every contender is measured the same way from outside.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/** utime + stime of the process (all threads), seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after it are counted from its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
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
