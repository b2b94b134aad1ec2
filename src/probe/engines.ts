/**
 * Which TLS client runs a probe's handshake: the native engine (src/tls-native/), the default, or
 * Node's (probe/tls.ts). Both answer the same `HandshakeResult`. The native engine never has the
 * last word on a failure: whenever it cannot complete a handshake, Node's runs within the same
 * deadline and its answer is the probe's, so a probe never fails where Node's TLS would succeed.
 * - `refused`: the server refused what the native engine offers (a CBC-only or RSA-key-exchange
 *   server, a group it lacks): expected, and Node's TLS, which offers more, often succeeds.
 * - `failed`: the native client refused anything else the server sent (a record or message it
 *   would not accept, a signature that does not verify, an alert in answer). On a broken server
 *   both fail and Node's words are reported; where Node's succeeds, the native engine disagrees
 *   with OpenSSL and the counter shows it.
 * What happens under the TLS client (connection refused, closed or reset, a proxy or STARTTLS
 * failure, the deadline) would happen to Node's the same way: the probe's answer as it is, and
 * one connection per probe for a server that drops them.
 */
import type { ModuleConfig } from '../config/schema.js';
import { orderLikeNode } from '../tls-native/chain-order.js';
import { nativeHandshake } from '../tls-native/engine.js';
import { MAX_CHAIN_LENGTH } from './presented.js';
import { handshake, type HandshakeRequest, type HandshakeResult } from './tls.js';
import type { HandshakeFallback } from './types.js';

export type Engine = 'native' | 'node';

/** The engine of a module without `handshake`: `native`, unless the environment's OCSP_EXPORTER_HANDSHAKE says `node`. */
export const DEFAULT_ENGINE: Engine = defaultEngineFrom(process.env['OCSP_EXPORTER_HANDSHAKE']);

/** OCSP_EXPORTER_HANDSHAKE: switches every module without `handshake` at once (and the test suite's runs). */
export function defaultEngineFrom(value: string | undefined): Engine {
  if (value === undefined || value === '') return 'native';
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
  fallback: HandshakeFallback | null;
};

export async function handshakeWithEngine(module: ModuleConfig, request: HandshakeRequest): Promise<EngineHandshakeResult> {
  if (engineOf(module) === 'node') return { ...(await handshake(request)), engine: 'node', fallback: null };
  const native = await nativeHandshake(request, { minVersion: module.minVersion ?? 'TLSv1.2', maxVersion: module.maxVersion ?? 'TLSv1.3' });
  // The chain as Node's engine reports it: in path order, without what is not on the path (chain-order.ts).
  if (native.ok === true) return { ...native, chainDer: orderLikeNode(native.chainDer, MAX_CHAIN_LENGTH), engine: 'native', fallback: null };
  // A failure under the TLS client (Node's would meet it too), or past the deadline (Node's could only time out): the native engine's words stand.
  if (native.ok === false && (native.refusedByClient !== true || Date.now() >= request.deadlineMs)) {
    const { refusedByClient: _refused, ...failure } = native;
    return { ...failure, engine: 'native', fallback: null };
  }
  const fallback: HandshakeFallback = native.ok === 'fallback' ? { reason: 'refused', why: native.why } : { reason: 'failed', why: native.error };
  request.onStep?.(`native engine: ${fallback.why}; running Node's handshake instead`);
  return { ...(await handshake(request)), engine: 'node', fallback };
}
