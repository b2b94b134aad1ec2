/**
 * A probe: target + module + deadline → one result per probed address. Resolves the host, does
 * the handshake(s), finds the leaf's issuer (presented chain first, then the module's CA file) and
 * has the OCSP core judge the staple. It never throws and keeps no state between calls, apart from
 * per-module caches of immutable things (TLS context, parsed CA file), so it can run anywhere,
 * worker threads included.
 */
import { isIP } from 'node:net';
import type { ModuleConfig } from '../config/schema.js';
import { certificateFacts } from '../x509/certificate.js';
import type { CertificateFacts } from '../x509/types.js';
import { verifyOcspResponse } from '../ocsp/verify.js';
import { checkChainResponders, checkResponder, type AnswerProvider } from '../responder/check.js';
import { verifyChain } from '../x509/chain.js';
import { trustAnchorsOf } from './trust.js';
import { addressRefusal } from '../net/guard.js';
import { proxyFor } from '../net/proxy.js';
import { formatAddress, resolveAddresses, ResolveError, systemLookup, type LookupFn, type ResolvedAddress } from '../net/resolve.js';
import { secureContextFor, type HandshakeResult } from './tls.js';
import { handshakeWithEngine } from './engines.js';
import { failedResult, type ResultSubject } from './failure.js';
import { stapleVerdictOf, type ProbeResult, type ProbeTarget, type StapleResult } from './types.js';
import { messageOf } from '../util/errors.js';
import { fetchIssuer, type IssuerFetch } from '../responder/issuer.js';
import { findIssuer } from '../x509/certificate.js';
import { presentedCertificates, stapleStep, StepRecorder } from './record.js';

export interface ProbeDeps {
  lookup?: LookupFn;
  /** Clock for judging the staple, Unix ms. */
  now?: () => number;
  /** Where responder answers come from (module `query_responder`); default this thread's shared cache. */
  responderAnswers?: AnswerProvider;
  /** Keep the staple's parsed response in the result (`check` prints it); the daemon does not. */
  keepParsedResponse?: boolean;
}

/** The SNI a probe sends: target override, then module, then the host unless it is an IP literal. */
export function serverNameFor(target: ProbeTarget, module: ModuleConfig): string | null {
  return target.serverName ?? module.serverName ?? (isIP(target.host) ? null : target.host);
}

