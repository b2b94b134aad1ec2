/**
 * The exporter as the end-to-end scenarios run it: the real app (`buildApp`) with the real probe,
 * listening on 127.0.0.1 port 0, fed from a `ConfigStore` (optionally loaded from a YAML file with
 * the real loader), and read over HTTP exactly as Prometheus reads it (`/metrics`, `/probe`, with
 * the scrape-timeout header). The only seam is the resolver (`lookup`), so one name can stand for
 * several 127.0.0.x addresses without touching /etc/hosts. `summarize` condenses one address's
 * series into a plain object, so a scenario asserts the same facts through `/probe` and `/metrics`.
 */
import { buildApp, type App } from '../../../src/app.js';
import { loadConfigFile } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { ConfigStore } from '../../../src/config/store.js';
import { PROBE_METRICS } from '../../../src/metrics/names.js';
import { probeTarget } from '../../../src/probe/probe.js';
import type { LookupFn } from '../../../src/net/resolve.js';
import { find, parseExposition, type Exposition } from '../../metrics/exposition.js';

export interface ExporterDeps {
  /** Resolver for the probe (default: the system's). */
  lookup?: LookupFn;
}

export interface RunningExporter {
  readonly app: App;
  readonly store: ConfigStore;
  readonly baseUrl: string;
  /** GET /metrics, parsed. */
  scrape(): Promise<Exposition>;
  /** GET /probe?target=&module=, parsed; throws on a non-200 answer (with its body). */
  probe(target: string, module?: string): Promise<Exposition>;
  close(): Promise<void>;
}

/** What Prometheus would send with a 10 s scrape timeout. */
const SCRAPE_HEADERS = { 'x-prometheus-scrape-timeout-seconds': '10' };

/**
 * Where the exporter's configuration comes from: a fixed `Config` built in the test, `{ file }`, a
 * YAML file read by `loadConfigFile`, or `{ load }`, called at start and on every reload (a test
 * changing its targets midway, e.g. to add one only once the responder is down).
 */
export type ConfigSourceSpec = Config | { file: string } | { load: () => Config };

/** Starts the exporter with the configuration from `source` (read again on `store.reload()`). */
export async function startExporter(source: ConfigSourceSpec, deps: ExporterDeps = {}): Promise<RunningExporter> {
  const load: () => Config =
    'targets' in source ? () => source : 'file' in source ? () => loadConfigFile(source.file) : source.load;
  const store = new ConfigStore(load(), load);
  const lookup = deps.lookup;
  const app = buildApp({
    store,
    probe: (target, module, deadlineMs) => probeTarget(target, module, deadlineMs, lookup ? { lookup } : {}),
    // The app resolves probe_all_addresses targets itself (one probe slot per address).
    ...(lookup ? { lookup } : {}),
    logLevel: 'silent',
    processMetrics: false,
  });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const get = async (path: string): Promise<Exposition> => {
    const response = await fetch(`${baseUrl}${path}`, { headers: SCRAPE_HEADERS });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}: ${body}`);
    return parseExposition(body);
  };
  return {
    app,
    store,
    baseUrl,
    scrape: () => get('/metrics'),
    probe: (target, module = 'default') =>
      get(`/probe?target=${encodeURIComponent(target)}&module=${encodeURIComponent(module)}`),
    close: () => app.close(),
  };
}

/** One address's series, condensed; `undefined` where the exporter exposed no series. */
export interface AddressSummary {
  target: string;
  address: string;
  module: string;
  success: number;
  /** The `reason` whose `ocsp_probe_failure` is 1, or null. */
  failureReason: string | null;
  tlsVersion: string | undefined;
  chainVerified: number | undefined;
  present: number | undefined;
  sizeBytes: number | undefined;
  valid: number | undefined;
  /** Sorted `problem` labels of `ocsp_staple_problem` series of value 1. */
  problems: string[];
  /** The `status` whose `ocsp_staple_cert_status` is 1. */
  certStatus: string | undefined;
  thisUpdate: number | undefined;
  nextUpdate: number | undefined;
  producedAt: number | undefined;
  ageSeconds: number | undefined;
  stale: number | undefined;
  revoked: number | undefined;
  revocationTime: number | undefined;
}

const M = PROBE_METRICS;

/** Every probed address matching `labels` (e.g. `{ target }`), by address. */
export function summarizeAll(exposition: Exposition, labels: Record<string, string>): Map<string, AddressSummary> {
  const out = new Map<string, AddressSummary>();
  for (const sample of find(exposition, M.probeSuccess.name, labels)) {
    const key = { target: sample.labels.target!, address: sample.labels.address!, module: sample.labels.module! };
    const one = (name: string, extra: Record<string, string> = {}): number | undefined => {
      const found = find(exposition, name, { ...key, ...extra });
      if (found.length > 1) throw new Error(`several ${name} series for ${JSON.stringify(key)}`);
      return found[0]?.value;
    };
    const withValueOne = (name: string, label: string): string[] =>
      find(exposition, name, key).filter((s) => s.value === 1).map((s) => s.labels[label]!).sort();
    out.set(key.address, {
      ...key,
      success: sample.value,
      failureReason: withValueOne(M.probeFailure.name, 'reason')[0] ?? null,
      tlsVersion: find(exposition, M.tlsInfo.name, key)[0]?.labels.version,
      chainVerified: one(M.chainVerified.name),
      present: one(M.staplePresent.name),
      sizeBytes: one(M.stapleSize.name),
      valid: one(M.stapleValid.name),
      problems: withValueOne(M.stapleProblem.name, 'problem'),
      certStatus: withValueOne(M.stapleCertStatus.name, 'status')[0],
      thisUpdate: one(M.stapleThisUpdate.name),
      nextUpdate: one(M.stapleNextUpdate.name),
      producedAt: one(M.stapleProducedAt.name),
      ageSeconds: one(M.stapleAge.name),
      stale: one(M.stapleStale.name),
      revoked: one(M.certRevoked.name),
      revocationTime: one(M.certRevocationTime.name),
    });
  }
  return out;
}

/** The single probed address matching `labels`; throws when there are none or several. */
export function summarize(exposition: Exposition, labels: Record<string, string>): AddressSummary {
  const all = summarizeAll(exposition, labels);
  if (all.size !== 1) throw new Error(`expected one probed address for ${JSON.stringify(labels)}, found ${all.size}`);
  return [...all.values()][0]!;
}

/** Unix seconds of a Date (OCSP times have whole seconds). */
export function unixSeconds(date: Date | null): number | undefined {
  return date === null ? undefined : date.getTime() / 1000;
}
