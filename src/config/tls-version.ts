/**
 * TLS version names as config files spell them (`TLS12`, `TLS13`: the spelling of Prometheus'
 * exporter-toolkit and blackbox_exporter) and Node's names for them, in one table for the main
 * config's `min_version`/`max_version` and the web config's. TLS 1.0 and 1.1 are known names but
 * refused: RFC 8996 deprecates them, and the exporter speaks TLS 1.2 and 1.3 only.
 */
import type { TlsVersion } from './schema.js';

/** Config name → Node name, lowest first; null: a real version the exporter refuses. */
const TLS_VERSION_TABLE: ReadonlyArray<readonly [name: string, version: TlsVersion | null]> = [
  ['TLS10', null],
  ['TLS11', null],
  ['TLS12', 'TLSv1.2'],
  ['TLS13', 'TLSv1.3'],
];

/** The names a config may use, lowest first: `TLS12`, `TLS13`. */
export const SUPPORTED_TLS_VERSION_NAMES: readonly string[] = TLS_VERSION_TABLE.filter(([, version]) => version !== null).map(([name]) => name);

export type TlsVersionLookup = { ok: true; version: TlsVersion } | { ok: false; problem: 'unknown' | 'unsupported' };

/** The Node version a config name stands for; `unsupported` for TLS10/TLS11, `unknown` for anything else. */
export function tlsVersionNamed(name: string): TlsVersionLookup {
  const row = TLS_VERSION_TABLE.find(([known]) => known === name);
  if (!row) return { ok: false, problem: 'unknown' };
  return row[1] === null ? { ok: false, problem: 'unsupported' } : { ok: true, version: row[1] };
}

/** The config name of a Node version (`TLSv1.2` → `TLS12`). */
export function tlsVersionName(version: TlsVersion): string {
  return TLS_VERSION_TABLE.find(([, known]) => known === version)![0];
}

/** Whether `a` is a lower protocol version than `b`. */
export function isLowerTlsVersion(a: TlsVersion, b: TlsVersion): boolean {
  const rank = (version: TlsVersion): number => TLS_VERSION_TABLE.findIndex(([, known]) => known === version);
  return rank(a) < rank(b);
}
