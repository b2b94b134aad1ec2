/**
 * What one probe of one address reports. Plain, structured-clone-safe data (no class instances,
 * no sockets), so probes can run in worker threads and results can be cached and compared.
 */
import type { ModuleConfig, TargetConfig } from '../config/schema.js';
import type { OcspVerdict, ParsedOcspResponse } from '../ocsp/types.js';
import type { CertificateFacts } from '../x509/types.js';
import type { ChainResponderResult, ResponderResult } from '../responder/types.js';
import type { IssuerFetch } from '../responder/issuer.js';

/** Stable values of the `reason` label of `ocsp_probe_failure`. */
export type FailureReason =
  /** The name did not resolve (or not for the module's ip_protocol). */
  | 'dns'
  /** TCP connect refused, unreachable, reset before TLS. */
  | 'connect'
  /** The probe's deadline passed (DNS, connect or handshake). */
  | 'timeout'
  /** The TLS handshake failed (alert, protocol error, garbage from the peer). */
  | 'tls'
  /** The resolved address is not allowed (e.g. link-local metadata addresses). */
  | 'blocked'
  /** The STARTTLS dialogue (module `starttls`) failed: refused, not offered, closed, too long, not the protocol. */
  | 'starttls'
  /**
   * The module's proxy (`proxy_url`) failed: unreachable, TLS to it failed, or it answered CONNECT
   * with something other than 2xx (407, 403, 502…), malformed, oversized, or not before the deadline.
   */
  | 'proxy'
  /** A bug in the exporter: reported, never thrown. */
  | 'internal';

export const FAILURE_REASONS: readonly FailureReason[] = ['dns', 'connect', 'timeout', 'tls', 'blocked', 'starttls', 'proxy', 'internal'];

/**
 * What a probe is asked to probe: a configured static target, or one built from a `/probe`
 * request. The same shape, so the two paths cannot drift apart.
 */
export type ProbeTarget = TargetConfig;

/**
 * A probe as every caller sees it: `probeTarget` with its deps bound, or the worker pool. Never
 * throws (see `neverThrows` in failure.ts); one result per probed address.
 */
export type ProbeFn = (target: ProbeTarget, module: ModuleConfig, deadlineMs: number) => Promise<ProbeResult[]>;

/**
 * The staple's verdict as a result keeps it: the OCSP core's verdict without the parsed response, of
 * which the exporter reports only producedAt. Results cross threads and 10,000 of them stay on the
 * main thread; the parsed response (embedded certificates, extensions, responder ID) made each a
 * third larger (3.6 against 2.6 KB of heap, measured). `check` asks for it ({@link StapleResult.response}).
 */
export type StapleVerdict = Omit<OcspVerdict, 'response'> & {
  /** The response's producedAt; null when nothing was parsed. */
  producedAt: Date | null;
};

/** What a result keeps of a verdict (see {@link StapleVerdict}). */
export function stapleVerdictOf(verdict: OcspVerdict): StapleVerdict {
  const { response, ...kept } = verdict;
  return { ...kept, producedAt: response?.basic?.producedAt ?? null };
}

export interface StapleResult {
  present: boolean;
  sizeBytes: number;
  /** Null when absent. */
  verdict: StapleVerdict | null;
  /** The parsed response, only when the caller asked for it (`ProbeDeps.keepParsedResponse`). */
  response?: ParsedOcspResponse | null;
  /** Where the issuer used for checking came from. */
  issuerSource: 'chain' | 'ca_file' | 'system' | 'aia' | null;
}

/** One step the probe recorded as it went (src/probe/log.ts renders them). */
export interface ProbeLogLine {
  /** Milliseconds since the probe started (`ProbeResult.startedAtMs`). */
  atMs: number;
  text: string;
}

export interface ProbeResult {
  target: string;
  /** `ip:port` (`[v6]:port`) probed; `host:port` when DNS failed. */
  address: string;
  module: string;
  serverName: string | null;
  labels: Record<string, string>;
  success: boolean;
  failureReason: FailureReason | null;
  /** Human-readable cause of failure, for logs and `check`. */
  error: string | null;
  durationSeconds: number;
  /** Unix ms when the probe started. */
  startedAtMs: number;
  tls: { version: string; cipher: string } | null;
  /** Chain validation against the module's trust; `verified=false` never hides the staple. */
  chain: { verified: boolean; error: string | null; length: number } | null;
  leaf: CertificateFacts | null;
  staple: StapleResult | null;
  /** The leaf's OCSP responder asked directly (module `query_responder`); absent when not asked. */
  responder?: ResponderResult | null;
  /** The caIssuers fetch of an issuer the chain and the CA file lacked (module `fetch_issuer`); absent when none was made. */
  issuerFetch?: (Omit<IssuerFetch, 'issuerDer'> & { /** The fetched certificate issued the leaf and was used. */ used: boolean }) | null;
  /** Which TLS client ran the handshake (module `handshake`), and why the native one handed over; absent when no handshake ran. */
  handshake?: { engine: 'native' | 'node'; fallback: HandshakeFallback | null } | null;
  /** Each intermediate's status from its issuer's responder (module `query_chain_responders`); absent when not asked. */
  chainResponders?: ChainResponderResult[] | null;
  /** The probe's own steps with their times (see log.ts); absent when none were recorded. */
  log?: ProbeLogLine[];
  /** The chain as the server presented it, leaf first (see log.ts); absent when no handshake finished. */
  presented?: PresentedCertificate[];
}

/** A presented certificate as the log and the status page show it; times ISO 8601, serial hex. */
/**
 * Why the native TLS engine handed a probe over to Node's (src/probe/engines.ts): the server
 * `refused` what it offers, or it `failed` at the TLS layer; `why` is its own message.
 */
export interface HandshakeFallback {
  reason: 'refused' | 'failed';
  why: string;
}

export interface PresentedCertificate {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
}
