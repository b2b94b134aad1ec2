/**
 * Direct OCSP responder checks (opt-in per module): build an OCSPRequest for a certificate, ask its
 * responder over HTTP within the probe's deadline and the probe guard's address rules, share answers
 * between probes through a bounded cache with single-flight, and judge them as staples are judged.
 */
export { buildOcspRequest, OID_OCSP_NONCE, type BuiltOcspRequest, type OcspRequestOptions, type RequestCertId } from './request.js';
export { DEFAULT_DESTINATIONS, destinationRefusal, expandListenAddresses, type ListenEndpoint, type ResponderDestinations } from './destinations.js';
export { exchange, checkResponderUrl, getRequestPath, MAX_GET_BASE64_BYTES, type ExchangeOptions, type ExchangeOutcome } from './http.js';
export {
  AnswerCache,
  answerExpiry,
  DEFAULT_FAILURE_TTL_MS,
  DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_CACHE_MAX_BYTES,
  type AnswerCacheOptions,
  type AnswerCacheStats,
  type CacheEntry,
  type ExpiryInput,
  type Fetched,
} from './cache.js';
export {
  checkResponder,
  checkChainResponders,
  localAnswers,
  sharedAnswerCache,
  DEFAULT_RESPONDER_CACHE_MAX_AGE_SECONDS,
  type ResponderCheckOptions,
  type ChainCheckOptions,
  type AnswerQuery,
  type AnswerReply,
  type AnswerProvider,
} from './check.js';
export { ResponderError, type ResponderErrorCode } from './errors.js';
export type * from './types.js';
