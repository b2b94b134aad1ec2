/**
 * `inspect`: read one OCSP response file (DER, PEM or base64), optionally with the leaf and its
 * issuer, and report what it says and whether it is valid at a given time. The operator's tool,
 * and the way the OCSP core is checked end to end against OpenSSL's reading.
 *
 * Exit status: 0 valid and good; 1 parsed but not valid or not good; 2 unreadable input or usage.
 */
import { findIssuer } from '../x509/certificate.js';
import { decodeOcspResponseInput } from '../ocsp/input.js';
import { decodeCertificatesInput } from '../x509/input.js';
import type { OcspVerdict, SingleResponseInfo } from '../ocsp/types.js';
import { ADVISORY_PROBLEMS, stapleEnd, verifyOcspResponse } from '../ocsp/verify.js';
import { describeProblem, formatRelative, iso } from '../probe/report.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { messageOf } from '../util/errors.js';
import { FileTooLargeError, NotRegularFileError, readFileCapped, readStdinCapped } from '../util/files.js';
import { escapeForTerminal } from '../util/text.js';

/**
 * OCSP responses and certificate bundles are kilobytes; 10 MiB (the config files' cap) leaves
 * room for any real chain and keeps /dev/zero or a runaway pipe from filling memory.
 */
export const MAX_INSPECT_INPUT_BYTES = 10 * 1024 * 1024;

export interface InspectOptions {
  response: string;
  cert: string | null;
  issuer: string | null;
  at: Date;
  json: boolean;
  clockSkewSeconds: number;
}

export function parseInspectArgs(values: Record<string, string | boolean | undefined>): InspectOptions {
  const response = values['response'];
  if (typeof response !== 'string' || response === '') throw new UsageError('inspect needs --response FILE');
  let at = new Date();
  if (typeof values['at'] === 'string') {
    at = new Date(values['at']);
    if (Number.isNaN(at.getTime())) throw new UsageError(`--at: not an ISO 8601 time: "${values['at']}"`);
  }
  let clockSkewSeconds = 300;
  if (typeof values['clock-skew'] === 'string') {
    clockSkewSeconds = Number(values['clock-skew']);
    if (!Number.isFinite(clockSkewSeconds) || clockSkewSeconds < 0) {
      throw new UsageError(`--clock-skew: expected seconds >= 0, got "${values['clock-skew']}"`);
    }
  }
  // Standard input can be read once only.
  if ([response, values['cert'], values['issuer']].filter((value) => value === '-').length > 1) {
    throw new UsageError('inspect: only one of --response, --cert and --issuer can be - (standard input)');
  }
  return {
    response,
    cert: typeof values['cert'] === 'string' ? values['cert'] : null,
    issuer: typeof values['issuer'] === 'string' ? values['issuer'] : null,
    at,
    json: values['json'] === true,
    clockSkewSeconds,
  };
}

export function runInspect(options: InspectOptions, io: CommandIO): number {
  let der: Uint8Array;
  let leaf: Uint8Array | null = null;
  let issuer: Uint8Array | null = null;
  try {
    der = decodeOcspResponseInput(readInput(options.response, '--response'));
    if (options.cert) {
      const certs = decodeCertificatesInput(readInput(options.cert, '--cert'));
      leaf = certs[0] ?? null;
      // A PEM bundle with the chain after the leaf is a common way to hand both over.
      if (!options.issuer && leaf) issuer = findIssuer(leaf, certs.slice(1));
    }
    if (options.issuer) {
      const certs = decodeCertificatesInput(readInput(options.issuer, '--issuer'));
      issuer = (leaf && findIssuer(leaf, certs)) ?? certs[0] ?? null;
    }
  } catch (error) {
    io.stderr(`inspect: ${escapeForTerminal(messageOf(error))}\n`);
    if (options.json) io.stdout(JSON.stringify(unreadableReport(error)) + '\n');
    return EXIT.unreadable;
  }

  const verdict = verifyOcspResponse(der, leaf, issuer, {
    now: options.at,
    clockSkewSeconds: options.clockSkewSeconds,
  });
  if (!verdict.response) {
    const message = verdict.parseError?.message ?? 'unparseable OCSP response';
    io.stderr(`inspect: ${escapeForTerminal(`${options.response}: ${message}`)}\n`);
    if (options.json) io.stdout(JSON.stringify(inspectReport(verdict, options.at)) + '\n');
    return EXIT.unreadable;
  }
  io.stdout(options.json ? JSON.stringify(inspectReport(verdict, options.at), null, 2) + '\n' : humanReport(verdict, options));
  return verdict.valid && verdict.single?.certStatus === 'good' ? EXIT.ok : EXIT.notGood;
}

