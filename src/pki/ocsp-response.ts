/**
 * Crafted OCSP responses (RFC 6960 §4.2.1), good ones and deliberately broken ones: any response
 * status, several SingleResponses, issuer-signed or delegated, responderID by name or by key (and
 * lying about it), embedded certificates or none, any digest, RSASSA-PSS, a nonce, a tampered
 * signature. The whole structure is written with asn1js rather than pkijs' BasicOCSPResponse so
 * every tag is exactly the one the RFC's EXPLICIT-TAGS module gives: certStatus good [0] IMPLICIT
 * NULL, revoked [1] IMPLICIT RevokedInfo, nextUpdate [0] EXPLICIT, responderID [1]/[2] EXPLICIT.
 */
import * as asn1js from 'asn1js';
import type { ResponseStatus, RevocationReason } from '../ocsp/types.js';
import { defaultSignatureHash, hashAlgorithmIdentifier, signatureAlgorithmIdentifier } from './algorithms.js';
import type { Issued } from './certificate.js';
import { bytesEqual, digest, embedDer, generalizedTime, readCertificate, toDer, type HashName } from './der.js';
import { PkiError } from './errors.js';
import { signData } from './keys.js';

export interface SingleResponseSpec {
  /** The certificate whose status this is (its serial goes into the CertID). */
  leaf: Issued | Uint8Array;
  /** The certificate that issued `leaf` (its name and key are hashed into the CertID). */
  issuer: Issued | Uint8Array;
  /** CertID hash algorithm; default SHA-1 (what OpenSSL and most responders use). */
  certIdHash?: HashName;
  status: 'good' | 'revoked' | 'unknown';
  /** Required when revoked. */
  revocationTime?: Date;
  /** Omit → RevokedInfo has no reason. */
  revocationReason?: RevocationReason;
  thisUpdate: Date;
  /** Null → the field is left out (RFC 6960 §4.2.2.1: "newer information is always available"). */
  nextUpdate: Date | null;
}

export interface OcspResponseOptions {
  /** Default successful; any other status → an OCSPResponse without responseBytes. */
  responseStatus?: ResponseStatus;
  /** Who signs; default the issuer of the first single (which must then be an Issued). */
  signer?: Issued;
  /** Default byKey. */
  responderIdKind?: 'byName' | 'byKey';
  /** Name this certificate in responderID instead of the signer: lie about who signed. */
  responderIdOf?: Issued;
  /** Default: [signer] when the signer is not the first single's issuer, else []. */
  embedCertificates?: Issued[];
  /** Default now. */
  producedAt?: Date;
  singles?: SingleResponseSpec[];
  /** Default SHA-384 for a P-384 signer, else SHA-256. */
  signatureHash?: HashName;
  /** Sign with RSASSA-PSS (RSA signers only). */
  rsaPss?: boolean;
  /** Flip one bit of the signature after signing. */
  tamperSignature?: boolean;
  /** Adds the id-pkix-ocsp-nonce response extension with this value (RFC 8954). */
  nonce?: Uint8Array;
}

/** RFC 6960 §4.2.1 OCSPResponseStatus values (4 is unused). */
const RESPONSE_STATUS_CODES: Record<ResponseStatus, number> = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
};

/** RFC 5280 §5.3.1 CRLReason values (7 is unused). */
const REASON_CODES: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const ID_PKIX_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';

function invalid(message: string): PkiError {
  return new PkiError('ERR_PKI_INVALID_OPTION', message);
}

function derOf(certificate: Issued | Uint8Array): Uint8Array {
  return certificate instanceof Uint8Array ? certificate : certificate.der;
}

function contextExplicit(tagNumber: number, value: asn1js.AsnType): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value: [value] });
}

/** CertID (RFC 6960 §4.1.1): hashes of the issuer's Name DER and public key bits, and the serial. */
function certId(spec: SingleResponseSpec): asn1js.Sequence {
  const hash = spec.certIdHash ?? 'SHA-1';
  const issuer = readCertificate(derOf(spec.issuer));
  const leaf = readCertificate(derOf(spec.leaf));
  return new asn1js.Sequence({
    value: [
      hashAlgorithmIdentifier(hash),
      new asn1js.OctetString({ valueHex: digest(hash, issuer.subjectDer) }),
      new asn1js.OctetString({ valueHex: digest(hash, issuer.publicKeyBits) }),
      new asn1js.Integer({ valueHex: leaf.serialBytes }),
    ],
  });
}

function certStatus(spec: SingleResponseSpec): asn1js.AsnType {
  switch (spec.status) {
    case 'good':
      return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 } });
    case 'unknown':
      return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 } });
    case 'revoked': {
      if (!spec.revocationTime) throw invalid('a revoked SingleResponse needs revocationTime');
      const revokedInfo: asn1js.AsnType[] = [generalizedTime(spec.revocationTime, 'revocationTime')];
      if (spec.revocationReason !== undefined) {
        const code = REASON_CODES[spec.revocationReason];
        if (code === undefined) throw invalid(`unknown revocationReason: ${String(spec.revocationReason)}`);
        revokedInfo.push(contextExplicit(0, new asn1js.Enumerated({ value: code })));
      }
      return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 1 }, value: revokedInfo });
    }
    default:
      throw invalid(`unknown status: ${String(spec.status)}`);
  }
}

