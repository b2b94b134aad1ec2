/**
 * Where the real servers and tools live, and what to do when one is missing. Outside CI a missing
 * server makes its test file skip with a loud message naming the Debian package to install; with
 * `CI=true` a missing binary is a failure, because CI is supposed to install all of them
 * (see .ci/run) and a silently skipped end-to-end suite proves nothing.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { LabError } from './errors.js';

export type LabTool = 'openssl' | 'nginx' | 'haproxy' | 'apache2' | 'faketime' | 'gnutls-serv' | 'unshare' | 'ip' | 'java' | 'javac' | 'caddy' | 'selfserv' | 'certutil' | 'pk12util';

/** The Debian 12 package that provides each tool. */
export const DEBIAN_PACKAGE: Readonly<Record<LabTool, string>> = {
  openssl: 'openssl',
  nginx: 'nginx',
  haproxy: 'haproxy',
  apache2: 'apache2',
  faketime: 'faketime',
  'gnutls-serv': 'gnutls-bin',
  unshare: 'util-linux',
  ip: 'iproute2',
  java: 'openjdk-17-jdk-headless',
  javac: 'openjdk-17-jdk-headless',
  caddy: 'caddy',
  selfserv: 'libnss3-tools',
  certutil: 'libnss3-tools',
  pk12util: 'libnss3-tools',
};

// Servers live in /usr/sbin, which a non-root PATH often lacks.
const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

const cache = new Map<LabTool, string | null>();

/** Absolute path of the tool's executable, or null when it is not installed. */
export function findBinary(tool: LabTool): string | null {
  const cached = cache.get(tool);
  if (cached !== undefined) return cached;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  let found: string | null = null;
  for (const dir of dirs) {
    const candidate = path.join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      found = candidate;
      break;
    } catch {
      // not here
    }
  }
  cache.set(tool, found);
  return found;
}

/** Where Debian's faketime package puts libfaketime (per architecture). */
const LIBFAKETIME_DIRS = ['/usr/lib/x86_64-linux-gnu/faketime', '/usr/lib/aarch64-linux-gnu/faketime', '/usr/lib/faketime'];

/**
 * The environment that runs a program under libfaketime with its clock at `spec` (libfaketime's
 * FAKETIME syntax: `@2026-11-02 17:13:47` starts the clock there and lets it run, `-9000` runs it
 * that many seconds behind). The library is preloaded directly, not through the `faketime`
 * wrapper: the wrapper creates a semaphore named after its own pid with O_EXCL and leaves it behind
 * when it is killed, so a later wrapper that gets the same pid fails ("sem_open: File exists").
 * `multiThreaded` picks the thread-safe build for servers with threads. TZ=UTC because libfaketime
 * reads an absolute time as local time.
 */
export function fakeTimeEnv(spec: string, options: { multiThreaded?: boolean } = {}): NodeJS.ProcessEnv {
  const file = options.multiThreaded ? 'libfaketimeMT.so.1' : 'libfaketime.so.1';
  for (const dir of LIBFAKETIME_DIRS) {
    const candidate = path.join(dir, file);
    try {
      accessSync(candidate, constants.R_OK);
      return { ...process.env, LD_PRELOAD: candidate, FAKETIME: spec, TZ: 'UTC' };
    } catch {
      // not here
    }
  }
  throw new LabError('LAB_BINARY_MISSING', `${file} not found in ${LIBFAKETIME_DIRS.join(', ')}; install the Debian package "faketime"`);
}

/** Like findBinary, but a missing tool is a LAB_BINARY_MISSING error naming the package. */
export function binaryPath(tool: LabTool): string {
  const found = findBinary(tool);
  if (found === null) {
    throw new LabError('LAB_BINARY_MISSING', `${tool} not found; install the Debian package "${DEBIAN_PACKAGE[tool]}"`);
  }
  return found;
}

export interface LabGate {
  /** True when the suite must skip (tools missing and not in CI). */
  skip: boolean;
  missing: LabTool[];
  /** Human-readable reason, empty when nothing is missing. */
  message: string;
}

/**
 * Checks that every tool a test file needs is installed. Missing outside CI: warns loudly and
 * returns `skip: true` (use with `describe.skipIf(gate.skip)`). Missing with CI=true: throws, so
 * the file fails at collection.
 */
export function requireLabTools(tools: readonly LabTool[], inCi: boolean = process.env.CI === 'true'): LabGate {
  const missing = tools.filter((tool) => findBinary(tool) === null);
  if (missing.length === 0) return { skip: false, missing, message: '' };
  const packages = [...new Set(missing.map((tool) => DEBIAN_PACKAGE[tool]))];
  const message =
    `end-to-end lab: missing ${missing.join(', ')}; ` +
    `install with: apt-get install --no-install-recommends ${packages.join(' ')}`;
  if (inCi) throw new LabError('LAB_BINARY_MISSING', `${message} (CI=true: the lab must not be skipped in CI)`);
  console.warn(`\n*** SKIPPING *** ${message}\n`);
  return { skip: true, missing, message };
}
