/**
 * DER OCSPResponse (RFC 6960 §4.2.1) → {@link ParsedOcspResponse}: the response status by name,
 * and for id-pkix-ocsp-basic responses producedAt, the responderID, the signature algorithm, the
 * embedded certificates and every SingleResponse. Non-successful statuses (tryLater, ...) are
 * data, not errors. Anything else that is not an OCSPResponse — truncated, oversized, random,
 * nested junk — is an {@link OcspParseError} with a stable code and nothing else escapes.
 *
 * {@link parseOcspResponseDetailed} also returns the byte ranges verification needs (the signed
 * tbsResponseData exactly as received, the signature, the responderID), for verify.ts only.
 */
import {
  DerCursor,
  DerError,
  TAG,
  bitStringBytes,
  content,
  contextTag,
  integerHex,
  nameToString,
  readAlgorithmIdentifier,
  readBoolean,
  readOid,
  readTime,
  readTlv,
  smallInteger,
  toHex,
  whole,
  type AlgorithmIdentifier,
  type Tlv,
} from '../x509/der.js';
import { OcspParseError } from './errors.js';
import type {
  AlgorithmInfo,
  BasicResponseInfo,
  CertStatus,
  ExtensionInfo,
  ParsedOcspResponse,
  ResponderId,
  ResponseStatus,
  RevocationReason,
  SingleResponseInfo,
} from './types.js';
import { messageOf } from '../util/errors.js';
import { HASH_ALGORITHMS, SIGNATURE_ALGORITHMS } from '../x509/algorithms.js';

/** No real staple comes near this (they are 0.3–4 KiB); bigger input is refused before parsing. */
export const MAX_OCSP_RESPONSE_BYTES = 65536;

export const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';

/** RFC 6960 §4.2.1; the value 4 is not used. */
const RESPONSE_STATUS: Record<number, ResponseStatus> = {
  0: 'successful',
  1: 'malformedRequest',
  2: 'internalError',
  3: 'tryLater',
  5: 'sigRequired',
  6: 'unauthorized',
};

/** RFC 5280 §5.3.1; the value 7 is not used. */
const CRL_REASONS: Record<number, RevocationReason> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

const EXTENSION_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.48.1.2': 'nonce',
  '1.3.6.1.5.5.7.48.1.3': 'crlID',
  '1.3.6.1.5.5.7.48.1.4': 'acceptableResponses',
  '1.3.6.1.5.5.7.48.1.5': 'noCheck',
  '1.3.6.1.5.5.7.48.1.6': 'archiveCutoff',
  '1.3.6.1.5.5.7.48.1.7': 'serviceLocator',
  '1.3.6.1.5.5.7.48.1.8': 'preferredSignatureAlgorithms',
  '1.3.6.1.5.5.7.48.1.9': 'extendedRevoke',
  '2.5.29.21': 'crlReason',
  '2.5.29.24': 'invalidityDate',
  '2.5.29.29': 'certificateIssuer',
  '1.3.6.1.4.1.11129.2.4.5': 'signedCertificateTimestampList',
};

/** What verify.ts needs beyond the public shape: exact byte ranges of the signed parts. */
export interface ParsedDetails {
  response: ParsedOcspResponse;
  /** Present when `response.basic` is. */
  basic: {
    /** tbsResponseData as received (the signed bytes, RFC 6960 §4.2.1). */
    tbsResponseData: Uint8Array;
    signatureAlgorithm: AlgorithmIdentifier;
    /** The algorithm's parameters element, DER (RSASSA-PSS carries hash, MGF and salt length there). */
    signatureParams: Uint8Array | null;
    signature: Uint8Array;
    /** byName: DER of the Name; byKey: the 20-byte KeyHash. */
    responderIdBytes: Uint8Array;
  } | null;
}

/** Parses a DER OCSPResponse. Throws only {@link OcspParseError}. */
export function parseOcspResponse(der: Uint8Array): ParsedOcspResponse {
  return parseOcspResponseDetailed(der).response;
}

