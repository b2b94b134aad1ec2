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
  | 'no_host';

/** The parsed URL, or the problem (with the parsed URL when there is one, for the message). */
export type ResponderUrlOutcome =
  | { ok: true; url: URL }
  | { ok: false; problem: 'not_absolute' }
  | { ok: false; problem: Exclude<ResponderUrlProblem, 'not_absolute'>; url: URL };

/** Judges `text` as a responder URL; `allowHttps` is the module's `responder_allow_https`. */
export function judgeResponderUrl(text: string, allowHttps: boolean): ResponderUrlOutcome {
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
