/**
 * Ids for config versions of modules, so the pool sends a module to each worker once per version
 * instead of with every probe. A version is a module object: a reload makes new objects, hence new
 * ids. A version no longer referenced anywhere is reported through `onForgotten`, so the workers
 * can drop it too and reloads do not pile up TLS contexts in them.
 */
import type { ModuleConfig } from '../config/schema.js';

export interface ModuleVersions {
  /** The id of this module object, assigned on first sight. */
  idOf(module: ModuleConfig): number;
}

export function moduleVersions(onForgotten: (id: number) => void): ModuleVersions {
  const ids = new WeakMap<ModuleConfig, number>();
  const forgotten = new FinalizationRegistry<number>(onForgotten);
  let nextId = 1;
  return {
    idOf(module) {
      let id = ids.get(module);
      if (id === undefined) {
        id = nextId++;
        ids.set(module, id);
        forgotten.register(module, id);
      }
      return id;
    },
  };
}