export function parseOcspResponseDetailed(der: Uint8Array): ParsedDetails {
  if (!(der instanceof Uint8Array)) throw new OcspParseError('ERR_OCSP_MALFORMED', 'OCSP response must be a Uint8Array of DER bytes');
  if (der.length === 0) throw new OcspParseError('ERR_OCSP_EMPTY', 'OCSP response is empty (0 bytes)');
  if (der.length > MAX_OCSP_RESPONSE_BYTES) {
    throw new OcspParseError('ERR_OCSP_TOO_LARGE', `OCSP response is ${der.length} bytes, more than the ${MAX_OCSP_RESPONSE_BYTES}-byte limit`);
  }
  try {
    return parseOuter(der);
  } catch (error) {
    if (error instanceof OcspParseError) throw error;
    if (error instanceof DerError) throw new OcspParseError('ERR_OCSP_MALFORMED', `malformed OCSP response: ${error.message}`, { cause: error });
    // Never let anything else out (RangeError from odd input, a bug here): the caller sees a parse error.
    const message = messageOf(error);
    throw new OcspParseError('ERR_OCSP_MALFORMED', `malformed OCSP response: ${message}`, { cause: error });
  }
}

function parseOuter(der: Uint8Array): ParsedDetails {
  const outer = readTlv(der, 0, der.length);
  if (outer.tag !== TAG.SEQUENCE) {
    throw new DerError(`not an OCSPResponse: starts with tag 0x${der[0]!.toString(16).padStart(2, '0')}, expected a SEQUENCE (0x30)`);
  }
  if (outer.end !== der.length) throw new DerError(`${der.length - outer.end} bytes of trailing data after the OCSPResponse`);
  const c = DerCursor.of(der, outer);
  const statusTlv = c.expect(TAG.ENUMERATED, 'responseStatus');
  const statusValue = smallInteger(der, statusTlv, 'responseStatus');
  const responseStatus = RESPONSE_STATUS[statusValue];
  if (!responseStatus) throw new OcspParseError('ERR_OCSP_UNSUPPORTED', `unknown OCSP responseStatus ${statusValue}`);
  const bytesTlv = c.optional(contextTag(0, true), 'responseBytes');
  c.finish('OCSPResponse');

  if (!bytesTlv) {
    if (responseStatus === 'successful') throw new DerError('successful OCSPResponse without responseBytes');
    return { response: { responseStatus, responseType: null, basic: null, size: der.length }, basic: null };
  }
  const rbOuter = DerCursor.of(der, bytesTlv);
  const rb = rbOuter.expect(TAG.SEQUENCE, 'ResponseBytes');
  rbOuter.finish('responseBytes');
  const rbc = DerCursor.of(der, rb);
  const responseType = readOid(der, rbc.expect(TAG.OID, 'responseType'));
  const responseTlv = rbc.expect(TAG.OCTET_STRING, 'response');
  rbc.finish('ResponseBytes');

  // RFC 6960 §4.2.1: responseBytes only accompany successful responses; any other status is
  // reported as such and whatever follows is not interpreted.
  if (responseStatus !== 'successful' || responseType !== ID_PKIX_OCSP_BASIC) {
    return { response: { responseStatus, responseType, basic: null, size: der.length }, basic: null };
  }
  const { info, details } = parseBasic(der, readTlv(der, responseTlv.contentStart, responseTlv.end), responseTlv.end);
  return { response: { responseStatus, responseType, basic: info, size: der.length }, basic: details };
}

