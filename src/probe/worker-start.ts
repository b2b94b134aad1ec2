/**
 * Starting a probe worker thread, from dist/ (compiled JS) or from the TypeScript sources, with
 * the process' node options where a worker accepts them.
 */
import { Worker, type ResourceLimits, type WorkerOptions } from 'node:worker_threads';

/** The worker module next to this file: `./worker.js` in dist/, `./worker.ts` when running from sources. */
export function defaultWorkerScript(): URL {
  const fromSources = import.meta.url.endsWith('.ts');
  return new URL(fromSources ? './worker.ts' : './worker.js', import.meta.url);
}

/**
 * Worker threads do not inherit the main thread's TypeScript loader, and `execArgv: ['--import',
 * 'tsx']` does not apply to a worker's entry module on Node 20; so a `.ts` worker starts from a
 * bootstrap that registers tsx first and then imports the module.
 */
export function startWorker(script: URL, resourceLimits: ResourceLimits | undefined): Worker {
  const options = { ...workerExecArgv(), ...(resourceLimits ? { resourceLimits } : {}) };
  if (!script.pathname.endsWith('.ts')) return newWorker(script, options);
  return newWorker(tsxBootstrap(script), { eval: true, ...options });
}

/** Source of an eval'd worker that registers tsx, then imports `script`. */
function tsxBootstrap(script: URL): string {
  let tsxApi = 'tsx/esm/api';
  try {
    tsxApi = import.meta.resolve(tsxApi);
  } catch {
    // Some test runners lack import.meta.resolve: the bare name then resolves from the cwd.
  }
  return `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(script.href)}); });`;
}

/**
 * A worker inherits the process' node options by default, V8 flags included (`node
 * --max-old-space-size=512 …` is common in deployments). Given explicitly, V8 flags are refused
 * (ERR_WORKER_INVALID_EXEC_ARGV), so the list is given only to drop `--input-type` (set by `node
 * --input-type=module -e`), which a worker started from a file refuses.
 */
function workerExecArgv(): { execArgv?: string[] } {
  const kept = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
  return kept.length === process.execArgv.length ? {} : { execArgv: kept };
}

/** `new Worker`; if the options given explicitly are refused (V8 flags beside `--input-type`), with none. */
function newWorker(script: URL | string, options: WorkerOptions): Worker {
  try {
    return new Worker(script, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(script, { ...options, execArgv: [] });
  }
}
