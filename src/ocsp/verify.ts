/**
 * Judges a stapled OCSP response against the leaf certificate and its issuer, the way RFC 6960
 * §3.2 and §4.2.2.2 ask a client to: a SingleResponse whose CertID names the leaf, a signature
 * over tbsResponseData that verifies, a signer that is the issuer itself or a delegated responder
 * the issuer certified for id-kp-OCSPSigning, a responderID naming that signer, and a validity
 * window containing now (± clock skew). A delegated responder's certificate must be valid at the
 * time of judgment (± skew), not at producedAt: OpenSSL's OCSP_basic_verify (and so nginx, Apache,
 * curl) and NSS check the signer at the time they verify, so a staple whose delegate has expired is
 * rejected by clients even while its nextUpdate lies ahead. Every failure is a named
 * {@link OcspProblem}; this function never throws.
 *
 * Everything except the time checks depends only on (staple, leaf, issuer) bytes, so that part is
 * cached by their hashes: a probe loop seeing the same staple again redoes only the date checks.
 */
import { hash } from 'node:crypto';
import { BoundedCache } from '../util/cache.js';
import { OID_OCSP_SIGNING, isIssuedBy, readCertificateInfo, sameName, type CertificateInfo } from '../x509/certificate.js';
import { bytesEqual } from '../util/bytes.js';
import { HASH_ALGORITHMS } from '../x509/algorithms.js';
import { OcspParseError } from './errors.js';
import { MAX_OCSP_RESPONSE_BYTES, parseOcspResponseDetailed, type ParsedDetails } from './parse.js';
import { verifySignature } from '../x509/signature.js';
import type { OcspProblem, OcspVerdict, ParsedOcspResponse, SignerKind, SingleResponseInfo } from './types.js';
import { messageOf } from '../util/errors.js';

export interface VerifyOptions {
  /** The instant to judge freshness at (injected: nothing here reads the clock). */
  now: Date;
  /** Tolerated clock difference for thisUpdate / nextUpdate, seconds (default 300). */
  clockSkewSeconds?: number;
}

export const DEFAULT_CLOCK_SKEW_SECONDS = 300;

/** Problems that are reported but leave the staple valid. */
export const ADVISORY_PROBLEMS: ReadonlySet<OcspProblem> = new Set(['no_next_update', 'signer_expires_before_next_update']);

/** The part of a verdict that does not depend on `now` (its problems lack the time checks). */
type StaticVerdict = Omit<OcspVerdict, 'valid'>;

// A cached verdict keeps the parsed response (views into a copy of the staple, embedded
// certificates): weighed at twice the staple's size plus overhead; typical staples are 1–2 KB.
const staticCache = new BoundedCache<string, StaticVerdict>(2048, 24 * 1024 * 1024);
const VERDICT_OVERHEAD_BYTES = 2048;

/** Forgets cached verdicts (for benchmarks measuring the uncached path, and tests). */
export function clearVerificationCache(): void {
  staticCache.clear();
}

/**
 * Verifies `der` (a DER OCSPResponse) for `leafDer` issued by `issuerDer`. Either may be null
 * when unknown: the response is still parsed and its dates judged, and `issuer_unknown` says what
 * could not be checked. Never throws.
 */
export function verifyOcspResponse(
  der: Uint8Array,
  leafDer: Uint8Array | null,
  issuerDer: Uint8Array | null,
  options: VerifyOptions,
): OcspVerdict {
  let base: StaticVerdict;
  try {
    base = staticVerdictCached(der, leafDer, issuerDer);
  } catch (error) {
    // Defensive: a bug must not take a probe down; report it as unparseable with its message.
    const message = messageOf(error);
    base = unparseable('ERR_OCSP_MALFORMED', `internal error while verifying: ${message}`);
  }
  return withTimeChecks(base, options);
}

function withTimeChecks(base: StaticVerdict, options: VerifyOptions): OcspVerdict {
  const problems = [...base.problems];
  const single = base.single;
  const nowMs = options?.now instanceof Date ? options.now.getTime() : NaN;
  const skewSeconds = options?.clockSkewSeconds;
  const skewMs = (typeof skewSeconds === 'number' && Number.isFinite(skewSeconds) && skewSeconds >= 0 ? skewSeconds : DEFAULT_CLOCK_SKEW_SECONDS) * 1000;
  if (single && Number.isFinite(nowMs)) {
    // RFC 6960 §4.2.2.1 / §3.2 items 4–5: thisUpdate must be sufficiently recent, nextUpdate
    // (when present) later than now; the skew absorbs clock differences between the parties.
    if (single.thisUpdate.getTime() > nowMs + skewMs) problems.push('not_yet_valid');
    if (single.nextUpdate === null) problems.push('no_next_update');
    else if (single.nextUpdate.getTime() < nowMs - skewMs) problems.push('expired');
  }
  const { notBefore, notAfter } = base.signer;
  if (base.signer.kind === 'delegated' && notBefore && notAfter && Number.isFinite(nowMs)) {
    // As X509_verify_cert at the verification time (OCSP_basic_verify builds the signer's chain then).
    if (notAfter.getTime() < nowMs - skewMs) problems.push('signer_expired');
    if (notBefore.getTime() > nowMs + skewMs) problems.push('signer_not_yet_valid');
  }
  const sorted = [...new Set(problems)].sort();
  return { ...base, valid: sorted.every((p) => ADVISORY_PROBLEMS.has(p)), problems: sorted };
}

