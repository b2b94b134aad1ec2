/**
 * `check HOST:PORT`: probe one target once, by hand, and print the verdict an SRE needs (staple or
 * not, valid or why not, status, dates, must-staple, chain), or the same as JSON. Uses the same
 * probe and modules as the daemon, so what `check` says is what `/metrics` would say.
 *
 * Exit status: 0 when every probed address staples a present, valid, good response; 1 otherwise;
 * 2 on usage or configuration errors.
 */
import { loadConfigFile } from '../config/load.js';
import { emptyConfig, moduleNamed, type Config } from '../config/schema.js';
import { parseTargetAddress } from '../config/target.js';
import { probeTarget } from '../probe/probe.js';
import { isStarttlsProtocol, STARTTLS_PROTOCOLS } from '../starttls/protocols.js';
import type { ProbeResult } from '../probe/types.js';
import { describeProblem, formatRelative, iso } from './format.js';
import { inspectReport } from './inspect.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { messageOf } from '../util/errors.js';
import { escapeForTerminal } from '../util/text.js';

export interface CheckOptions {
  target: string;
  host: string;
  port: number;
  serverName: string | null;
  module: string;
  config: Config;
  json: boolean;
}

export function parseCheckArgs(values: Record<string, string | boolean | undefined>, positionals: string[]): CheckOptions {
  if (positionals.length !== 1) throw new UsageError('check needs exactly one HOST:PORT');
  const target = positionals[0]!;
  let parsed;
  try {
    parsed = parseTargetAddress(target);
  } catch (error) {
    throw new UsageError(`check: ${messageOf(error)}`);
  }
  const config = typeof values['config.file'] === 'string' ? loadConfigFile(values['config.file']) : emptyConfig();
  const module = typeof values['module'] === 'string' ? values['module'] : 'default';
  // Own modules only: `toString` names no module, whatever Object.prototype has.
  if (!moduleNamed(config, module)) {
    throw new UsageError(`check: unknown module "${module}" (defined: ${Object.keys(config.modules).sort().join(', ')})`);
  }
  if (values['query-responder'] === true) config.modules[module] = { ...config.modules[module]!, queryResponder: true };
  if (values['fetch-issuer'] === true) config.modules[module] = { ...config.modules[module]!, fetchIssuer: true };
  const starttls = values['starttls'];
  if (typeof starttls === 'string') {
    if (!isStarttlsProtocol(starttls)) throw new UsageError(`check: unknown --starttls protocol "${starttls}" (use ${STARTTLS_PROTOCOLS.join(', ')})`);
    config.modules[module] = { ...config.modules[module]!, starttls };
  }
  return {
    target,
    host: parsed.host,
    port: parsed.port,
    serverName: typeof values['server-name'] === 'string' ? values['server-name'] : null,
    module,
    config,
    json: values['json'] === true,
  };
}

export async function runCheck(options: CheckOptions, io: CommandIO): Promise<number> {
  const module = moduleNamed(options.config, options.module)!;
  const results = await probeTarget(
    { target: options.target, host: options.host, port: options.port, module: module.name, serverName: options.serverName, labels: {} },
    module,
    Date.now() + module.timeoutSeconds * 1000,
    { keepParsedResponse: true },
  );
  const now = new Date();
  io.stdout(options.json ? JSON.stringify(results.map((r) => checkReport(r, now)), null, 2) + '\n' : results.map((r) => humanCheck(r, now)).join('\n'));
  // A CA answer saying revoked outweighs a stale "good" staple.
  const allGood = results.every(
    (r) =>
      r.staple?.verdict?.valid === true &&
      r.staple.verdict.single?.certStatus === 'good' &&
      !(r.responder?.up && r.responder.verdict?.single?.certStatus === 'revoked'),
  );
  return allGood ? EXIT.ok : EXIT.notGood;
}

function checkReport(result: ProbeResult, now: Date): Record<string, unknown> {
  const verdict = result.staple?.verdict ?? null;
  return {
    target: result.target,
    address: result.address,
    serverName: result.serverName,
    success: result.success,
    failureReason: result.failureReason,
    error: result.error,
    durationSeconds: result.durationSeconds,
    tls: result.tls,
    chain: result.chain,
    leaf: result.leaf && {
      ...result.leaf,
      notBefore: iso(result.leaf.notBefore),
      notAfter: iso(result.leaf.notAfter),
    },
    staplePresent: result.staple?.present ?? null,
    stapleSizeBytes: result.staple?.sizeBytes ?? null,
    issuerSource: result.staple?.issuerSource ?? null,
    issuerFetch: result.issuerFetch ?? null,
    staple: verdict ? inspectReport({ ...verdict, response: result.staple?.response ?? null }, now) : null,
    responder: result.responder
      ? {
          url: result.responder.url,
          up: result.responder.up,
          method: result.responder.method,
          source: result.responder.source,
          httpStatus: result.responder.httpStatus,
          problems: result.responder.problems,
          error: result.responder.error,
          answer: result.responder.verdict ? inspectReport(result.responder.verdict, now) : null,
        }
      : null,
  };
}

function humanCheck(result: ProbeResult, now: Date): string {
  const lines: string[] = [];
  // Values carry the server's text (subject, error messages): escaped, so they cannot forge lines.
  const row = (label: string, value: string): void => {
    lines.push(`${(label + ':').padEnd(14)}${escapeForTerminal(value)}`);
  };
  row('Target', `${result.target} via ${result.address}${result.serverName ? ` (SNI ${result.serverName})` : ''}`);
  if (!result.success) {
    row('Probe', `FAILED (${result.failureReason}): ${result.error ?? ''}`);
    return lines.join('\n') + '\n';
  }
  row('TLS', `${result.tls?.version} ${result.tls?.cipher}, ${result.durationSeconds.toFixed(3)} s`);
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
    return lines.join('\n') + '\n';
  }
  const verdict = staple.verdict!;
  const single = verdict.single;
  row('Staple', `${verdict.valid ? 'VALID' : 'INVALID'}, ${staple.sizeBytes} bytes, issuer from ${staple.issuerSource ?? 'nowhere'}`);
  if (single) {
    row('Status', single.certStatus.toUpperCase() + (single.certStatus === 'revoked' ? ` since ${iso(single.revocationTime)} (${single.revocationReason ?? 'no reason'})` : ''));
    row('This update', `${iso(single.thisUpdate)} (${formatRelative(single.thisUpdate, now)})`);
    row('Next update', single.nextUpdate ? `${iso(single.nextUpdate)} (${formatRelative(single.nextUpdate, now)})` : 'none');
  }
  for (const problem of verdict.problems) lines.push(`  - ${problem}: ${describeProblem(problem)}`);
  appendResponder(lines, result, now);
  return lines.join('\n') + '\n';
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