function parseBasic(der: Uint8Array, basicTlv: Tlv, limit: number): { info: BasicResponseInfo; details: NonNullable<ParsedDetails['basic']> } {
  if (basicTlv.tag !== TAG.SEQUENCE) throw new DerError('BasicOCSPResponse is not a SEQUENCE');
  if (basicTlv.end !== limit) throw new DerError('trailing data after the BasicOCSPResponse');
  const c = DerCursor.of(der, basicTlv);
  const tbs = c.expect(TAG.SEQUENCE, 'tbsResponseData');
  const sigAlg = readAlgorithmIdentifier(der, c.expect(TAG.SEQUENCE, 'signatureAlgorithm'), 'signatureAlgorithm');
  const signature = bitStringBytes(der, c.expect(TAG.BIT_STRING, 'signature'), 'signature');
  const certificates: Uint8Array[] = [];
  const certsTlv = c.optional(contextTag(0, true), 'certs');
  if (certsTlv) {
    const wrapper = DerCursor.of(der, certsTlv);
    const seq = wrapper.expect(TAG.SEQUENCE, 'certs');
    wrapper.finish('certs');
    for (const cert of DerCursor.of(der, seq).rest('certificate')) {
      if (cert.tag !== TAG.SEQUENCE) throw new DerError(`embedded certificate at byte ${cert.start} is not a SEQUENCE`);
      // A copy: the caller may keep certificates after reusing its buffer.
      certificates.push(whole(der, cert).slice());
    }
  }
  c.finish('BasicOCSPResponse');

  const t = DerCursor.of(der, tbs);
  const versionTlv = t.optional(contextTag(0, true), 'version');
  if (versionTlv) {
    const vc = DerCursor.of(der, versionTlv);
    const version = smallInteger(der, vc.expect(TAG.INTEGER, 'version'), 'version');
    vc.finish('version');
    if (version !== 0) throw new OcspParseError('ERR_OCSP_UNSUPPORTED', `unsupported ResponseData version ${version + 1}`);
  }
  const ridTlv = t.next('responderID');
  let responderId: ResponderId;
  let responderIdBytes: Uint8Array;
  if (ridTlv.tag === contextTag(1, true)) {
    const rc = DerCursor.of(der, ridTlv);
    const name = rc.expect(TAG.SEQUENCE, 'responderID byName');
    rc.finish('responderID');
    responderId = { kind: 'byName', value: nameToString(der, name) };
    responderIdBytes = whole(der, name).slice();
  } else if (ridTlv.tag === contextTag(2, true)) {
    const rc = DerCursor.of(der, ridTlv);
    const key = rc.expect(TAG.OCTET_STRING, 'responderID byKey');
    rc.finish('responderID');
    responderIdBytes = content(der, key).slice();
    responderId = { kind: 'byKey', value: toHex(responderIdBytes) };
  } else {
    throw new DerError(`responderID at byte ${ridTlv.start} is neither byName [1] nor byKey [2]`);
  }
  const producedAt = readTime(der, t.expect(TAG.GENERALIZED_TIME, 'producedAt'), 'producedAt');
  const responsesTlv = t.expect(TAG.SEQUENCE, 'responses');
  const singleResponses = DerCursor.of(der, responsesTlv)
    .rest('SingleResponse')
    .map((s, i) => parseSingle(der, s, i));
  const extTlv = t.optional(contextTag(1, true), 'responseExtensions');
  const responseExtensions = extTlv ? parseExplicitExtensions(der, extTlv, 'responseExtensions') : [];
  t.finish('ResponseData');

  const algInfo = SIGNATURE_ALGORITHMS[sigAlg.oid];
  return {
    info: {
      producedAt,
      responderId,
      signatureAlgorithm: { oid: sigAlg.oid, name: algInfo?.name ?? sigAlg.oid },
      certificates,
      singleResponses,
      responseExtensions,
    },
    details: {
      tbsResponseData: whole(der, tbs).slice(),
      signatureAlgorithm: sigAlg,
      signatureParams: sigAlg.params ? whole(der, sigAlg.params).slice() : null,
      signature: signature.slice(),
      responderIdBytes,
    },
  };
}