/**
 * When the staple stops being usable: the earlier of its nextUpdate and its delegated signer's
 * notAfter (clients reject a staple whose signer has expired; certmagic ends a staple's life there
 * too). Null when it has neither (no nextUpdate, signed by the issuer itself).
 */
export function stapleEnd(verdict: Pick<OcspVerdict, 'single' | 'signer'>): Date | null {
  const nextUpdate = verdict.single?.nextUpdate ?? null;
  const signerEnd = verdict.signer.kind === 'delegated' ? verdict.signer.notAfter : null;
  if (nextUpdate && signerEnd) return new Date(Math.min(new Date(nextUpdate).getTime(), new Date(signerEnd).getTime()));
  return nextUpdate ?? signerEnd ?? null;
}

function fingerprint(bytes: Uint8Array | null): string {
  return bytes ? hash('sha256', bytes, 'base64') : '-';
}

function staticVerdictCached(der: Uint8Array, leafDer: Uint8Array | null, issuerDer: Uint8Array | null): StaticVerdict {
  if (!(der instanceof Uint8Array)) return unparseable('ERR_OCSP_MALFORMED', 'OCSP response must be a Uint8Array of DER bytes');
  // Refuse oversized input before hashing it for the cache key.
  if (der.length > MAX_OCSP_RESPONSE_BYTES) return staticVerdict(der, leafDer, issuerDer);
  const key = `${fingerprint(der)}|${fingerprint(leafDer)}|${fingerprint(issuerDer)}`;
  let cached = staticCache.get(key);
  if (!cached) {
    cached = staticVerdict(der, leafDer, issuerDer);
    staticCache.set(key, cached, 2 * der.length + VERDICT_OVERHEAD_BYTES);
  }
  return cached;
}

/** Nothing judged yet: every answer unknown. */
function blankVerdict(response: ParsedOcspResponse | null): StaticVerdict {
  return {
    response,
    parseError: null,
    problems: [],
    matchedIndex: null,
    single: null,
    certIdMatchesLeaf: null,
    signatureValid: null,
    signatureVerifies: null,
    signer: { kind: 'unknown', subject: null, notBefore: null, notAfter: null },
  };
}

function unparseable(code: string, message: string): StaticVerdict {
  return { ...blankVerdict(null), parseError: { code, message }, problems: ['unparseable'] };
}

function readOptionalCertificate(der: Uint8Array | null): CertificateInfo | null {
  if (!der) return null;
  try {
    return readCertificateInfo(der);
  } catch {
    return null; // an unreadable leaf or issuer is as good as none: issuer_unknown
  }
}

function staticVerdict(der: Uint8Array, leafDer: Uint8Array | null, issuerDer: Uint8Array | null): StaticVerdict {
  let parsed: ParsedDetails;
  try {
    parsed = parseOcspResponseDetailed(der);
  } catch (error) {
    if (error instanceof OcspParseError) return unparseable(error.code, error.message);
    return unparseable('ERR_OCSP_MALFORMED', messageOf(error));
  }
  const response = parsed.response;
  const verdict = blankVerdict(response);
  if (response.responseStatus !== 'successful') {
    verdict.problems.push('not_successful');
    return verdict;
  }
  const basic = response.basic;
  const details = parsed.basic;
  if (!basic || !details) {
    verdict.problems.push('unsupported_response_type');
    return verdict;
  }
  verdict.single = basic.singleResponses[0] ?? null;

  const leaf = readOptionalCertificate(leafDer);
  const issuer = readOptionalCertificate(issuerDer);
  if (!leaf || !issuer) verdict.problems.push('issuer_unknown');

  if (leaf && issuer) {
    const index = basic.singleResponses.findIndex((s) => certIdMatches(s, leaf, issuer));
    verdict.certIdMatchesLeaf = index >= 0;
    if (index >= 0) {
      verdict.matchedIndex = index;
      verdict.single = basic.singleResponses[index]!;
    } else {
      verdict.problems.push('wrong_certificate');
    }
  }

  if (issuer) {
    judgeSigner(verdict, details, basic.certificates, issuer);
    // As `openssl ocsp -verify` ("Response verify OK"): the signature verifies AND the signer is
    // one the issuer authorised; a stranger's flawless signature is not a valid one.
    verdict.signatureValid =
      verdict.signatureVerifies === true &&
      !verdict.problems.includes('unauthorized_responder') &&
      !verdict.problems.includes('responder_id_mismatch');
  }
  return verdict;
}

