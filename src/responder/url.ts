/**
 * Which OCSP responder URLs the exporter will ask: the rules, once. The config loader checks a
 * module's `responder_url` with them at load (so a typo is a config error, not a runtime failure)
 * and the responder client checks every URL it is about to ask (AIA URLs come from certificates).
 * Each caller words the outcome its own way; this module only says what is wrong.
 */

/** What is wrong with a responder URL. */
export type ResponderUrlProblem =
  /** `new URL()` refuses it: relative, or not a URL at all. */
  | 'not_absolute'
  /** `https:` while the module does not set `responder_allow_https`. */
  | 'https_not_allowed'
  /** A scheme other than `http:` and `https:` (ldap:, file:, …). */
  | 'not_http'
  /** `http:` without a host name. */
  | 'no_host'
  /** A query string (OCSP responder URLs only, see {@link judgeResponderUrl}). */
  | 'has_query';

/** The parsed URL, or the problem (with the parsed URL when there is one, for the message). */
export type ResponderUrlOutcome =
  | { ok: true; url: URL }
  | { ok: false; problem: 'not_absolute' }
  | { ok: false; problem: Exclude<ResponderUrlProblem, 'not_absolute'>; url: URL };

/**
 * Judges `text` as a URL the exporter may fetch (OCSP responder or caIssuers URL); `allowHttps` is
 * the module's `responder_allow_https`. A fragment is allowed and never sent (RFC 3986 §3.5).
 */
export function judgeHttpUrl(text: string, allowHttps: boolean): ResponderUrlOutcome {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: 'not_absolute' };
  }
  // RFC 6960 Appendix A and RFC 5019 §5: OCSP runs over plain HTTP; answers are signed, and asking
  // an https responder would need a certificate check that itself may need OCSP.
  if (url.protocol === 'https:' && !allowHttps) return { ok: false, problem: 'https_not_allowed', url };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, problem: 'not_http', url };
  if (url.hostname === '') return { ok: false, problem: 'no_host', url };
  return { ok: true, url };
}

/**
 * Judges `text` as an OCSP responder URL: {@link judgeHttpUrl}, and no query string. RFC 6960
 * Appendix A.1 forms a GET as `{url}/{url-encoded base64 of the request}` and a POST goes to the
 * URL itself: neither has a place for a query string, and a URL carrying one (a certificate's
 * `?delete=all`) is refused rather than guessed at.
 */
export function judgeResponderUrl(text: string, allowHttps: boolean): ResponderUrlOutcome {
  const judged = judgeHttpUrl(text, allowHttps);
  if (judged.ok && judged.url.search !== '') return { ok: false, problem: 'has_query', url: judged.url };
  return judged;
}
