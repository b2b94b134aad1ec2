/**
 * OCSP helpers for the lab that do not depend on the exporter's own parser: OpenSSL is the
 * independent judge. `describeOcspResponse` runs `openssl ocsp -respin - -resp_text` and reads the
 * fields back out of its text; `responseStatusByte` decodes only the outer ENUMERATED by hand
 * (RFC 6960 §4.2.1), enough to tell a synthesized tryLater (`30 03 0a 01 03`) from a real answer;
 * `postOcspRequest` talks HTTP POST to a responder (RFC 6960 Appendix A.1).
 */
import http from 'node:http';
import { LabError } from './errors.js';
import { openssl } from './exec.js';
import type { LabCert, LabPki } from './pki.js';

/** A complete non-successful OCSPResponse: responseStatus tryLater(3), no responseBytes. */
export const TRY_LATER_DER: Buffer = Buffer.from('30030a0103', 'hex');

/** RFC 6960 §4.2.1 OCSPResponseStatus values by number. */
export const RESPONSE_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'successful',
  1: 'malformedRequest',
  2: 'internalError',
  3: 'tryLater',
  5: 'sigRequired',
  6: 'unauthorized',
};

export interface OcspResponseText {
  /** RFC 6960 name (`successful`, `tryLater`, ...). */
  responseStatus: string;
  responseStatusCode: number;
  /** Of the first SingleResponse; null for non-successful responses. */
  certStatus: 'good' | 'revoked' | 'unknown' | null;
  /** OpenSSL's spelling, e.g. `keyCompromise`; null when none. */
  revocationReason: string | null;
  responderId: string | null;
  producedAt: Date | null;
  thisUpdate: Date | null;
  nextUpdate: Date | null;
  /** CertID serial of the first SingleResponse, upper-case hex. */
  serial: string | null;
  /** Number of SingleResponses (`Certificate ID:` blocks). */
  singleResponseCount: number;
  /** The full `-resp_text` output. */
  text: string;
}

/** Decodes the responseStatus ENUMERATED of a DER OCSPResponse by hand; null when not shaped so. */
export function responseStatusByte(der: Uint8Array): number | null {
  if (der.length < 5 || der[0] !== 0x30) return null;
  const first = der[1] ?? 0;
  const offset = first < 0x80 ? 2 : 2 + (first & 0x7f);
  if (der[offset] !== 0x0a || der[offset + 1] !== 0x01) return null;
  return der[offset + 2] ?? null;
}

/** What OpenSSL reads in a DER OCSPResponse (signature not checked). */
export async function describeOcspResponse(der: Uint8Array): Promise<OcspResponseText> {
  const { stdout } = await openssl(['ocsp', '-respin', '-', '-resp_text', '-noverify'], {
    input: Buffer.from(der),
    // openssl exits 1 after printing a non-successful response ("Responder Error: trylater (3)").
    allowFailure: true,
  });
  return parseRespText(stdout.toString('utf8'));
}

/** Parses `openssl ocsp -resp_text` output (OpenSSL 3.0 wording). */
export function parseRespText(text: string): OcspResponseText {
  const field = (label: string): string | null => {
    const match = new RegExp(`^\\s*${label}: (.*)$`, 'm').exec(text);
    return match?.[1]?.trim() ?? null;
  };
  const errorMatch = /Responder Error: (\S+) \((\d+)\)/.exec(text);
  let code: number;
  if (errorMatch?.[2]) {
    code = Number(errorMatch[2]);
  } else {
    const statusMatch = /OCSP Response Status: \S+ \(0x([0-9a-f]+)\)/.exec(text);
    if (!statusMatch?.[1]) throw new LabError('LAB_BAD_OUTPUT', `no response status in openssl output:\n${text}`);
    code = parseInt(statusMatch[1], 16);
  }
  const certStatus = field('Cert Status');
  const reason = field('Revocation Reason');
  return {
    responseStatus: RESPONSE_STATUS_NAMES[code] ?? `status${code}`,
    responseStatusCode: code,
    certStatus: certStatus === 'good' || certStatus === 'revoked' || certStatus === 'unknown' ? certStatus : null,
    revocationReason: reason ? reason.replace(/ \(0x[0-9a-f]+\)$/, '') : null,
    responderId: field('Responder Id'),
    producedAt: parseOpensslDate(field('Produced At')),
    thisUpdate: parseOpensslDate(field('This Update')),
    nextUpdate: parseOpensslDate(field('Next Update')),
    serial: field('Serial Number'),
    singleResponseCount: (text.match(/Certificate ID:/g) ?? []).length,
    text,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Nov 22 08:00:00 2026 GMT` → Date; null for null. */
export function parseOpensslDate(value: string | null): Date | null {
  if (value === null) return null;
  const match = /^(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$/.exec(value);
  const month = match ? MONTHS.indexOf(match[1] ?? '') : -1;
  if (!match || month < 0) throw new LabError('LAB_BAD_OUTPUT', `unexpected openssl date: ${value}`);
  return new Date(Date.UTC(Number(match[6]), month, Number(match[2]), Number(match[3]), Number(match[4]), Number(match[5])));
}

export interface OpensslVerdict {
  /** "Response verify OK": signature and signer authority check out against the lab root. */
  signatureOk: boolean;
  /** False when OpenSSL warned "Status times invalid" (expired or not yet valid). */
  timesValid: boolean;
  /** The status OpenSSL printed for the certificate, if any. */
  certStatus: 'good' | 'revoked' | 'unknown' | null;
  output: string;
}

/**
 * Judges `der` the way an OpenSSL client would (`openssl ocsp -respin -issuer -cert -CAfile`):
 * signature, signer authority, CertID and validity window.
 */
export async function opensslVerifyResponse(pki: LabPki, cert: LabCert, der: Uint8Array): Promise<OpensslVerdict> {
  const { stdout, stderr } = await openssl(
    ['ocsp', '-respin', '-', '-issuer', pki.intermediate.certPath, '-cert', cert.certPath, '-CAfile', pki.root.certPath],
    { input: Buffer.from(der), allowFailure: true },
  );
  const output = stderr + stdout.toString('utf8');
  // `cert.crt: good`, or after a warning the status alone on its own line.
  const status = /(?:^|: )(good|revoked|unknown)$/m.exec(output)?.[1];
  return {
    signatureOk: /Response verify OK/.test(output),
    timesValid: !/Status times invalid/.test(output),
    certStatus: status === 'good' || status === 'revoked' || status === 'unknown' ? status : null,
    output,
  };
}

/** POSTs a DER OCSPRequest to `url` and returns the DER body (capped at 1 MiB). */
export function postOcspRequest(url: string, requestDer: Uint8Array, timeoutMs = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', 'content-length': requestDer.length },
      timeout: timeoutMs,
    });
    request.once('timeout', () => request.destroy(new Error(`OCSP request to ${url} timed out after ${timeoutMs} ms`)));
    request.once('error', reject);
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 1024 * 1024) request.destroy(new Error('OCSP response larger than 1 MiB'));
        else chunks.push(chunk);
      });
      response.once('end', () => {
        if (response.statusCode !== 200) reject(new Error(`OCSP responder answered HTTP ${response.statusCode}`));
        else resolve(Buffer.concat(chunks));
      });
      response.once('error', reject);
    });
    request.end(Buffer.from(requestDer));
  });
}
