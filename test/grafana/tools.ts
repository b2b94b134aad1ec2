/**
 * The Prometheus tools the monitoring tests drive (promtool, prometheus, amtool) and the gate that
 * decides what to do when one is missing: outside CI the test file skips with a loud message naming
 * the Debian package; with CI=true it fails, because CI installs them (.ci/run) and a silently skipped
 * check of the alert rules proves nothing. Same policy as the end-to-end lab (test/e2e/lab/binaries.ts).
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type ExecResult } from '../e2e/lab/exec.js';

/** Binary names as Debian installs them (Alertmanager is `prometheus-alertmanager` there). */
export type PrometheusTool = 'promtool' | 'prometheus' | 'amtool' | 'prometheus-alertmanager';

/** The Debian 12 package that provides each tool. */
export const DEBIAN_PACKAGE: Readonly<Record<PrometheusTool, string>> = {
  promtool: 'prometheus',
  prometheus: 'prometheus',
  amtool: 'prometheus-alertmanager',
  'prometheus-alertmanager': 'prometheus-alertmanager',
};

/** Repository root (tests run with any cwd). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const RULES_FILE = path.join(REPO_ROOT, 'grafana/alerts/ocsp-stapling.rules.yml');
export const RULE_TESTS_DIR = path.join(REPO_ROOT, 'grafana/alerts/tests');
export const DASHBOARDS_DIR = path.join(REPO_ROOT, 'grafana/dashboards');
export const RUNBOOK_FILE = path.join(REPO_ROOT, 'docs/runbook.md');

export function findTool(tool: PrometheusTool): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/usr/sbin', '/bin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export interface ToolGate {
  skip: boolean;
  message: string;
}

/** Skip (outside CI, loudly) or throw (CI=true) when a tool is missing. */
export function requireTools(tools: readonly PrometheusTool[], inCi: boolean = process.env.CI === 'true'): ToolGate {
  const missing = tools.filter((tool) => findTool(tool) === null);
  if (missing.length === 0) return { skip: false, message: '' };
  const packages = [...new Set(missing.map((tool) => DEBIAN_PACKAGE[tool]))];
  const message =
    `monitoring tests: missing ${missing.join(', ')}; ` +
    `install with: apt-get install --no-install-recommends ${packages.join(' ')}`;
  if (inCi) throw new Error(`${message} (CI=true: these tests must not be skipped in CI)`);
  console.warn(`\n*** SKIPPING *** ${message}\n`);
  return { skip: true, message };
}

export interface ToolRun {
  exitCode: number;
  /** stdout and stderr together, as a person would read them. */
  output: string;
}

/** Runs a tool to completion; a non-zero exit is returned, not thrown. */
export async function runTool(tool: PrometheusTool, args: readonly string[], cwd: string = REPO_ROOT): Promise<ToolRun> {
  const file = findTool(tool);
  if (file === null) throw new Error(`${tool} not installed (Debian package ${DEBIAN_PACKAGE[tool]})`);
  const result: ExecResult = await run(file, args, { cwd, allowFailure: true, timeoutMs: 30_000 });
  return { exitCode: result.exitCode, output: result.stdout.toString('utf8') + result.stderr };
}

/**
 * `promtool check metrics` on an exposition text: exit code and everything it printed. Null when
 * promtool is missing outside CI (skipped loudly by requireTools; CI=true throws instead).
 */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string } | null> {
  if (requireTools(['promtool']).skip) return null;
  const promtool = findTool('promtool')!;
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = execFile(promtool, ['check', 'metrics'], { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(text);
  });
}
