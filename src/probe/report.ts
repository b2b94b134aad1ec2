/**
 * Probe results in words, shared by the operator commands (`inspect`, `check`), the probe log and
 * the status page: times, relative ages, what each OCSP problem means in plain words, and text from
 * certificates and servers made safe to print.
 */
import type { OcspProblem } from '../ocsp/types.js';
import type { ProbeResult, StapleVerdict } from './types.js';
import { escapeForTerminal } from '../util/text.js';

export function iso(date: Date | null | undefined): string | null {
  return date ? date.toISOString().replace(/\.000Z$/, 'Z') : null;
}

/** "3h 12m ago" / "in 2d 4h", two largest units. */
export function formatRelative(date: Date | null | undefined, now: Date): string {
  if (!date) return 'never';
  const deltaSeconds = Math.round((date.getTime() - now.getTime()) / 1000);
  if (deltaSeconds === 0) return 'now';
  const units: [string, number][] = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  let rest = Math.abs(deltaSeconds);
  const parts: string[] = [];
  for (const [name, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${name}`);
      rest %= size;
    } else if (parts.length > 0) break;
  }
  const span = parts.join(' ');
  return deltaSeconds > 0 ? `in ${span}` : `${span} ago`;
}

const PROBLEM_TEXT: Record<OcspProblem, string> = {
  unparseable: 'the bytes are not a DER OCSPResponse',
  not_successful: 'the responder did not answer successfully (e.g. tryLater): there is no status in it',
  unsupported_response_type: 'the response type is not id-pkix-ocsp-basic',
  wrong_certificate: 'no answer in it is about this certificate (issuer hashes or serial differ)',
  bad_signature: "the signature does not verify with the signer's key",
  unauthorized_responder:
    'the signer is neither the issuer nor a delegated responder the issuer certified for OCSP signing (id-kp-OCSPSigning)',
  signer_expired: "the delegated responder's certificate has expired: clients (OpenSSL, NSS) reject this staple even before its nextUpdate",
  signer_not_yet_valid: "the delegated responder's certificate is not valid yet (beyond the allowed clock skew): clients reject this staple",
  signer_expires_before_next_update:
    "the delegated responder's certificate expires before nextUpdate, so the staple stops being usable at the signer's notAfter (advisory)",
  responder_id_mismatch: 'the responder ID names someone other than the key that signed it',
  not_yet_valid: 'thisUpdate is in the future (beyond the allowed clock skew)',
  expired: 'nextUpdate has passed: clients will reject this staple',
  no_next_update: 'no nextUpdate: the responder promises nothing about freshness (advisory)',
  issuer_unknown: "the leaf or its issuer was not available, so signature and certificate match could not be checked",
};

export function describeProblem(problem: OcspProblem): string {
  return PROBLEM_TEXT[problem] ?? problem;
}

/** Which engine ran the handshake, for the TLS line: ", native engine" or ", node engine (the native engine handed over: …)". */
function engineNote(result: ProbeResult): string {
  const handshake = result.handshake;
  if (!handshake) return '';
  return `, ${handshake.engine} engine${handshake.fallback ? ` (the native engine ${handshake.fallback.reason === 'refused' ? 'handed over' : 'failed and handed over'}: ${handshake.fallback.why})` : ''}`;
}

/**
 * The verdict on one probed address as `check` prints it, one line each: the TLS parameters, the
 * chain, the issuer fetch, the certificate, the staple and each problem in plain words, the CA's
 * own answer. Values from the server are escaped. The probe's log (src/probe/log.ts) shows the same.
 */
export function checkLines(result: ProbeResult, now: Date): string[] {
  const lines: string[] = [];
  // Values carry the server's text (subject, error messages): escaped, so they cannot forge lines.
  const row = (label: string, value: string): void => {
    lines.push(`${(label + ':').padEnd(14)}${escapeForTerminal(value)}`);
  };
  row('Target', `${result.target} via ${result.address}${result.serverName ? ` (SNI ${result.serverName})` : ''}`);
  if (!result.success) {
    row('Probe', `FAILED (${result.failureReason}): ${result.error ?? ''}`);
    return lines;
  }
  row('TLS', `${result.tls?.version} ${result.tls?.cipher}, ${result.durationSeconds.toFixed(3)} s${engineNote(result)}`);
  row('Chain', result.chain?.verified ? `verified (${result.chain.length} certificates)` : `NOT verified: ${result.chain?.error ?? 'unknown'}`);
  const fetch = result.issuerFetch;
  if (fetch) row('Issuer fetch', fetch.used ? `from ${fetch.url} (${fetch.source}), verified to have issued the leaf` : `FAILED (${fetch.problem}): ${fetch.error ?? ''}`);
  if (result.leaf) {
    row('Certificate', `${result.leaf.subject}, serial ${result.leaf.serialNumber}, expires ${iso(result.leaf.notAfter)} (${formatRelative(result.leaf.notAfter, now)})`);
    row('OCSP URL', result.leaf.ocspUrls.length > 0 ? result.leaf.ocspUrls.join(', ') : 'none (nothing to staple)');
    row('Must-Staple', result.leaf.mustStaple ? 'yes' : 'no');
  }
  const staple = result.staple;
  if (!staple?.present) {
    const severity = result.leaf?.mustStaple ? ' (Must-Staple: clients will refuse this server)' : '';
    row('Staple', `MISSING${severity}`);
    return lines;
  }
  lines.push(...stapleLines({ sizeBytes: staple.sizeBytes, verdict: staple.verdict! }, staple.issuerSource, now));
  appendResponder(lines, result, now);
  return lines;
}

/** One `Label:   value` line of check's report, the value escaped for a terminal. */
export function reportRow(label: string, value: string): string {
  return `${(label + ':').padEnd(14)}${escapeForTerminal(value)}`;
}

/**
 * A present staple's verdict as `check` prints it: validity, size and issuer source, the status
 * and dates, each problem in plain words. Shared by `check HOST:PORT` and `check --file`.
 */
export function stapleLines(staple: { sizeBytes: number; verdict: StapleVerdict }, issuerSource: string | null, now: Date): string[] {
  const lines: string[] = [];
  const row = (label: string, value: string): void => void lines.push(reportRow(label, value));
  const verdict = staple.verdict;
  const single = verdict.single;
  row('Staple', `${verdict.valid ? 'VALID' : 'INVALID'}, ${staple.sizeBytes} bytes, issuer from ${issuerSource ?? 'nowhere'}`);
  if (single) {
    row('Status', single.certStatus.toUpperCase() + (single.certStatus === 'revoked' ? ` since ${iso(single.revocationTime)} (${single.revocationReason ?? 'no reason'})` : ''));
    row('This update', `${iso(single.thisUpdate)} (${formatRelative(single.thisUpdate, now)})`);
    row('Next update', single.nextUpdate ? `${iso(single.nextUpdate)} (${formatRelative(single.nextUpdate, now)})` : 'none');
  }
  for (const problem of verdict.problems) lines.push(`  - ${problem}: ${describeProblem(problem)}`);
  return lines;
}

/** The CA's own answer (module `query_responder` or `--query-responder`), beside the staple's. */
function appendResponder(lines: string[], result: ProbeResult, now: Date): void {
  const responder = result.responder;
  if (!responder) return;
  const label = 'Responder:'.padEnd(14);
  if (!responder.up) {
    lines.push(escapeForTerminal(`${label}DOWN or invalid${responder.url ? ` (${responder.url})` : ''}: ${responder.error ?? responder.problems.join(', ')}`));
    return;
  }
  const single = responder.verdict?.single;
  const status = single ? single.certStatus.toUpperCase() : 'no status';
  const when = single ? `, thisUpdate ${iso(single.thisUpdate)} (${formatRelative(single.thisUpdate, now)})` : '';
  lines.push(escapeForTerminal(`${label}${status} from ${responder.url} via ${responder.method ?? 'cache'}${when}`));
  const staple = result.staple?.verdict?.single;
  if (staple && single && staple.certStatus !== single.certStatus) {
    lines.push(`  - the staple says ${staple.certStatus} but the CA's responder says ${single.certStatus}`);
  }
}