function parseSingle(der: Uint8Array, tlv: Tlv, index: number): SingleResponseInfo {
  const what = `SingleResponse ${index}`;
  if (tlv.tag !== TAG.SEQUENCE) throw new DerError(`${what} is not a SEQUENCE`);
  const c = DerCursor.of(der, tlv);

  const idc = DerCursor.of(der, c.expect(TAG.SEQUENCE, `${what} certID`));
  const hashAlg = readAlgorithmIdentifier(der, idc.expect(TAG.SEQUENCE, `${what} hashAlgorithm`), `${what} hashAlgorithm`);
  const issuerNameHash = toHex(content(der, idc.expect(TAG.OCTET_STRING, `${what} issuerNameHash`)));
  const issuerKeyHash = toHex(content(der, idc.expect(TAG.OCTET_STRING, `${what} issuerKeyHash`)));
  const serialNumber = integerHex(der, idc.expect(TAG.INTEGER, `${what} serialNumber`));
  idc.finish(`${what} certID`);

  // CertStatus (RFC 6960 §4.2.1) is a CHOICE of implicitly tagged values.
  const statusTlv = c.next(`${what} certStatus`);
  let certStatus: CertStatus;
  let revocationTime: Date | null = null;
  let revocationReason: RevocationReason | null = null;
  if (statusTlv.tag === contextTag(0, false) && statusTlv.end === statusTlv.contentStart) {
    certStatus = 'good';
  } else if (statusTlv.tag === contextTag(2, false) && statusTlv.end === statusTlv.contentStart) {
    certStatus = 'unknown';
  } else if (statusTlv.tag === contextTag(1, true)) {
    certStatus = 'revoked';
    const rc = DerCursor.of(der, statusTlv);
    revocationTime = readTime(der, rc.expect(TAG.GENERALIZED_TIME, `${what} revocationTime`), `${what} revocationTime`);
    const reasonTlv = rc.optional(contextTag(0, true), `${what} revocationReason`);
    if (reasonTlv) {
      const reason = DerCursor.of(der, reasonTlv);
      const value = smallInteger(der, reason.expect(TAG.ENUMERATED, `${what} revocationReason`), `${what} revocationReason`);
      reason.finish(`${what} revocationReason`);
      // Unassigned values (7, > 10) are reported as "no usable reason" rather than failing the response.
      revocationReason = CRL_REASONS[value] ?? null;
    }
    rc.finish(`${what} RevokedInfo`);
  } else {
    throw new DerError(`${what}: bad certStatus at byte ${statusTlv.start}`);
  }

  const thisUpdate = readTime(der, c.expect(TAG.GENERALIZED_TIME, `${what} thisUpdate`), `${what} thisUpdate`);
  let nextUpdate: Date | null = null;
  const nextTlv = c.optional(contextTag(0, true), `${what} nextUpdate`);
  if (nextTlv) {
    const nc = DerCursor.of(der, nextTlv);
    nextUpdate = readTime(der, nc.expect(TAG.GENERALIZED_TIME, `${what} nextUpdate`), `${what} nextUpdate`);
    nc.finish(`${what} nextUpdate`);
  }
  const extTlv = c.optional(contextTag(1, true), `${what} singleExtensions`);
  const extensions = extTlv ? parseExplicitExtensions(der, extTlv, `${what} singleExtensions`) : [];
  c.finish(what);

  return {
    certId: { hashAlgorithm: algorithmInfo(hashAlg.oid), issuerNameHash, issuerKeyHash, serialNumber },
    certStatus,
    thisUpdate,
    nextUpdate,
    revocationTime,
    revocationReason,
    extensions,
  };
}

function algorithmInfo(oid: string): AlgorithmInfo {
  return { oid, name: HASH_ALGORITHMS[oid]?.name ?? oid };
}

/** `[n] EXPLICIT Extensions` (RFC 5280 §4.1: SEQUENCE SIZE (1..MAX) OF Extension). */
function parseExplicitExtensions(der: Uint8Array, tagged: Tlv, what: string): ExtensionInfo[] {
  const wrapper = DerCursor.of(der, tagged);
  const seq = wrapper.expect(TAG.SEQUENCE, what);
  wrapper.finish(what);
  return DerCursor.of(der, seq)
    .rest('Extension')
    .map((ext) => {
      if (ext.tag !== TAG.SEQUENCE) throw new DerError(`${what}: extension at byte ${ext.start} is not a SEQUENCE`);
      const ec = DerCursor.of(der, ext);
      const oid = readOid(der, ec.expect(TAG.OID, `${what} extnID`));
      const criticalTlv = ec.optional(TAG.BOOLEAN, `${what} critical`);
      const critical = criticalTlv ? readBoolean(der, criticalTlv, `${what} critical`) : false;
      const valueHex = toHex(content(der, ec.expect(TAG.OCTET_STRING, `${what} extnValue`)));
      ec.finish(`${what} Extension`);
      return { oid, name: EXTENSION_NAMES[oid] ?? null, critical, valueHex };
    });
}
