/**
 * Wording shared by the operator commands (`inspect`, `check`): times, relative ages, what each
 * OCSP problem means in plain words, and text from certificates and servers made safe to print.
 */
import type { OcspProblem } from '../ocsp/types.js';

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