/** A regular file, or standard input for `-` (a pipe is fine there); both capped. */
function readInput(path: string, flag: string): Uint8Array {
  try {
    return path === '-' ? readStdinCapped(MAX_INSPECT_INPUT_BYTES) : readFileCapped(path, MAX_INSPECT_INPUT_BYTES);
  } catch (error) {
    if (error instanceof NotRegularFileError) {
      throw new UsageError(`${flag} ${path}: ${error.message}${error.kind === 'a FIFO' ? '; use - to read standard input' : ''}`);
    }
    if (error instanceof FileTooLargeError) throw new UsageError(`${flag} ${path}: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${path}: cannot read file${code ? ` (${code})` : ''}`);
  }
}

function unreadableReport(error: unknown): Record<string, unknown> {
  return {
    error: {
      code: (error as { code?: string }).code ?? 'ERR_INPUT',
      message: messageOf(error),
    },
    valid: false,
    problems: ['unparseable'],
  };
}

/** The `--json` shape: stable keys, ISO 8601 UTC times, null for absent or unknowable values. */
export function inspectReport(verdict: OcspVerdict, at: Date): Record<string, unknown> {
  const response = verdict.response;
  const basic = response?.basic ?? null;
  const single = verdict.single;
  return {
    responseStatus: response?.responseStatus ?? null,
    responseType: response?.responseType ?? null,
    certStatus: single?.certStatus ?? null,
    thisUpdate: iso(single?.thisUpdate ?? null),
    nextUpdate: iso(single?.nextUpdate ?? null),
    producedAt: iso(basic?.producedAt ?? null),
    revocationTime: iso(single?.revocationTime ?? null),
    revocationReason: single?.revocationReason ?? null,
    serialNumber: single?.certId.serialNumber ?? null,
    responderId: basic?.responderId ?? null,
    signatureAlgorithm: basic?.signatureAlgorithm.name ?? null,
    signatureAlgorithmOid: basic?.signatureAlgorithm.oid ?? null,
    numCertificates: basic?.certificates.length ?? 0,
    numSingleResponses: basic?.singleResponses.length ?? 0,
    singleResponses: (basic?.singleResponses ?? []).map((s, index) => singleReport(s, index === verdict.matchedIndex)),
    signatureValid: verdict.signatureValid,
    signatureVerifies: verdict.signatureVerifies,
    certIdMatchesLeaf: verdict.certIdMatchesLeaf,
    signer: { ...verdict.signer, notBefore: iso(verdict.signer.notBefore), notAfter: iso(verdict.signer.notAfter) },
    end: iso(stapleEnd(verdict)),
    valid: verdict.valid,
    problems: verdict.problems,
    verifiedAt: at.toISOString(),
    sizeBytes: response?.size ?? null,
    error: verdict.parseError,
  };
}

function singleReport(s: SingleResponseInfo, matchesLeaf: boolean): Record<string, unknown> {
  return {
    serialNumber: s.certId.serialNumber,
    certIdHashAlgorithm: s.certId.hashAlgorithm.name,
    issuerNameHash: s.certId.issuerNameHash,
    issuerKeyHash: s.certId.issuerKeyHash,
    certStatus: s.certStatus,
    thisUpdate: iso(s.thisUpdate),
    nextUpdate: iso(s.nextUpdate),
    revocationTime: iso(s.revocationTime),
    revocationReason: s.revocationReason,
    matchesLeaf,
  };
}