export async function probeTarget(
  target: ProbeTarget,
  module: ModuleConfig,
  deadlineMs: number,
  deps: ProbeDeps = {},
): Promise<ProbeResult[]> {
  const startedAtMs = Date.now();
  const serverName = serverNameFor(target, module);
  const base = {
    target: target.target,
    module: module.name,
    serverName,
    labels: target.labels,
    startedAtMs,
  };
  try {
    // Through a proxy, a name is the proxy's to resolve (CONNECT carries it as written); the guard
    // below then sees only IP literals. An IP literal is still checked against ip_protocol.
    const proxy = proxyFor(module, target.host, target.port);
    const steps = new StepRecorder(startedAtMs);
    const resolved = proxy && !isIP(target.host) ? null : await resolveProbeAddresses(target, module, deadlineMs, deps.lookup);
    if (resolved && !resolved.ok) {
      steps.add(resolutionFailedStep(target.host, module));
      return [{ ...resolved.failure, log: steps.lines }];
    }
    const addresses = resolved ? resolved.addresses : [{ address: target.host }];
    // Each recorded line costs ~150 bytes in every result kept: only what the result does not say.
    if (!isIP(target.host)) steps.add(resolutionStep(target.host, module, proxy?.shown ?? null, addresses));
    return await Promise.all(
      addresses.map(async ({ address }) => {
        const addressStartedMs = Date.now();
        const probed = formatAddress(address, target.port);
        const addressSteps = steps.fork();
        // After resolution, so a name pointing at a metadata address cannot pass (guard.ts).
        const refusal = addressRefusal(address, module);
        if (refusal) {
          addressSteps.add(`${probed} refused by the address guard`);
          return { ...failedResult({ ...base, address: probed }, 'blocked', refusal, secondsSince(addressStartedMs)), log: addressSteps.lines };
        }
        const connecting = connectingStep(probed, module, proxy?.shown ?? null);
        if (connecting) addressSteps.add(connecting);
        const result = await handshakeWithEngine(module, {
          address,
          port: target.port,
          serverName,
          secureContext: secureContextFor(module),
          deadlineMs,
          starttls: module.starttls ? { protocol: module.starttls, name: serverName ?? target.host } : null,
          proxy,
          localAddress: module.sourceIpAddress ?? null,
          onStep: (text) => addressSteps.add(text),
        });
        if (result.ok) addressSteps.add(stapleStep(result.staple));
        const issuerFetch = result.ok && module.fetchIssuer ? await fetchMissingIssuer(result.chainDer, module, deadlineMs, deps) : null;
        const { judged, issuerDer } = judge(result, {
          issuerFetch,
          base,
          address: probed,
          expectedName: serverName ?? address,
          module,
          startedMs: addressStartedMs,
          now: deps.now ?? Date.now,
          keepParsedResponse: deps.keepParsedResponse === true,
        });
        if (issuerFetch) addressSteps.add(`caIssuers fetch done (${issuerFetch.url ?? 'no URL'})`);
        if (result.ok) {
          addressSteps.add('chain and staple judged');
          judged.presented = presentedCertificates(result.chainDer);
        }
        if (result.ok && (module.queryResponder || module.queryChainResponders)) {
          await askResponders(judged, result.chainDer, issuerDer, module, deadlineMs, deps);
          addressSteps.add('responder queries done');
        }
        judged.log = addressSteps.lines;
        judged.handshake = { engine: result.engine, fallback: result.fallback };
        return judged;
      }),
    );
  } catch (error) {
    const subject = { ...base, address: formatAddress(target.host, target.port) };
    return [failedResult(subject, 'internal', messageOf(error), secondsSince(startedAtMs))];
  }
}

/** The log line of a name that did not resolve (the result's error says why). */
export function resolutionFailedStep(host: string, module: ModuleConfig): string {
  return `resolving ${host} (ip_protocol ${module.ipProtocol}) failed`;
}

/** How the probe found its addresses: resolved, given as an IP literal, or left to the proxy. */
export function resolutionStep(host: string, module: ModuleConfig, proxy: string | null, addresses: readonly ResolvedAddress[] | { address: string }[]): string {
  if (proxy) return `${host} is resolved by the proxy ${proxy} (CONNECT carries the name)`;
  const each = module.probeAllAddresses ? ' (probe_all_addresses: each is probed)' : '';
  return `resolved ${host} (ip_protocol ${module.ipProtocol}) to ${addresses.map((a) => a.address).join(', ')}${each}`;
}

/** Where the connection goes through what, when it is more than a direct TLS connection (the result names the address). */
function connectingStep(probed: string, module: ModuleConfig, proxy: string | null): string | null {
  if (!proxy && !module.sourceIpAddress && !module.starttls) return null;
  const from = module.sourceIpAddress ? ` from ${module.sourceIpAddress} (source_ip_address)` : '';
  const via = proxy ? ` through the proxy ${proxy}` : '';
  const starttls = module.starttls ? `, STARTTLS ${module.starttls} first` : '';
  return `connecting to ${probed}${via}${from}${starttls}`;
}

export type ResolvedTarget = { ok: true; addresses: ResolvedAddress[] } | { ok: false; failure: ProbeResult };

/**
 * The addresses a probe of `target` connects to (all of them with `probe_all_addresses`), or the
 * `dns` (`timeout` past the deadline) failure to report instead. Never throws. Exported for the
 * scheduler, which resolves `probe_all_addresses` targets itself so that each address takes a
 * concurrency slot of its own (src/scheduler/probe-in-slots.ts).
 */
