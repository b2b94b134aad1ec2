/**
 * A probe's own log, as blackbox_exporter's `/probe?debug=true` shows one: what happened, step by
 * step, in plain text. The probe records only a few timed steps as it goes (resolved, connected,
 * tunnel and STARTTLS done, handshake done, judged: {@link ProbeLogLine}, plain data that crosses
 * worker threads); everything else is derived afterwards from the result, which already holds the
 * TLS parameters, the presented chain, the verdict and the responder's answer. So the probe path
 * pays for a few timestamps and short strings, and the text is only built when someone reads it.
 *
 * Every value that came from the network (names, subjects, errors, URLs) is escaped with
 * `escapeForTerminal`, so a hostile certificate cannot forge log lines or drive a terminal; the
 * text is bounded ({@link MAX_LOG_TEXT_CHARS}).
 */
import { checkLines, describeProblem, iso } from './report.js';
import type { OcspProblem } from '../ocsp/types.js';
import { TRANSPORT_PROBLEMS, type ResponderProblem, type ResponderResult } from '../responder/types.js';
import { escapeForTerminal } from '../util/text.js';
import type { ProbeResult } from './types.js';

export type { ProbeLogLine } from './types.js';

/** The longest log text {@link probeLogText} returns (about 64 KiB of characters), a "… truncated" line included. */
export const MAX_LOG_TEXT_CHARS = 64 * 1024;

/** The probe's log as plain text, one step a line; values from the network escaped, bounded in size. */
export function probeLogText(result: ProbeResult): string {
  const out = new BoundedText(MAX_LOG_TEXT_CHARS);
  const startedAt = new Date(result.startedAtMs);
  out.line(`Probe of ${result.target} (address ${result.address}, module ${result.module}) started at ${iso(startedAt)}`);
  for (const step of result.log ?? []) out.line(`${timeOf(step.atMs)} ${step.text}`);
  // The duration (ocsp_probe_duration_seconds) counts from the address's own start, after resolution.
  const took = `${result.durationSeconds.toFixed(3)} s`;
  if (!result.success) {
    out.line(`Outcome: probe failed (${result.failureReason}) after ${took}: ${result.error ?? ''}`);
    return out.text();
  }
  out.line(`Outcome: handshake completed (ocsp_probe_duration_seconds ${result.durationSeconds.toFixed(3)})`);
  if (result.tls) out.line(`TLS: ${result.tls.version}, cipher ${result.tls.cipher}, SNI ${result.serverName ?? 'none sent'}`);
  const presented = result.presented ?? [];
  out.line(`Presented chain: ${result.chain?.length ?? presented.length} certificate(s)`);
  presented.forEach((cert, index) => {
    out.line(`  [${index}] subject   ${cert.subject}`);
    out.line(`      issuer    ${cert.issuer}`);
    out.line(`      serial    ${cert.serial}`);
    out.line(`      validity  ${cert.notBefore} to ${cert.notAfter}`);
  });
  out.line('Verdict:');
  // The very wording `check` prints (already escaped); judged at the probe's time, not the reader's.
  const judgedAt = new Date(result.startedAtMs + Math.max(result.durationSeconds * 1000, result.log?.at(-1)?.atMs ?? 0));
  for (const line of checkLines(result, judgedAt).slice(1)) out.raw(`  ${line}`);
  if (result.responder) responderLines(out, 'Responder query (query_responder)', result.responder);
  for (const chained of result.chainResponders ?? []) {
    responderLines(out, `Chain responder query for [${chained.depth}] ${chained.subject} (issuer from ${chained.issuerSource ?? 'nowhere'})`, chained.responder);
  }
  return out.text();
}

/** One responder exchange, step by step: the URL and where it came from, the request, the answer and its judgement. */
function responderLines(out: BoundedText, title: string, responder: ResponderResult): void {
  out.line(`${title}:`);
  out.line(`  URL        ${responder.url ?? 'none'}${responder.urlSource ? ` (from ${responder.urlSource === 'aia' ? "the certificate's AIA" : 'responder_url'})` : ''}`);
  if (responder.source === null) {
    out.line(`  not asked: ${responder.error ?? responder.problems.join(', ')}`);
    return;
  }
  const fetched = responder.fetchedAtMs === null ? '' : ` at ${iso(new Date(responder.fetchedAtMs))}`;
  const took = responder.durationSeconds === null ? '' : ` in ${responder.durationSeconds.toFixed(3)} s`;
  out.line(`  request    ${responder.method ?? '?'} (answer from ${responder.source}${fetched}${took})`);
  out.line(`  answer     ${responder.httpStatus === null ? 'no HTTP status' : `HTTP ${responder.httpStatus}`}`);
  const single = responder.verdict?.single;
  out.line(`  verdict    ${responder.up ? 'up' : 'DOWN or invalid'}${single ? `, ${single.certStatus}` : ''}${responder.problems.length > 0 ? `; problems ${responder.problems.join(', ')}` : ''}`);
  for (const problem of responder.problems) if (isOcspProblem(problem)) out.line(`    - ${problem}: ${describeProblem(problem)}`);
  if (responder.error) out.line(`  error      ${responder.error}`);
}

function isOcspProblem(problem: ResponderProblem): problem is OcspProblem {
  return !(TRANSPORT_PROBLEMS as readonly string[]).includes(problem);
}

function timeOf(ms: number): string {
  return `+${(ms / 1000).toFixed(3)}s`;
}

/** Lines (escaped unless already) up to a bound of characters; past it, one "… truncated" line. */
class BoundedText {
  private parts: string[] = [];
  private chars = 0;
  private truncated = false;
  constructor(private readonly maxChars: number) {}

  /** A line holding values from the network: escaped. */
  line(text: string): void {
    this.raw(escapeForTerminal(text));
  }

  /** A line already escaped. */
  raw(text: string): void {
    if (this.truncated) return;
    const room = this.maxChars - this.chars - TRUNCATED.length - 1;
    if (text.length + 1 > room) {
      this.parts.push(text.slice(0, Math.max(0, room)) + '\n' + TRUNCATED);
      this.truncated = true;
      return;
    }
    this.parts.push(text);
    this.chars += text.length + 1;
  }

  text(): string {
    return this.parts.join('\n') + '\n';
  }
}

const TRUNCATED = '… truncated (the log is longer than this page shows)';