function singleResponse(spec: SingleResponseSpec): asn1js.Sequence {
  if (spec.status !== 'revoked' && (spec.revocationTime !== undefined || spec.revocationReason !== undefined)) {
    throw invalid(`revocationTime and revocationReason belong to revoked responses, not ${spec.status}`);
  }
  const value: asn1js.AsnType[] = [certId(spec), certStatus(spec), generalizedTime(spec.thisUpdate, 'thisUpdate')];
  if (spec.nextUpdate !== null) {
    if (!(spec.nextUpdate instanceof Date)) throw invalid('nextUpdate must be a Date or null');
    value.push(contextExplicit(0, generalizedTime(spec.nextUpdate, 'nextUpdate')));
  }
  return new asn1js.Sequence({ value });
}

/** ResponderID (RFC 6960 §4.2.1): [1] Name, or [2] SHA-1 of the subjectPublicKey bits. */
function responderId(certificate: Issued, kind: 'byName' | 'byKey'): asn1js.Constructed {
  const parts = readCertificate(certificate.der);
  if (kind === 'byName') return contextExplicit(1, embedDer(parts.subjectDer, 'responder Name'));
  if (kind === 'byKey') return contextExplicit(2, new asn1js.OctetString({ valueHex: digest('SHA-1', parts.publicKeyBits) }));
  throw invalid(`unknown responderIdKind: ${String(kind)}`);
}

function nonceExtensions(nonce: Uint8Array): asn1js.Constructed {
  // RFC 8954 §2.1: the extnValue holds an OCTET STRING holding the nonce.
  const extension = new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: ID_PKIX_OCSP_NONCE }),
      new asn1js.OctetString({ valueHex: toDer(new asn1js.OctetString({ valueHex: nonce })) }),
    ],
  });
  return contextExplicit(1, new asn1js.Sequence({ value: [extension] }));
}

function outerResponse(status: ResponseStatus, basic?: Uint8Array): Uint8Array {
  const code = RESPONSE_STATUS_CODES[status];
  if (code === undefined) throw invalid(`unknown responseStatus: ${String(status)}`);
  const value: asn1js.AsnType[] = [new asn1js.Enumerated({ value: code })];
  if (basic) {
    const responseBytes = new asn1js.Sequence({
      value: [new asn1js.ObjectIdentifier({ value: ID_PKIX_OCSP_BASIC }), new asn1js.OctetString({ valueHex: basic })],
    });
    value.push(contextExplicit(0, responseBytes));
  }
  return toDer(new asn1js.Sequence({ value }));
}

/** Builds an OCSPResponse and returns its DER. */
export async function createOcspResponse(options: OcspResponseOptions): Promise<Uint8Array> {
  const status = options.responseStatus ?? 'successful';
  // RFC 6960 §4.2.1: responseBytes are present only in successful responses.
  if (status !== 'successful') return outerResponse(status);

  const singles = options.singles ?? [];
  const firstIssuer = singles[0]?.issuer;
  const signer = options.signer ?? (firstIssuer instanceof Uint8Array ? undefined : firstIssuer);
  if (!signer) throw invalid('a successful response needs a signer (or a first single whose issuer is an Issued)');
  if (options.rsaPss && signer.kind !== 'rsa-2048') throw invalid(`rsaPss needs an RSA signer, not ${signer.kind}`);
  const hash = options.signatureHash ?? defaultSignatureHash(signer.kind);
  const signedByIssuer = firstIssuer !== undefined && bytesEqual(derOf(firstIssuer), signer.der);
  const embedded = options.embedCertificates ?? (signedByIssuer ? [] : [signer]);

  const responseData: asn1js.AsnType[] = [
    // version is DEFAULT v1 and so absent in DER.
    responderId(options.responderIdOf ?? signer, options.responderIdKind ?? 'byKey'),
    generalizedTime(options.producedAt ?? new Date(), 'producedAt'),
    new asn1js.Sequence({ value: singles.map(singleResponse) }),
  ];
  if (options.nonce) responseData.push(nonceExtensions(options.nonce));
  const tbsResponseData = toDer(new asn1js.Sequence({ value: responseData }));

  const signature = signData(signer.keys, tbsResponseData, { hash, pss: options.rsaPss ?? false });
  if (options.tamperSignature) {
    // The last octet lies inside the signature value itself (s of an ECDSA signature), so the
    // DER stays well-formed and only the verification fails.
    signature[signature.length - 1]! ^= 0x01;
  }

  const basic: asn1js.AsnType[] = [
    embedDer(tbsResponseData, 'tbsResponseData'),
    signatureAlgorithmIdentifier(signer.kind, hash, options.rsaPss ?? false),
    new asn1js.BitString({ valueHex: signature }),
  ];
  if (embedded.length > 0) {
    basic.push(contextExplicit(0, new asn1js.Sequence({ value: embedded.map((c) => embedDer(c.der, `certificate ${c.subject}`)) })));
  }
  return outerResponse('successful', toDer(new asn1js.Sequence({ value: basic })));
}
