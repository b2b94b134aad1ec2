/**
 * The part Prometheus and Alertmanager share in the tests: write the YAML config into a temp dir,
 * start the Debian binary on a free loopback port, wait for `/-/ready`, and on `stop()` kill the
 * process group and remove the dir (also on a failed start).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { withFreePorts, LOOPBACK } from '../e2e/lab/ports.js';
import { spawnManaged, type ManagedProcess } from '../e2e/lab/processes.js';
import { awaitReady } from '../e2e/lab/ready.js';
import { DEBIAN_PACKAGE, findTool, type PrometheusTool } from './tools.js';

export class RunningDaemon {
  constructor(
    /** e.g. `http://127.0.0.1:41234` */
    readonly baseUrl: string,
    private readonly proc: ManagedProcess,
    private readonly dir: string,
  ) {}

  diagnostics(): string {
    return this.proc.diagnostics();
  }

  async stop(): Promise<void> {
    try {
      await this.proc.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

export interface DaemonSpec {
  tool: PrometheusTool;
  /** Short name for logs, temp dirs and the config file (`<name>.yml`). */
  name: string;
  /** The YAML config, as an object. */
  config: object;
  /** Flags besides `--config.file` and `--web.listen-address`, given the port and the temp dir. */
  args(port: number, dir: string): string[];
}

/** Starts the daemon and resolves once `/-/ready` answers; `wrap` turns it into the caller's class. */
export async function startDaemon<T>(spec: DaemonSpec, wrap: (baseUrl: string, proc: ManagedProcess, dir: string) => T): Promise<T> {
  const binary = findTool(spec.tool);
  if (binary === null) throw new Error(`${spec.tool} not installed (Debian package ${DEBIAN_PACKAGE[spec.tool]})`);
  const dir = mkdtempSync(path.join(os.tmpdir(), `ocsp-${spec.name}-`));
  const configFile = path.join(dir, `${spec.name}.yml`);
  writeFileSync(configFile, stringify(spec.config));
  try {
    return await withFreePorts(1, async ([port]) => {
      const proc = spawnManaged({
        name: spec.name,
        command: binary,
        args: [`--config.file=${configFile}`, `--web.listen-address=${LOOPBACK}:${port}`, ...spec.args(port!, dir)],
        cwd: dir,
      });
      const baseUrl = `http://${LOOPBACK}:${port}`;
      await awaitReady(
        proc,
        async () => (await fetch(`${baseUrl}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok,
        `${spec.name} /-/ready`,
        20_000,
      );
      return wrap(baseUrl, proc, dir);
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
