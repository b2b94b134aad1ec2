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
import { checkLines, iso } from '../probe/report.js';
import { inspectReport } from './inspect.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { messageOf } from '../util/errors.js';

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
  const handshake = values['handshake'];
  if (typeof handshake === 'string') {
    if (handshake !== 'native' && handshake !== 'node') throw new UsageError(`check: unknown --handshake engine "${handshake}" (use native or node)`);
    if (handshake === 'native' && config.modules[module]!.clientCertPem) {
      throw new UsageError(`check: module "${module}" sends a client certificate, which the native engine does not: use --handshake node`);
    }
    config.modules[module] = { ...config.modules[module]!, handshake };
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
  return checkLines(result, now).join('\n') + '\n';
}