export async function resolveProbeAddresses(
  target: ProbeTarget,
  module: ModuleConfig,
  deadlineMs: number,
  lookup: LookupFn = systemLookup,
): Promise<ResolvedTarget> {
  const startedAtMs = Date.now();
  try {
    return { ok: true, addresses: await resolveAddresses(target.host, module.ipProtocol, module.probeAllAddresses, deadlineMs, lookup) };
  } catch (error) {
    const timedOut = error instanceof ResolveError && error.code === 'ERR_DNS_TIMEOUT';
    const reason = error instanceof ResolveError ? (timedOut ? 'timeout' : 'dns') : 'internal';
    const subject = unresolvedSubject(target, module, startedAtMs);
    return { ok: false, failure: failedResult(subject, reason, messageOf(error), secondsSince(startedAtMs)) };
  }
}

/** What a result names before an address is known: the target's `host:port`. */
function unresolvedSubject(target: ProbeTarget, module: ModuleConfig, startedAtMs: number): ResultSubject {
  return {
    target: target.target,
    address: formatAddress(target.host, target.port),
    module: module.name,
    serverName: serverNameFor(target, module),
    labels: target.labels,
    startedAtMs,
  };
}

type ResultBase = Omit<ResultSubject, 'address'>;

function secondsSince(startedMs: number): number {
  return (Date.now() - startedMs) / 1000;
}

/** One address's handshake, and what judging it needs. */
interface AddressProbe {
  base: ResultBase;
  /** The address probed, `ip:port` (`[v6]:port`). */
  address: string;
  /** The name the leaf must carry: the SNI sent, else the IP connected to. */
  expectedName: string;
  module: ModuleConfig;
  /** When this address's probe started, Unix ms: its duration counts from here. */
  startedMs: number;
  /** Clock the chain and staple are judged at, Unix ms. */
  now: () => number;
  /** Keep the staple's parsed response in the result (see `ProbeDeps`). */
  keepParsedResponse: boolean;
  /** The caIssuers fetch of a missing issuer (module `fetch_issuer`); null when not made. */
  issuerFetch: IssuerFetch | null;
}

/** The handshake's outcome as a result, and the leaf's issuer the responder checks need. */
function judge(result: HandshakeResult, probe: AddressProbe): { judged: ProbeResult; issuerDer: Uint8Array | null } {
  const subject = { ...probe.base, address: probe.address };
  if (!result.ok) return { judged: failedResult(subject, result.reason, result.error, secondsSince(probe.startedMs)), issuerDer: null };
  const durationSeconds = secondsSince(probe.startedMs);
  const leafDer = result.chainDer[0] ?? null;
  const { leaf, leafError } = readLeaf(leafDer);

  // The chain exactly as presented (the handshake trusts nothing, see chain.ts); it also yields
  // the leaf's issuer: presented chain first, then the trust anchors.
  const chain = leaf ? verifyChain(result.chainDer, trustAnchorsOf(probe.module), probe.expectedName, probe.now()) : null;
  const fetchedIssuer = probe.issuerFetch?.issuerDer ?? null;
  const issuerDer = chain?.issuerDer ?? fetchedIssuer;
  const issuerSource: StapleResult['issuerSource'] = chain?.issuerSource ?? (fetchedIssuer ? 'aia' : null);
  const staple = judgeStaple(result.staple, leaf ? leafDer : null, issuerDer, issuerSource, probe);

  const judged: ProbeResult = {
    ...subject,
    success: true,
    failureReason: null,
    error: leafError,
    durationSeconds,
    tls: { version: result.protocol, cipher: result.cipher },
    chain: {
      verified: chain?.verified ?? false,
      error: chain ? chain.error : leafDer ? 'UNREADABLE_CERTIFICATE' : 'NO_PEER_CERTIFICATE',
      length: result.chainDer.length,
    },
    leaf,
    staple,
  };
  if (probe.issuerFetch) {
    // The result keeps what happened, not the certificate (results stay small across threads).
    const { issuerDer: fetched, ...report } = probe.issuerFetch;
    judged.issuerFetch = { ...report, used: fetched !== null };
  }
  return { judged, issuerDer };
}

/**
 * The leaf's issuer from its caIssuers URL when neither the presented chain nor the trust anchors
 * have it (module `fetch_issuer`); null when it is not missing or the leaf names no such URL.
 */
