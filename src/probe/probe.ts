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
import { trustAnchorsFrom, verifyChain } from '../x509/chain.js';
import { addressRefusal } from '../net/guard.js';
import { formatAddress, resolveAddresses, ResolveError, systemLookup, type LookupFn } from '../net/resolve.js';
import { handshake, secureContextFor, type HandshakeResult } from './tls.js';
import { stapleVerdictOf, type ProbeResult, type ProbeTarget, type StapleResult } from './types.js';
import { messageOf } from '../util/errors.js';

export interface ProbeDeps {
  lookup?: LookupFn;
  /** Clock for judging the staple, Unix ms. */
  now?: () => number;
  /** Where responder answers come from (module `query_responder`); default this thread's shared cache. */
  responderAnswers?: AnswerProvider;
  /** Keep the staple's parsed response in the result (`check` prints it); the daemon does not. */
  keepParsedResponse?: boolean;
}

const trustAnchors = new WeakMap<ModuleConfig, ReturnType<typeof trustAnchorsFrom>>();

function trustAnchorsOf(module: ModuleConfig): ReturnType<typeof trustAnchorsFrom> {
  let trust = trustAnchors.get(module);
  if (!trust) {
    trust = trustAnchorsFrom(module.caPem);
    trustAnchors.set(module, trust);
  }
  return trust;
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
    let addresses;
    try {
      addresses = await resolveAddresses(target.host, module.ipProtocol, module.probeAllAddresses, deadlineMs, deps.lookup ?? systemLookup);
    } catch (error) {
      const timedOut = error instanceof ResolveError && error.code === 'ERR_DNS_TIMEOUT';
      return [
        failed(base, formatAddress(target.host, target.port), timedOut ? 'timeout' : 'dns', messageOf(error), startedAtMs),
      ];
    }
    return await Promise.all(
      addresses.map(async ({ address }) => {
        const addressStartedMs = Date.now();
        // After resolution, so a name pointing at a metadata address cannot pass (guard.ts).
        const refusal = addressRefusal(address, module);
        if (refusal) return failed(base, formatAddress(address, target.port), 'blocked', refusal, addressStartedMs);
        const result = await handshake({
          address,
          port: target.port,
          serverName,
          secureContext: secureContextFor(module),
          deadlineMs,
        });
        const { judged, issuerDer } = judge(base, formatAddress(address, target.port), serverName ?? address, result, module, addressStartedMs, deps.now ?? Date.now, deps.keepParsedResponse === true);
        if (result.ok && (module.queryResponder || module.queryChainResponders)) {
          await askResponders(judged, result.chainDer, issuerDer, module, deadlineMs, deps);
        }
        return judged;
      }),
    );
  } catch (error) {
    return [failed(base, formatAddress(target.host, target.port), 'internal', messageOf(error), startedAtMs)];
  }
}

type ResultBase = Pick<ProbeResult, 'target' | 'module' | 'serverName' | 'labels' | 'startedAtMs'>;

function failed(
  base: ResultBase,
  address: string,
  reason: NonNullable<ProbeResult['failureReason']>,
  error: string,
  startedMs: number,
): ProbeResult {
  return {
    ...base,
    address,
    success: false,
    failureReason: reason,
    error,
    durationSeconds: (Date.now() - startedMs) / 1000,
    tls: null,
    chain: null,
    leaf: null,
    staple: null,
  };
}

function judge(
  base: ResultBase,
  address: string,
  /** The name the leaf must carry: the SNI sent, else the IP connected to. */
  expectedName: string,
  result: HandshakeResult,
  module: ModuleConfig,
  startedMs: number,
  now: () => number,
  keepParsedResponse: boolean,
): { judged: ProbeResult; issuerDer: Uint8Array | null } {
  if (!result.ok) return { judged: failed(base, address, result.reason, result.error, startedMs), issuerDer: null };
  const durationSeconds = (Date.now() - startedMs) / 1000;
  const leafDer = result.chainDer[0] ?? null;
  let leaf: CertificateFacts | null = null;
  let leafError: string | null = null;
  if (leafDer) {
    try {
      leaf = certificateFacts(leafDer);
    } catch (error) {
      leafError = `unreadable leaf certificate: ${messageOf(error)}`;
    }
  }

  // The chain exactly as presented (the handshake trusts nothing, see chain.ts); it also yields
  // the leaf's issuer: presented chain first, then the trust anchors.
  const chain = leaf ? verifyChain(result.chainDer, trustAnchorsOf(module), expectedName, now()) : null;
  const issuerDer = chain?.issuerDer ?? null;
  const issuerSource: StapleResult['issuerSource'] = chain?.issuerSource ?? null;

  let staple: StapleResult = { present: false, sizeBytes: 0, verdict: null, issuerSource };
  if (result.staple) {
    const verdict = verifyOcspResponse(result.staple, leaf ? leafDer : null, issuerDer, {
      now: new Date(now()),
      clockSkewSeconds: module.clockSkewSeconds,
    });
    staple = { present: true, sizeBytes: result.staple.length, verdict: stapleVerdictOf(verdict), issuerSource };
    if (keepParsedResponse) staple.response = verdict.response;
  }

  const judged: ProbeResult = {
    ...base,
    address,
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
  return { judged, issuerDer };
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
  const options = {
    deadlineMs,
    allowHttps: module.responderAllowHttps === true,
    allowLinkLocal: module.allowLinkLocal === true,
    cacheMaxAgeSeconds: module.responderCacheMaxAgeSeconds,
    clockSkewSeconds: module.clockSkewSeconds,
    now: deps.now,
    lookup: deps.lookup,
    answers: deps.responderAnswers,
  };
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
