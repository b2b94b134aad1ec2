/**
 * Which TLS client runs a probe's handshake: the native engine (src/tls-native/), or Node's
 * (probe/tls.ts). Both answer the same `HandshakeResult`. A probe the native engine cannot complete
 * because the server wants what it does not offer (a CBC-only or RSA-key-exchange server, a group
 * it lacks) runs again with Node's, and says so (`fallback`), so the exporter can count it.
 */
import type { ModuleConfig } from '../config/schema.js';
import { nativeHandshake } from '../tls-native/engine.js';
import { MAX_CHAIN_LENGTH } from './presented.js';
import { handshake, type HandshakeRequest, type HandshakeResult } from './tls.js';

export type Engine = 'native' | 'node';

/** The engine of a module without `handshake`: `node`, unless the environment's OCSP_EXPORTER_HANDSHAKE says `native`. */
export const DEFAULT_ENGINE: Engine = defaultEngineFrom(process.env['OCSP_EXPORTER_HANDSHAKE']);

/** OCSP_EXPORTER_HANDSHAKE: switches every module without `handshake` at once (and the test suite's runs). */
export function defaultEngineFrom(value: string | undefined): Engine {
  if (value === undefined || value === '') return 'node';
  if (value === 'native' || value === 'node') return value;
  throw new Error(`OCSP_EXPORTER_HANDSHAKE="${value}": use native or node`);
}

export function engineOf(module: ModuleConfig): Engine {
  if (module.handshake) return module.handshake;
  // The native engine sends no client certificate.
  return module.clientCertPem ? 'node' : DEFAULT_ENGINE;
}

export type EngineHandshakeResult = HandshakeResult & {
  /** The engine whose result this is. */
  engine: Engine;
  /** Why the native engine handed over to Node's; null when it did not. */
  fallback: string | null;
};

export async function handshakeWithEngine(module: ModuleConfig, request: HandshakeRequest): Promise<EngineHandshakeResult> {
  if (engineOf(module) === 'node') return { ...(await handshake(request)), engine: 'node', fallback: null };
  const native = await nativeHandshake(request, { minVersion: module.minVersion ?? 'TLSv1.2', maxVersion: module.maxVersion ?? 'TLSv1.3' });
  if (native.ok === true) return { ...native, chainDer: native.chainDer.slice(0, MAX_CHAIN_LENGTH), engine: 'native', fallback: null };
  if (native.ok !== 'fallback') return { ...native, engine: 'native', fallback: null };
  request.onStep?.(`native engine: ${native.why}; running Node's handshake instead`);
  return { ...(await handshake(request)), engine: 'node', fallback: native.why };
}