async function fetchMissingIssuer(chainDer: Uint8Array[], module: ModuleConfig, deadlineMs: number, deps: ProbeDeps): Promise<IssuerFetch | null> {
  const leafDer = chainDer[0];
  if (!leafDer || findIssuer(leafDer, chainDer.slice(1)) || findIssuer(leafDer, trustAnchorsOf(module).anchors)) return null;
  return fetchIssuer(leafDer, fetchPolicyOf(module, deadlineMs, deps));
}

/** What every HTTP fetch of a module (responder queries, the caIssuers fetch) obeys. */
function fetchPolicyOf(module: ModuleConfig, deadlineMs: number, deps: ProbeDeps) {
  return {
    deadlineMs,
    allowHttps: module.responderAllowHttps === true,
    allowLinkLocal: module.allowLinkLocal === true,
    destinations: module.responderDestinations,
    ipProtocol: module.ipProtocol,
    lookup: deps.lookup,
    now: deps.now,
    // The same proxy, no_proxy and source address as the probe's own connection.
    route: { proxy: module.proxy ?? null, noProxy: module.noProxy, localAddress: module.sourceIpAddress ?? null },
  };
}

/**
 * What asking a module's responders obeys: its fetch policy, answer cache age and clock skew. The
 * responder checks (src/sources/responder-checks.ts) ask with exactly these too.
 */
export function responderOptionsOf(module: ModuleConfig, deadlineMs: number, deps: ProbeDeps) {
  return {
    ...fetchPolicyOf(module, deadlineMs, deps),
    cacheMaxAgeSeconds: module.responderCacheMaxAgeSeconds,
    clockSkewSeconds: module.clockSkewSeconds,
    answers: deps.responderAnswers,
  };
}

/** The leaf's facts; an unreadable leaf is reported in the result's error, not as a failed probe. */
function readLeaf(leafDer: Uint8Array | null): { leaf: CertificateFacts | null; leafError: string | null } {
  if (!leafDer) return { leaf: null, leafError: null };
  try {
    return { leaf: certificateFacts(leafDer), leafError: null };
  } catch (error) {
    return { leaf: null, leafError: `unreadable leaf certificate: ${messageOf(error)}` };
  }
}

/** The staple (if any) judged by the OCSP core against the leaf and its issuer. */
function judgeStaple(
  stapleDer: Uint8Array | null,
  leafDer: Uint8Array | null,
  issuerDer: Uint8Array | null,
  issuerSource: StapleResult['issuerSource'],
  probe: AddressProbe,
): StapleResult {
  if (!stapleDer) return { present: false, sizeBytes: 0, verdict: null, issuerSource };
  const verdict = verifyOcspResponse(stapleDer, leafDer, issuerDer, {
    now: new Date(probe.now()),
    clockSkewSeconds: probe.module.clockSkewSeconds,
  });
  const staple: StapleResult = { present: true, sizeBytes: stapleDer.length, verdict: stapleVerdictOf(verdict), issuerSource };
  if (probe.keepParsedResponse) staple.response = verdict.response;
  return staple;
}

/**
 * The module's opt-in responder checks (src/responder/), after the handshake and within the same
 * deadline: the leaf's responder (`query_responder`) and each intermediate's issuer responder
 * (`query_chain_responders`). They never throw and never fail the probe: their results are data.
 */
async function askResponders(
  result: ProbeResult,
  chainDer: Uint8Array[],
  issuerDer: Uint8Array | null,
  module: ModuleConfig,
  deadlineMs: number,
  deps: ProbeDeps,
): Promise<void> {
  const options = responderOptionsOf(module, deadlineMs, deps);
  const leafDer = chainDer[0];
  const [responder, chainResponders] = await Promise.all([
    module.queryResponder && leafDer && result.leaf
      ? checkResponder(leafDer, issuerDer, { ...options, urlOverride: module.responderUrl ?? null })
      : null,
    module.queryChainResponders
      ? checkChainResponders(chainDer, { ...options, caCertificates: module.caPem ? trustAnchorsOf(module).anchors : [] })
      : null,
  ]);
  if (module.queryResponder) result.responder = responder;
  if (module.queryChainResponders) result.chainResponders = chainResponders;
}