/**
 * RFC 6960 §4.1.1: the CertID names the leaf when, with the CertID's own hash algorithm, the
 * issuer name hash is H(issuer subject Name DER), the key hash is H(issuer subjectPublicKey
 * BIT STRING contents) and the serials are equal.
 */
function certIdMatches(single: SingleResponseInfo, leaf: CertificateInfo, issuer: CertificateInfo): boolean {
  const id = single.certId;
  if (id.serialNumber !== leaf.serialNumber) return false;
  const hash = HASH_ALGORITHMS[id.hashAlgorithm.oid];
  if (!hash || hash.name === 'md5') return false;
  return id.issuerNameHash === issuer.nameHash(hash.node) && id.issuerKeyHash === issuer.keyHash(hash.node);
}

/** Whether the responderID (RFC 6960 §4.2.2.3) identifies `cert`: byName = its subject, byKey = SHA-1 of its key bits. */
function responderIdNames(details: NonNullable<ParsedDetails['basic']>, responderId: { kind: 'byName' | 'byKey'; value: string }, cert: CertificateInfo): boolean {
  if (responderId.kind === 'byKey') return cert.keyHash('sha1') === responderId.value;
  return sameName(details.responderIdBytes, responderId.value, cert.subjectDer, cert.subject);
}

/**
 * Finds who signed the response and whether they may (RFC 6960 §4.2.2.2): the issuer's own key,
 * or an embedded certificate issued by the issuer and carrying id-kp-OCSPSigning (its validity is
 * a time check, judged at the time of judgment). The responderID picks the candidate; when it
 * names nobody we still look for the key that signed, to tell a mislabelled but authorised
 * response from a stranger's.
 */
function judgeSigner(
  verdict: StaticVerdict,
  details: NonNullable<ParsedDetails['basic']>,
  embeddedDer: readonly Uint8Array[],
  issuer: CertificateInfo,
): void {
  const responderId = verdict.response!.basic!.responderId;
  const embedded: CertificateInfo[] = [];
  for (const certDer of embeddedDer) {
    const cert = readOptionalCertificate(certDer);
    if (cert) embedded.push(cert);
  }
  // The issuer first: CAs that sign directly often embed themselves, or their whole chain, too.
  const candidates = [issuer, ...embedded];
  const signs = (cert: CertificateInfo): boolean =>
    verifySignature(cert.publicKey(), details.signatureAlgorithm.oid, details.signatureParams, details.tbsResponseData, details.signature);

  const named = candidates.filter((cert) => responderIdNames(details, responderId, cert));
  let signer: CertificateInfo | null = null;
  if (named.length > 0) {
    signer = named.find(signs) ?? null;
    if (signer) verdict.signatureVerifies = true;
    else {
      verdict.signatureVerifies = false;
      verdict.problems.push('bad_signature');
      // Judge the authority of the one the response claims, so both faults are reported.
      signer = named[0]!;
    }
  } else {
    verdict.problems.push('responder_id_mismatch');
    signer = candidates.find(signs) ?? null;
    verdict.signatureVerifies = signer !== null;
    if (!signer) {
      // Neither the issuer's key nor any embedded certificate's: nobody we could authorise signed it.
      verdict.problems.push('unauthorized_responder');
      return;
    }
  }

  const kind: SignerKind = bytesEqual(signer.spkiDer, issuer.spkiDer) ? 'issuer' : 'delegated';
  verdict.signer =
    kind === 'delegated'
      ? { kind, subject: signer.subject, notBefore: signer.notBefore, notAfter: signer.notAfter }
      : { kind, subject: signer.subject, notBefore: null, notAfter: null };
  if (kind !== 'delegated') return;
  if (!delegationValid(signer, issuer)) verdict.problems.push('unauthorized_responder');
  // Advisory: the staple dies with its signer before its nextUpdate (see stapleEnd).
  const nextUpdate = verdict.single?.nextUpdate;
  if (nextUpdate && signer.notAfter.getTime() < nextUpdate.getTime()) verdict.problems.push('signer_expires_before_next_update');
}

/** RFC 6960 §4.2.2.2: issued by the CA directly and id-kp-OCSPSigning in its EKU. */
function delegationValid(responder: CertificateInfo, issuer: CertificateInfo): boolean {
  return responder.extendedKeyUsage.includes(OID_OCSP_SIGNING) && isIssuedBy(responder, issuer);
}
