/**
 * `check --responder-check CERT`: ask a certificate's OCSP responder once, by hand, exactly as a
 * `responder_checks` entry does at each scrape (same source, module settings and verdict), and
 * print the answer and what it means: up or why not, status, the answer's dates, who signed it.
 * CERT may be a glob (each match is checked). Every value from a file or a responder is escaped.
 *
 * Exit status: 0 when every certificate's responder gave a verified answer saying good; 1
 * otherwise; 2 on usage or configuration errors.
 */
import { resolve } from 'node:path';
import type { ResponderCheckEntry } from '../config/responder-checks.js';
import { loadConfigFile } from '../config/load.js';
import { emptyConfig, moduleNamed, type Config } from '../config/schema.js';
import { globPatternProblem, hasGlobMagic } from '../files/glob.js';
import { TRANSPORT_PROBLEMS, type ResponderProblem, type TransportProblem } from '../responder/types.js';
import type { OcspProblem } from '../ocsp/types.js';
import { createResponderCheckSource } from '../sources/responder-checks.js';
import type { ResponderCheckResult } from '../sources/responder-check-result.js';
import { escapeForTerminal } from '../util/text.js';
import { describeProblem, formatRelative, iso } from '../probe/report.js';
import { inspectReport } from './inspect.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export interface ResponderCheckOptions {
  entry: ResponderCheckEntry;
  config: Config;
  json: boolean;
}

export function parseResponderCheckArgs(values: Record<string, string | boolean | undefined>, positionals: string[]): ResponderCheckOptions {
  if (positionals.length > 0) throw new UsageError(`check --responder-check takes no HOST:PORT (got "${positionals.join(' ')}")`);
  const certificate = values['responder-check'];
  if (typeof certificate !== 'string' || certificate === '') throw new UsageError('check --responder-check needs a certificate file');
  const config = typeof values['config.file'] === 'string' ? loadConfigFile(values['config.file']) : emptyConfig();
  const module = typeof values['module'] === 'string' ? values['module'] : 'default';
  if (!moduleNamed(config, module)) {
    throw new UsageError(`check: unknown module "${module}" (defined: ${Object.keys(config.modules).sort().join(', ')})`);
  }
  const glob = hasGlobMagic(certificate);
  const problem = glob ? globPatternProblem(certificate) : null;
  if (problem) throw new UsageError(`check --responder-check: invalid glob: ${problem}`);
  const issuer = values['issuer'];
  return {
    // Relative to the working directory, as any file named on a command line.
    entry: { certificate: resolve(certificate), glob, issuer: typeof issuer === 'string' ? resolve(issuer) : null, module, labels: {} },
    config,
    json: values['json'] === true,
  };
}

export async function runResponderCheck(options: ResponderCheckOptions, io: CommandIO): Promise<number> {
  const results = await createResponderCheckSource().check({ ...options.config, responderChecks: [options.entry] }, Infinity);
  const now = new Date();
  io.stdout(options.json ? JSON.stringify(results.map((r) => report(r, now)), null, 2) + '\n' : results.map((r) => human(r, now)).join('\n'));
  const allGood = results.every((r) => r.responder?.up === true && r.responder.verdict?.single?.certStatus === 'good');
  return allGood ? EXIT.ok : EXIT.notGood;
}

function report(result: ResponderCheckResult, now: Date): Record<string, unknown> {
  const responder = result.responder;
  return {
    certificate: result.certificate,
    module: result.module,
    readable: result.problem === null,
    problem: result.problem,
    leaf: result.leaf && { ...result.leaf, notBefore: iso(result.leaf.notBefore), notAfter: iso(result.leaf.notAfter) },
    issuerSource: result.issuerSource,
    responder: responder && {
      url: responder.url,
      urlSource: responder.urlSource,
      up: responder.up,
      method: responder.method,
      source: responder.source,
      httpStatus: responder.httpStatus,
      durationSeconds: responder.durationSeconds,
      fetchedAt: responder.fetchedAtMs === null ? null : new Date(responder.fetchedAtMs).toISOString(),
      problems: responder.problems,
      error: responder.error,
      answer: responder.verdict ? inspectReport(responder.verdict, now) : null,
    },
  };
}

