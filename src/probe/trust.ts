/**
 * A module's trust anchors (its `ca_file`, else the system store), parsed once per module object
 * and shared by everything that judges against them: probes (probe.ts) and staple files
 * (sources/staple-file-judge.ts). Keyed by the module, so a reloaded config parses afresh.
 */
import type { ModuleConfig } from '../config/schema.js';
import { trustAnchorsFrom } from '../x509/chain.js';

const trustAnchors = new WeakMap<ModuleConfig, ReturnType<typeof trustAnchorsFrom>>();

export function trustAnchorsOf(module: ModuleConfig): ReturnType<typeof trustAnchorsFrom> {
  let trust = trustAnchors.get(module);
  if (!trust) {
    trust = trustAnchorsFrom(module.caPem);
    trustAnchors.set(module, trust);
  }
  return trust;
}
