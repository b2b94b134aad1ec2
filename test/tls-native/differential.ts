/**
 * The differential check of the native engine against Node's on one real target: the whole probe
 * (probeTarget with `handshake: node`, then `handshake: native`) must report the same result apart
 * from timing, the probe log and the engine's name, and one more handshake per engine
 * (handshakeWithEngine) must bring back the same staple bytes and the same chain, DER for DER. A
 * native run that handed over to Node's would agree trivially, so the native side must say it ran
 * itself (`fallback: null`).
 */
import { expect } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { handshakeWithEngine } from '../../src/probe/engines.js';
import { proxyFor } from '../../src/net/proxy.js';
import { probeTarget } from '../../src/probe/probe.js';
import { secureContextFor, type HandshakeRequest } from '../../src/probe/tls.js';
import type { ProbeResult, ProbeTarget } from '../../src/probe/types.js';

export interface Comparison {
  node: unknown;
  native: unknown;
  /** What both engines' handshakes brought back (hex), for asserting on the case itself. */
  wire: { staple: string | null; chain: string[]; protocol: string; cipher: string };
}

/** A probe result without what legitimately differs between two runs. */
export function comparable(result: ProbeResult): unknown {
  const { durationSeconds: _d, startedAtMs: _s, log: _l, handshake, ...rest } = result;
  return { ...rest, handshake: handshake ? { fallback: handshake.fallback } : handshake };
}

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** A lab test's module: the lab's root trusted (`caPem`), a 10 s timeout, `version` as both bounds when given. */
export function labModule(caPem: string, version?: TlsVersion, extra: Partial<ModuleConfig> = {}): ModuleConfig {
  return {
    ...defaultModule('m'),
    timeoutSeconds: 10,
    caPem,
    ...(version ? { minVersion: version, maxVersion: version } : {}),
    ...extra,
  };
}

/** One probe of `target` with the native engine, which must succeed (after which tests read the server's own account). */
export async function nativeProbe(target: ProbeTarget, module: ModuleConfig): Promise<ProbeResult> {
  const [result] = await probeTarget(target, { ...module, handshake: 'native' }, Date.now() + 5000);
  expect(result?.success, result?.error ?? '').toBe(true);
  return result!;
}

export function targetAt(host: string, port: number, serverName: string | null = 'localhost'): ProbeTarget {
  return { target: `${host}:${port}`, host, port, module: 'm', serverName, labels: {} };
}

function requestFor(target: ProbeTarget, module: ModuleConfig): HandshakeRequest {
  return {
    address: target.host,
    port: target.port,
    serverName: target.serverName ?? null,
    secureContext: secureContextFor(module),
    deadlineMs: Date.now() + module.timeoutSeconds * 1000,
    starttls: module.starttls ? { protocol: module.starttls, name: target.serverName ?? target.host } : null,
    proxy: proxyFor(module, target.host, target.port),
  };
}

async function probeOnce(target: ProbeTarget, module: ModuleConfig): Promise<ProbeResult> {
  const results = await probeTarget(target, module, Date.now() + module.timeoutSeconds * 1000);
  expect(results).toHaveLength(1);
  return results[0]!;
}

/** Runs both engines on `target` and asserts they agree; returns what they saw. */
export async function expectSameOnBothEngines(target: ProbeTarget, module: ModuleConfig): Promise<Comparison> {
  const node = await probeOnce(target, { ...module, handshake: 'node' });
  const native = await probeOnce(target, { ...module, handshake: 'native' });
  expect(native.handshake, 'the native engine ran (no fallback)').toEqual({ engine: 'native', fallback: null });
  expect(node.handshake).toEqual({ engine: 'node', fallback: null });
  expect(comparable(native)).toEqual(comparable(node));

  const nodeWire = await handshakeWithEngine({ ...module, handshake: 'node' }, requestFor(target, module));
  const nativeWire = await handshakeWithEngine({ ...module, handshake: 'native' }, requestFor(target, module));
  expect(nativeWire.ok, nativeWire.ok ? '' : nativeWire.error).toBe(true);
  expect(nodeWire.ok, nodeWire.ok ? '' : nodeWire.error).toBe(true);
  if (!nativeWire.ok || !nodeWire.ok) throw new Error('unreachable');
  expect(nativeWire.fallback).toBeNull();
  const wire = (r: typeof nativeWire & { ok: true }) => ({
    staple: r.staple?.toString('hex') ?? null,
    chain: r.chainDer.map((d) => d.toString('hex')),
    protocol: r.protocol,
    cipher: r.cipher,
  });
  expect(wire(nativeWire)).toEqual(wire(nodeWire));
  return { node: comparable(node), native: comparable(native), wire: wire(nativeWire) };
}