const TRANSPORT_PROBLEM_TEXT: Record<TransportProblem, string> = {
  no_url: 'the certificate names no OCSP responder (no AIA OCSP URL) and the module sets no responder_url',
  bad_url: 'the URL is not an absolute http:// (or allowed https://) URL without a query string: not asked',
  https_not_allowed: 'an https:// responder while the module does not set responder_allow_https: not asked',
  blocked: 'the address is link-local or a metadata service (the address guard): not asked',
  not_allowed: 'the destination is not allowed by global.responder_allowlist (loopback and the exporter itself need listing): not asked',
  dns: 'the host name did not resolve',
  connect: 'the connection was refused, reset or closed before a whole answer',
  timeout: "no whole answer before the deadline (the scrape's or the module's timeout)",
  http_status: 'an HTTP status other than 200',
  redirect: 'a redirect, which is never followed (configure the target as responder_url instead)',
  too_large: 'the answer is larger than 64 KiB',
};

function describe(problem: ResponderProblem): string {
  return (TRANSPORT_PROBLEMS as readonly string[]).includes(problem) ? TRANSPORT_PROBLEM_TEXT[problem as TransportProblem] : describeProblem(problem as OcspProblem);
}

function human(result: ResponderCheckResult, now: Date): string {
  const lines: string[] = [];
  // File names, subjects, URLs and responder messages are not ours: escaped, so they cannot forge lines.
  const row = (label: string, value: string): void => {
    lines.push(`${(label + ':').padEnd(14)}${escapeForTerminal(value)}`);
  };
  row('Certificate', result.certificate);
  if (result.problem) {
    row('File', `UNUSABLE (${result.problem.reason}): ${result.problem.message}`);
    return lines.join('\n') + '\n';
  }
  const leaf = result.leaf!;
  row('Subject', `${leaf.subject}, serial ${leaf.serialNumber}, expires ${iso(leaf.notAfter)} (${formatRelative(leaf.notAfter, now)})`);
  row('Issuer', result.issuerSource ? `from ${result.issuerSource}` : 'NOT FOUND (neither in the bundle, the issuer file nor the CA file)');
  const responder = result.responder!;
  if (responder.url === null) {
    row('Responder', `NONE: ${responder.error ?? 'no OCSP URL'}`);
    return lines.join('\n') + '\n';
  }
  const via = responder.method ? `${responder.method}${responder.durationSeconds !== null ? `, ${responder.durationSeconds.toFixed(3)} s` : ''}` : 'not asked';
  row('Responder', `${responder.up ? 'UP' : 'DOWN or invalid'}: ${responder.url} (${responder.urlSource === 'config' ? 'responder_url' : 'AIA'}; ${via}${responder.httpStatus !== null ? `, HTTP ${responder.httpStatus}` : ''})`);
  if (!responder.up && responder.error) row('Why', responder.error);
  const verdict = responder.verdict;
  const response = verdict?.response;
  if (response) row('Response', `${response.responseStatus}, ${response.size} bytes`);
  const single = verdict?.single;
  if (verdict && single && response?.responseStatus === 'successful') {
    const revoked = single.certStatus === 'revoked' ? ` since ${iso(single.revocationTime)} (${single.revocationReason ?? 'no reason'})` : '';
    row('Status', `${single.certStatus.toUpperCase()}${revoked}${verdict.valid ? '' : ' (from an answer that failed verification: not to be trusted)'}`);
    if (response.basic) row('Produced at', `${iso(response.basic.producedAt)} (${formatRelative(response.basic.producedAt, now)})`);
    row('This update', `${iso(single.thisUpdate)} (${formatRelative(single.thisUpdate, now)})`);
    row('Next update', single.nextUpdate ? `${iso(single.nextUpdate)} (${formatRelative(single.nextUpdate, now)})` : 'none');
    const signer = verdict.signer;
    row('Signed by', signer.kind === 'delegated' ? `delegated responder ${signer.subject ?? '?'}, expires ${iso(signer.notAfter)} (${formatRelative(signer.notAfter, now)})` : signer.kind);
  }
  for (const problem of responder.problems) lines.push(escapeForTerminal(`  - ${problem}: ${describe(problem)}`));
  return lines.join('\n') + '\n';
}
