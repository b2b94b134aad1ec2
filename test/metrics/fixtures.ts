/** Hand-built probe results for every state the metrics mapping distinguishes. */
import type { OcspProblem, OcspVerdict, SingleResponseInfo } from '../../src/ocsp/types.js';
import type { CertificateFacts } from '../../src/x509/types.js';
import { stapleVerdictOf, type FailureReason, type ProbeResult } from '../../src/probe/types.js';

export const NOW_MS = Date.UTC(2026, 10, 15, 12, 0, 0);
export const HOUR_MS = 3_600_000;

export function leafFacts(overrides: Partial<CertificateFacts> = {}): CertificateFacts {
  return {
    subject: 'CN=www.example.test',
    issuer: 'CN=Test Issuing CA,O=Example',
    serialNumber: '0A1B2C',
    notBefore: new Date(NOW_MS - 30 * 24 * HOUR_MS),
    notAfter: new Date(Date.UTC(2027, 0, 1)),
    fingerprintSha256: 'ab'.repeat(32),
    ocspUrls: ['http://ocsp.example.test/', 'http://ocsp2.example.test/'],
    mustStaple: false,
    extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'],
    isCA: false,
    ...overrides,
  };
}

export function single(overrides: Partial<SingleResponseInfo> = {}): SingleResponseInfo {
  return {
    certId: {
      hashAlgorithm: { oid: '1.3.14.3.2.26', name: 'sha1' },
      issuerNameHash: '00',
      issuerKeyHash: '11',
      serialNumber: '0A1B2C',
    },
    certStatus: 'good',
    thisUpdate: new Date(NOW_MS - 2 * HOUR_MS),
    nextUpdate: new Date(NOW_MS + 22 * HOUR_MS),
    revocationTime: null,
    revocationReason: null,
    extensions: [],
    ...overrides,
  };
}

/** A delegated responder whose certificate ends `hoursLeft` hours after NOW_MS. */
export function delegatedSigner(hoursLeft: number): OcspVerdict['signer'] {
  return { kind: 'delegated', subject: 'CN=Test OCSP Responder', notBefore: new Date(NOW_MS - 48 * HOUR_MS), notAfter: new Date(NOW_MS + hoursLeft * HOUR_MS) };
}

export function verdict(
  options: { valid?: boolean; problems?: OcspProblem[]; single?: SingleResponseInfo | null; parsed?: boolean; signer?: OcspVerdict['signer'] } = {},
): OcspVerdict {
  const s = options.single === undefined ? single() : options.single;
  const parsed = options.parsed ?? true;
  return {
    valid: options.valid ?? true,
    problems: options.problems ?? [],
    response: parsed
      ? {
          responseStatus: 'successful',
          responseType: '1.3.6.1.5.5.7.48.1.1',
          basic: {
            producedAt: new Date(NOW_MS - 2 * HOUR_MS + 1000),
            responderId: { kind: 'byKey', value: '22' },
            signatureAlgorithm: { oid: '1.2.840.10045.4.3.2', name: 'ecdsa-with-SHA256' },
            certificates: [],
            singleResponses: s ? [s] : [],
            responseExtensions: [],
          },
          size: 471,
        }
      : null,
    parseError: parsed ? null : { code: 'ERR_OCSP_PARSE', message: 'not DER' },
    matchedIndex: s && (options.valid ?? true) ? 0 : null,
    single: s,
    certIdMatchesLeaf: parsed ? true : null,
    signatureValid: parsed ? (options.valid ?? true) : null,
    signatureVerifies: parsed ? (options.valid ?? true) : null,
    signer: options.signer ?? { kind: 'issuer', subject: 'CN=Test Issuing CA,O=Example', notBefore: null, notAfter: null },
    // `as`: compiles both before and after the shared OcspVerdict type gained signatureVerifies.
  } as OcspVerdict;
}

export function okResult(overrides: Partial<ProbeResult> = {}, stapleVerdict: OcspVerdict | null = verdict()): ProbeResult {
  return {
    target: 'www.example.test:443',
    address: '192.0.2.10:443',
    module: 'default',
    serverName: 'www.example.test',
    labels: {},
    success: true,
    failureReason: null,
    error: null,
    durationSeconds: 0.125,
    startedAtMs: NOW_MS - 5000,
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' },
    chain: { verified: true, error: null, length: 2 },
    leaf: leafFacts(),
    staple: stapleVerdict
      ? { present: true, sizeBytes: 471, verdict: stapleVerdictOf(stapleVerdict), issuerSource: 'chain' }
      : { present: false, sizeBytes: 0, verdict: null, issuerSource: 'chain' },
    ...overrides,
  };
}

export function failedResult(reason: FailureReason, overrides: Partial<ProbeResult> = {}): ProbeResult {
  return {
    target: 'down.example.test:443',
    address: '192.0.2.20:443',
    module: 'default',
    serverName: 'down.example.test',
    labels: {},
    success: false,
    failureReason: reason,
    error: `failed: ${reason}`,
    durationSeconds: 2.5,
    startedAtMs: NOW_MS - 3000,
    tls: null,
    chain: null,
    leaf: null,
    staple: null,
    ...overrides,
  };
}
