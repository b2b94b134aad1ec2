/**
 * The public shape of everything the OCSP core reports: a parsed OCSPResponse (RFC 6960 §4.2.1)
 * and the verdict of checking it against a leaf certificate and its issuer. Plain data only, so
 * results can cross worker threads and be serialised to JSON unchanged (Dates aside).
 */

/** RFC 6960 §4.2.1 OCSPResponseStatus, by its ASN.1 name. */
export type ResponseStatus =
  | 'successful'
  | 'malformedRequest'
  | 'internalError'
  | 'tryLater'
  | 'sigRequired'
  | 'unauthorized';

export type CertStatus = 'good' | 'revoked' | 'unknown';

/** RFC 5280 §5.3.1 CRLReason names. */
export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL'
  | 'privilegeWithdrawn'
  | 'aACompromise';

export interface AlgorithmInfo {
  oid: string;
  /** Short name such as `sha256`, `ecdsa-with-SHA256`, `sha256WithRSAEncryption`, `RSASSA-PSS`; the OID when unknown. */
  name: string;
}

export interface ExtensionInfo {
  oid: string;
  /** Short name when known (`nonce`, `crlReason`, ...), else null. */
  name: string | null;
  critical: boolean;
  /** extnValue contents, hex (lower case). */
  valueHex: string;
}

export interface CertIdInfo {
  hashAlgorithm: AlgorithmInfo;
  /** Hex, lower case. */
  issuerNameHash: string;
  /** Hex, lower case. */
  issuerKeyHash: string;
  /** Hex, upper case, no leading zero bytes (as `openssl x509 -serial` prints it). */
  serialNumber: string;
}

export interface SingleResponseInfo {
  certId: CertIdInfo;
  certStatus: CertStatus;
  thisUpdate: Date;
  /** Absent in the response → null (RFC 6960 §4.2.2.1); never a sentinel date. */
  nextUpdate: Date | null;
  revocationTime: Date | null;
  /** Null when not revoked or when the responder gave no reason. */
  revocationReason: RevocationReason | null;
  extensions: ExtensionInfo[];
}

export type ResponderId =
  | { kind: 'byName'; /** RFC 4514 string, e.g. `CN=Responder,O=Example` */ value: string }
  | { kind: 'byKey'; /** SHA-1 of the responder's public key, hex lower case */ value: string };

export interface BasicResponseInfo {
  producedAt: Date;
  responderId: ResponderId;
  signatureAlgorithm: AlgorithmInfo;
  /** DER of each certificate embedded in the response (`certs` field). */
  certificates: Uint8Array[];
  singleResponses: SingleResponseInfo[];
  responseExtensions: ExtensionInfo[];
}

export interface ParsedOcspResponse {
  responseStatus: ResponseStatus;
  /** OID of responseBytes.responseType; null for non-successful responses (no responseBytes). */
  responseType: string | null;
  /** Present only for successful id-pkix-ocsp-basic responses. */
  basic: BasicResponseInfo | null;
  /** Size of the DER that was parsed, bytes. */
  size: number;
}

/**
 * Named problems, stable strings used verbatim as the `problem` label of `ocsp_staple_problem`.
 * Every problem except the advisory ones (`no_next_update`, `signer_expires_before_next_update`)
 * makes the verdict invalid.
 */
export type OcspProblem =
  /** Not a DER OCSPResponse at all (truncated, random, oversized, nested too deep...). */
  | 'unparseable'
  /** responseStatus other than successful (tryLater, internalError, ...). */
  | 'not_successful'
  /** responseType other than id-pkix-ocsp-basic. */
  | 'unsupported_response_type'
  /** No SingleResponse has a CertID matching the leaf and its issuer. */
  | 'wrong_certificate'
  /** The signature does not verify with the signer's key (or the algorithm is unsupported). */
  | 'bad_signature'
  /** Signed by a key that is neither the issuer's nor an issuer-signed id-kp-OCSPSigning delegate. */
  | 'unauthorized_responder'
  /** The delegated responder's certificate has expired (its notAfter is before now - skew): clients reject the staple. */
  | 'signer_expired'
  /** The delegated responder's certificate is not valid yet (its notBefore is after now + skew). */
  | 'signer_not_yet_valid'
  /** Advisory only: the delegated responder's certificate expires before the staple's nextUpdate, which ends the staple's life early. */
  | 'signer_expires_before_next_update'
  /** The responderID names neither the issuer nor the embedded signer. */
  | 'responder_id_mismatch'
  /** thisUpdate is later than now + allowed skew. */
  | 'not_yet_valid'
  /** nextUpdate has passed (now - skew). */
  | 'expired'
  /** Advisory only: the response has no nextUpdate. Does not make the verdict invalid. */
  | 'no_next_update'
  /** The leaf or issuer certificate needed for checking was not available. */
  | 'issuer_unknown';

export type SignerKind = 'issuer' | 'delegated' | 'unknown';

export interface OcspVerdict {
  /** Parsed, successful, signed by an authorised responder, CertID matches, inside its validity window. */
  valid: boolean;
  /** Sorted, unique. Empty when valid and nothing advisory applies. */
  problems: OcspProblem[];
  /** Null when the bytes could not be parsed (see parseError). */
  response: ParsedOcspResponse | null;
  parseError: { code: string; message: string } | null;
  /** Index into response.basic.singleResponses of the one matching the leaf; null if none. */
  matchedIndex: number | null;
  /** The matching SingleResponse, else the first one, else null. */
  single: SingleResponseInfo | null;
  /** Null when it could not be judged (no leaf/issuer given, or nothing parsed). */
  certIdMatchesLeaf: boolean | null;
  /**
   * The signature verifies with the signer's key AND the signer is authorised for the issuer (the
   * issuer itself, or its id-kp-OCSPSigning delegate named by the responderID): what
   * `openssl ocsp -verify` reports as "Response verify OK". Null when it could not be judged (no
   * issuer given, or nothing parsed / not successful).
   */
  signatureValid: boolean | null;
  /** Only the cryptography: the signature verifies with the key of whoever signed, authorised or not. */
  signatureVerifies: boolean | null;
  /** Who signed; a delegated responder's validity window too (null for the issuer or when unknown). */
  signer: { kind: SignerKind; subject: string | null; notBefore: Date | null; notAfter: Date | null };
}
