/**
 * A probe through probe slots: what both `/metrics` sweeps and `/probe` run. Each TLS connection
 * takes one slot, so `global.concurrency` bounds connections, not targets: a target of a
 * `probe_all_addresses` module is resolved here, outside any slot, and each of its addresses then
 * waits for a slot of its own and is probed as an IP-literal target with the target's SNI. The
 * target itself never holds a slot while its addresses wait, so this cannot deadlock, not even at
 * `concurrency: 1`. Resolving here instead of in the probe also means the fan-out is bounded when
 * probes run in worker threads (src/probe/pool.ts), which never see the main thread's slots.
 *
 * Each probe waits for a slot until `deadlineMs` at most; one still waiting then is answered as a
 * `timeout` failure at that moment, without having been started.
 */
import { isIP } from 'node:net';
import type { ModuleConfig } from '../config/schema.js';
import type { LookupFn } from '../net/resolve.js';
import { formatAddress } from '../net/resolve.js';
import { failedResult, subjectOf } from '../probe/failure.js';
import { resolutionFailedStep, resolutionStep, resolveProbeAddresses, serverNameFor } from '../probe/probe.js';
import type { ProbeFn, ProbeResult, ProbeTarget } from '../probe/types.js';
import type { SlotRunner } from './slots.js';

export interface SlottedProbe {
  /** Never throws (wrap it in `neverThrows`). */
  probe: ProbeFn;
  /** Clock of the deadlines, Unix ms. */
  now: () => number;
  /** Resolver for `probe_all_addresses` targets; default the system's. */
  lookup?: LookupFn;
  /** The failure text of a probe still waiting for a slot at its deadline, naming the setting to raise. */
  noSlotError: string;
}

/** What probing a target gave: `measured` is false when nothing was probed at all (no slot in time). */
export interface SlottedOutcome {
  measured: boolean;
  /** When probing started (the slot taken, or the resolution begun), Unix ms. */
  probedAtMs: number;
  results: ProbeResult[];
}

/** One probe in a slot, given the module's timeout from the moment the slot is taken; null: no slot in time. */
async function probeOnce(
  options: SlottedProbe,
  slots: SlotRunner,
  target: ProbeTarget,
  module: ModuleConfig,
  deadlineMs: number,
): Promise<{ startedAtMs: number; results: ProbeResult[] } | null> {
  return slots.run(async () => {
    const startedAtMs = options.now();
    const results = await options.probe(target, module, Math.min(deadlineMs, startedAtMs + module.timeoutSeconds * 1000));
    return { startedAtMs, results };
  }, deadlineMs);
}

export async function probeInSlots(
  options: SlottedProbe,
  slots: SlotRunner,
  target: ProbeTarget,
  module: ModuleConfig,
  deadlineMs: number,
): Promise<SlottedOutcome> {
  const { now } = options;
  if (!module.probeAllAddresses || isIP(target.host)) {
    const probed = await probeOnce(options, slots, target, module, deadlineMs);
    if (probed) return { measured: true, probedAtMs: probed.startedAtMs, results: probed.results };
    const atMs = now();
    return { measured: false, probedAtMs: atMs, results: [failedResult(subjectOf(target, atMs), 'timeout', options.noSlotError)] };
  }

  const probedAtMs = now();
  const resolved = await resolveProbeAddresses(target, module, Math.min(deadlineMs, probedAtMs + module.timeoutSeconds * 1000), options.lookup);
  if (!resolved.ok) {
    const step = { atMs: now() - probedAtMs, text: resolutionFailedStep(target.host, module) };
    return { measured: true, probedAtMs, results: [{ ...resolved.failure, log: [step] }] };
  }
  // Each address is probed as an IP literal, so its own log starts at the connection: the
  // resolution, done here before any address's probe, comes first in each.
  const resolvedMs = now() - probedAtMs;
  const resolution = { atMs: 0, text: `${resolutionStep(target.host, module, null, resolved.addresses)}, before this address's probe, in ${resolvedMs} ms` };
  const withResolution = (result: ProbeResult): ProbeResult => ({ ...result, log: [resolution, ...(result.log ?? [])] });
  // The connection goes to the address; the SNI and the name checked stay the target's host.
  const serverName = serverNameFor(target, module);
  let measured = false;
  const perAddress = await Promise.all(
    resolved.addresses.map(async ({ address }) => {
      const probed = await probeOnce(options, slots, { ...target, host: address, serverName }, module, deadlineMs);
      if (probed) {
        measured = true;
        return probed.results.map(withResolution);
      }
      const subject = { ...subjectOf(target, now()), address: formatAddress(address, target.port), serverName };
      return [withResolution(failedResult(subject, 'timeout', options.noSlotError))];
    }),
  );
  return { measured, probedAtMs, results: perAddress.flat() };
}
