/**
 * What asking a certificate's OCSP responder directly reports: plain, structured-clone-safe data
 * (it travels inside ProbeResult across worker threads). A failed exchange is data too: named
 * problems with stable strings, used verbatim as the `problem` label of `ocsp_responder_problem`.
 */
import type { OcspProblem, OcspVerdict } from '../ocsp/types.js';

/** Why the responder could not be asked, or what went wrong asking it. */
export type TransportProblem =
  /** The certificate names no OCSP responder (no AIA id-ad-ocsp URI) and none is configured. Not asked. */
  | 'no_url'
  /** The URL is not an absolute http:// (or, when allowed, https://) URL, or (OCSP) carries a query string. Not asked. */
  | 'bad_url'
  /** An https:// responder while the module does not set responder_allow_https. Not asked. */
  | 'https_not_allowed'
  /** The responder's address is link-local or a metadata service (src/net/guard.ts). Not asked. */
  | 'blocked'
  /**
   * Its destination is not allowed (destinations.ts): not matched by `global.responder_allowlist`,
   * or a loopback / unspecified address or the exporter's own listen socket not listed explicitly. Not asked.
   */
  | 'not_allowed'
  /** Its host name did not resolve. */
  | 'dns'
  /** TCP/TLS connection refused, reset or closed before a whole answer. */
  | 'connect'
  /** No whole answer before the probe's deadline. */
  | 'timeout'
  /** An HTTP status other than 200 (except redirects). */
  | 'http_status'
  /** A 3xx answer: redirects are not followed (docs/responder.md), the Location is in the error. */
  | 'redirect'
  /** The body is larger than 64 KiB (MAX_OCSP_RESPONSE_BYTES). */
  | 'too_large';

/** Transport problems, then the OCSP core's verdict problems (their strings never collide). */
export type ResponderProblem = TransportProblem | OcspProblem;

export const TRANSPORT_PROBLEMS: readonly TransportProblem[] = [
  'no_url',
  'bad_url',
  'https_not_allowed',
  'blocked',
  'not_allowed',
  'dns',
  'connect',
  'timeout',
  'http_status',
  'redirect',
  'too_large',
];

/** Where the answer came from: a request of this probe, the answer cache, or a request another probe had in flight. */
export type AnswerSource = 'network' | 'cache' | 'shared';

export interface ResponderResult {
  /** The URL asked (or that would have been asked); null when there is none. */
  url: string | null;
  /** `aia`: the certificate's AIA OCSP URL; `config`: the module's responder_url. */
  urlSource: 'aia' | 'config' | null;
  /** HTTP method of the request that produced the answer (GET when the request is small, RFC 5019 §5). */
  method: 'GET' | 'POST' | null;
  /** A verified answer about this certificate, inside its validity window (verifyOcspResponse valid). */
  up: boolean;
  /** Null when no request was made (e.g. `no_url`, `blocked`). */
  source: AnswerSource | null;
  /** Duration of the HTTP exchange that produced the answer (also for cached answers), seconds. */
  durationSeconds: number | null;
  /** When that exchange finished, Unix ms. */
  fetchedAtMs: number | null;
  httpStatus: number | null;
  /** Sorted, unique. `no_next_update` is advisory (does not make `up` false). */
  problems: ResponderProblem[];
  /** Human-readable cause, for logs and `check`; null when up. */
  error: string | null;
  /** The OCSP core's verdict on the answer; null when there was no answer body to judge. */
  verdict: OcspVerdict | null;
}

/** The OCSP status of one intermediate certificate of the presented chain, from its issuer's responder. */
export interface ChainResponderResult {
  /** Position in the presented chain: 0 is the leaf, so intermediates start at 1. */
  depth: number;
  /** RFC 4514 subject of the certificate at this depth. */
  subject: string;
  /** Where its issuer came from: later in the presented chain, or the module's CA file; null when unknown. */
  issuerSource: 'chain' | 'ca_file' | null;
  responder: ResponderResult;
}
