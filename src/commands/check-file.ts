/**
 * `check --file STAPLE --cert CERT [--issuer ISSUER]`: judge one staple file on disk against its
 * certificate, by hand, exactly as a `staple_files` entry does at each scrape (same reader, issuer
 * search, module settings and verifier), and print the same verdict `check HOST:PORT` prints for a
 * served staple, plus when the file was written and by when the refresh job must rewrite it. CERT
 * may be an HAProxy bundle with the private key: only its certificates are read. Every value from
 * a file is escaped.
 *
 * Exit status: 0 when the file holds a present, valid, good staple; 1 otherwise (unreadable files
 * included); 2 on usage or configuration errors.
 */
import { resolve } from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { emptyConfig, moduleNamed, type Config } from '../config/schema.js';
import { DEFAULT_REWRITE_WITHIN, type StapleFileEntry } from '../config/staple-files.js';
import { rewriteDeadlineMs } from '../sources/staple-file-judge.js';
import { createPairJudge } from '../sources/staple-files.js';
import type { StapleFileResult } from '../sources/staple-file-result.js';
import { formatRelative, iso, reportRow, stapleLines } from '../probe/report.js';
import { inspectReport } from './inspect.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export interface CheckFileOptions {
  entry: StapleFileEntry & { layout: { kind: 'pair' } };
  config: Config;
  json: boolean;
}

export function parseCheckFileArgs(values: Record<string, string | boolean | undefined>, positionals: string[]): CheckFileOptions {
  if (positionals.length > 0) throw new UsageError(`check --file takes no HOST:PORT (got "${positionals.join(' ')}")`);
  const staple = values['file'];
  const certificate = values['cert'];
  if (typeof staple !== 'string' || staple === '') throw new UsageError('check --file needs a staple file');
  if (typeof certificate !== 'string' || certificate === '') throw new UsageError('check --file needs --cert CERT (the certificate or bundle the staple is about)');
  const config = typeof values['config.file'] === 'string' ? loadConfigFile(values['config.file']) : emptyConfig();
  const module = typeof values['module'] === 'string' ? values['module'] : 'default';
  if (!moduleNamed(config, module)) {
    throw new UsageError(`check: unknown module "${module}" (defined: ${Object.keys(config.modules).sort().join(', ')})`);
  }
  const issuer = values['issuer'];
  return {
    // Relative to the working directory, as any file named on a command line.
    entry: {
      layout: { kind: 'pair', staple: resolve(staple), certificate: resolve(certificate) },
      issuer: typeof issuer === 'string' ? resolve(issuer) : null,
      module,
      labels: {},
      rewriteWithin: DEFAULT_REWRITE_WITHIN,
    },
    config,
    json: values['json'] === true,
  };
}

export async function runCheckFile(options: CheckFileOptions, io: CommandIO): Promise<number> {
  const { entry, config } = options;
  const module = moduleNamed(config, entry.module)!;
  const nowMs = Date.now();
  const { staple, certificate } = entry.layout;
  // HAProxy's layout: `<bundle>.ocsp` beside the bundle, `<bundle>.issuer` too when present.
  const haproxyIssuer = staple === `${certificate}.ocsp` ? `${certificate}.issuer` : null;
  const { result } = createPairJudge().judgePair(entry, { staple, certificate, haproxyIssuer }, module, nowMs, true);
  const now = new Date(nowMs);
  io.stdout(options.json ? JSON.stringify(report(result, now), null, 2) + '\n' : human(result, now));
  const verdict = result.staple?.verdict;
  return result.readable && verdict?.valid === true && verdict.single?.certStatus === 'good' ? EXIT.ok : EXIT.notGood;
}

function report(result: StapleFileResult, now: Date): Record<string, unknown> {
  const verdict = result.staple?.verdict ?? null;
  const deadline = rewriteDeadlineMs(result);
  return {
    file: result.file,
    certificate: result.certificate,
    readable: result.readable,
    problem: result.problem,
    modifiedAt: result.modifiedAtMs === null ? null : new Date(result.modifiedAtMs).toISOString(),
    rewriteDeadline: deadline === null ? null : new Date(deadline).toISOString(),
    leaf: result.leaf && { ...result.leaf, notBefore: iso(result.leaf.notBefore), notAfter: iso(result.leaf.notAfter) },
    staplePresent: result.staple ? result.staple.present : result.stapleMissing ? false : null,
    stapleSizeBytes: result.staple?.sizeBytes ?? null,
    issuerSource: result.issuerSource,
    staple: verdict ? inspectReport({ ...verdict, response: result.staple?.response ?? null }, now) : null,
  };
}

function human(result: StapleFileResult, now: Date): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => void lines.push(reportRow(label, value));
  const modified = result.modifiedAtMs === null ? null : new Date(result.modifiedAtMs);
  row('File', `${result.file}${modified ? `, written ${iso(modified)} (${formatRelative(modified, now)})` : ''}`);
  row('Certificate', result.certificate);
  if (result.problem) row('Problem', `UNREADABLE (${result.problem.reason}): ${result.problem.message}`);
  const leaf = result.leaf;
  if (leaf) {
    row('Subject', `${leaf.subject}, serial ${leaf.serialNumber}, expires ${iso(leaf.notAfter)} (${formatRelative(leaf.notAfter, now)})`);
    row('OCSP URL', leaf.ocspUrls.length > 0 ? leaf.ocspUrls.join(', ') : 'none (nothing to staple)');
    row('Must-Staple', leaf.mustStaple ? 'yes' : 'no');
  }
  const staple = result.staple;
  if (result.stapleMissing || (staple && !staple.present)) {
    const what = result.stapleMissing ? 'MISSING (no such file)' : 'NONE (the file is empty)';
    row('Staple', `${what}${leaf?.mustStaple ? ' (Must-Staple: clients will refuse this server)' : ''}`);
  } else if (staple?.verdict) {
    lines.push(...stapleLines({ sizeBytes: staple.sizeBytes, verdict: staple.verdict }, result.issuerSource, now));
    const deadline = rewriteDeadlineMs(result);
    if (deadline !== null) {
      const at = new Date(deadline);
      const late = deadline < now.getTime() ? ' (passed: the refresh job has stalled)' : '';
      row('Rewrite by', `${iso(at)} (${formatRelative(at, now)}), ${result.rewriteWithin} of the usable window after it was written${late}`);
    }
  }
  return lines.join('\n') + '\n';
}
