/**
 * Probe results and exporter state → prom-client gauges. `/metrics` and `/probe` write the
 * per-address families with the direct writer (render.ts) and use prom-client only for the
 * `ocsp_exporter_*` families here and the process metrics; `addProbeMetrics` puts the same samples
 * (series.ts decides them) into a prom-client registry, for tests and tools that want one, and as the
 * baseline of `bench/render.ts`. Both are done at scrape time into a registry the caller creates for
 * that one response, so series of removed targets simply are not there next time.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ProbeResult } from '../probe/types.js';
import { ADDRESS_LABELS, EXPORTER_METRICS, type MetricFamily } from './names.js';
import { identityLabels, isUsableExtraLabel, mapProbeResult, type SeriesSink } from './series.js';

export { isUsableExtraLabel } from './series.js';

type Labels = Record<string, string>;

/**
 * Creates each family on first use only, so a scrape without staples has no empty
 * `ocsp_staple_*` HELP/TYPE blocks.
 */
class GaugeSet {
  private readonly gauges = new Map<string, Gauge<string>>();

  constructor(
    private readonly registry: Registry,
    private readonly commonLabels: readonly string[],
  ) {}

  set(family: MetricFamily, labels: Labels, value: number): void {
    let gauge = this.gauges.get(family.name);
    if (!gauge) {
      gauge = new Gauge({
        name: family.name,
        help: family.help,
        labelNames: [...this.commonLabels, ...family.labels],
        registers: [this.registry],
      });
      this.gauges.set(family.name, gauge);
    }
    gauge.set(labels, value);
  }
}

function flag(value: boolean): number {
  return value ? 1 : 0;
}

/**
 * Adds the per-address families for `results` to `registry`, judged at `nowMs` (Unix ms, the scrape
 * time). One series set per result, i.e. per probed address. The same samples as
 * `renderProbeMetrics`, through prom-client.
 */
export function addProbeMetrics(registry: Registry, results: readonly ProbeResult[], nowMs: number): void {
  const extraLabelNames = [
    ...new Set(results.flatMap((r) => Object.keys(r.labels).filter(isUsableExtraLabel))),
  ].sort();
  const gauges = new GaugeSet(registry, [...ADDRESS_LABELS, ...extraLabelNames]);
  for (const result of results) {
    const base: Labels = Object.fromEntries(identityLabels(result));
    const sink: SeriesSink = {
      sample(family, value, labelValues) {
        const labels = { ...base };
        family.labels.forEach((name, i) => (labels[name] = labelValues?.[i] ?? ''));
        gauges.set(family, labels, value);
      },
      sampleAt(family, valueAt) {
        gauges.set(family, base, valueAt(nowMs));
      },
    };
    mapProbeResult(result, sink);
  }
}

/** What the exporter knows about itself at scrape time. */
export interface ExporterState {
  version: string;
  nodejsVersion: string;
  configLastReloadSuccessful: boolean;
  /** Null when no load ever succeeded (the series is then absent). */
  configLastReloadSuccessTimestampSeconds: number | null;
  targets: number;
  /** Probes the native engine handed over to Node's (src/probe/engines.ts), since start, by reason. */
  handshakeFallbacks?: { refused: number; failed: number };
  /** Null before the first sweep. */
  lastSweep: { durationSeconds: number; probed: number; reused: number } | null;
}

/** Adds the `ocsp_exporter_*` families (for /metrics only) to `registry`. */
export function addExporterMetrics(registry: Registry, state: ExporterState): void {
  const M = EXPORTER_METRICS;
  const gauge = (family: MetricFamily): Gauge<string> =>
    new Gauge({ name: family.name, help: family.help, labelNames: [...family.labels], registers: [registry] });

  gauge(M.buildInfo).set({ version: state.version, nodejs_version: state.nodejsVersion }, 1);
  gauge(M.configLastReloadSuccessful).set(flag(state.configLastReloadSuccessful));
  if (state.configLastReloadSuccessTimestampSeconds !== null) {
    gauge(M.configLastReloadSuccessTimestamp).set(state.configLastReloadSuccessTimestampSeconds);
  }
  gauge(M.targets).set(state.targets);
  // Both reasons from the start, at 0, so rate() and increase() have a first sample.
  const fallbacks = new Counter({ name: M.handshakeFallbacks.name, help: M.handshakeFallbacks.help, labelNames: [...M.handshakeFallbacks.labels], registers: [registry] });
  for (const reason of ['refused', 'failed'] as const) fallbacks.inc({ reason }, state.handshakeFallbacks?.[reason] ?? 0);
  if (state.lastSweep) {
    gauge(M.sweepDuration).set(state.lastSweep.durationSeconds);
    const probes = gauge(M.sweepProbes);
    probes.set({ result: 'probed' }, state.lastSweep.probed);
    probes.set({ result: 'reused' }, state.lastSweep.reused);
  }
}