function humanReport(verdict: OcspVerdict, options: InspectOptions): string {
  const at = options.at;
  const response = verdict.response!;
  const basic = response.basic;
  const single = verdict.single;
  const lines: string[] = [];
  // Values carry the response's text (signer subject, responder name): escaped, so they cannot forge lines.
  const row = (label: string, value: string): void => {
    lines.push(`${(label + ':').padEnd(14)}${escapeForTerminal(value)}`);
  };
  row('Verdict', verdict.valid ? 'VALID' : `INVALID (${verdict.problems.filter((p) => !ADVISORY_PROBLEMS.has(p)).join(', ')})`);
  row('Response', `${response.responseStatus}, ${response.size} bytes${basic ? `, ${basic.singleResponses.length} SingleResponse(s)` : ''}`);
  if (single) {
    const match =
      verdict.certIdMatchesLeaf === null ? 'leaf not given' : verdict.certIdMatchesLeaf ? 'matches the leaf' : 'does NOT match the leaf';
    row('Status', `${single.certStatus.toUpperCase()} for serial ${single.certId.serialNumber} (${match})`);
    if (single.certStatus === 'revoked') {
      row('Revoked', `${iso(single.revocationTime)} (${formatRelative(single.revocationTime, at)}), reason ${single.revocationReason ?? 'not given'}`);
    }
    row('This update', `${iso(single.thisUpdate)} (${formatRelative(single.thisUpdate, at)})`);
    row('Next update', single.nextUpdate ? `${iso(single.nextUpdate)} (${formatRelative(single.nextUpdate, at)})` : 'none (the responder set no nextUpdate)');
    const end = stapleEnd(verdict);
    if (end && end.getTime() !== single.nextUpdate?.getTime()) {
      row('Usable until', `${iso(end)} (${formatRelative(end, at)}): the delegated signer's notAfter, before nextUpdate`);
    }
    if (end) {
      const window = (end.getTime() - single.thisUpdate.getTime()) / 1000;
      const used = window > 0 ? Math.round(((at.getTime() - single.thisUpdate.getTime()) / 1000 / window) * 100) : 0;
      row('Validity', `${formatSpan(window)}, ${used}% elapsed${used > 50 ? ' (past half: the server should have refreshed it)' : ''}`);
    }
  }
  if (basic) {
    row('Produced at', `${iso(basic.producedAt)} (${formatRelative(basic.producedAt, at)})`);
    const who = verdict.signer.kind === 'unknown' ? 'unknown signer' : `${verdict.signer.kind} ${verdict.signer.subject ?? ''}`.trim();
    const sig =
      verdict.signatureValid === null
        ? 'signature not checked (no --issuer)'
        : verdict.signatureValid
          ? 'signature OK'
          : verdict.signatureVerifies
            ? 'signature verifies, but the signer is not authorised'
            : 'signature BAD';
    row('Signed by', `${who}; ${basic.signatureAlgorithm.name}; ${sig}`);
    const { notBefore, notAfter } = verdict.signer;
    if (verdict.signer.kind === 'delegated' && notBefore && notAfter) {
      row('Signer valid', `${iso(notBefore)} to ${iso(notAfter)} (${at < notBefore ? `starts ${formatRelative(notBefore, at)}` : `${at > notAfter ? 'expired' : 'expires'} ${formatRelative(notAfter, at)}`})`);
    }
    row('Responder ID', `${basic.responderId.kind} ${basic.responderId.value}`);
  }
  if (verdict.problems.length > 0) {
    lines.push('Problems:');
    for (const problem of verdict.problems) lines.push(`  - ${problem}: ${describeProblem(problem)}`);
  }
  return lines.join('\n') + '\n';
}

function formatSpan(seconds: number): string {
  return formatRelative(new Date(seconds * 1000), new Date(0)).replace(/^in /, '');
}
