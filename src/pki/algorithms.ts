/**
 * AlgorithmIdentifiers for the signatures the builder makes: ECDSA (RFC 5758 §3.2, no parameters),
 * RSA PKCS#1 v1.5 (RFC 4055 §5, NULL parameters) and RSASSA-PSS with explicit RSASSA-PSS-params
 * (RFC 4055 §3.1), plus the digest identifiers used inside CertID and the PSS parameters.
 */
import * as asn1js from 'asn1js';
import { HASH_OIDS, type HashName } from './der.js';
import { PkiError } from './errors.js';
import { hashLength, isRsa, type KeyKind } from './keys.js';

const ECDSA_OIDS: Record<HashName, string> = {
  'SHA-1': '1.2.840.10045.4.1',
  'SHA-256': '1.2.840.10045.4.3.2',
  'SHA-384': '1.2.840.10045.4.3.3',
  'SHA-512': '1.2.840.10045.4.3.4',
};

const RSA_PKCS1_OIDS: Record<HashName, string> = {
  'SHA-1': '1.2.840.113549.1.1.5',
  'SHA-256': '1.2.840.113549.1.1.11',
  'SHA-384': '1.2.840.113549.1.1.12',
  'SHA-512': '1.2.840.113549.1.1.13',
};

export const RSASSA_PSS_OID = '1.2.840.113549.1.1.10';
const MGF1_OID = '1.2.840.113549.1.1.8';

function algorithmIdentifier(oid: string, parameters?: asn1js.AsnType): asn1js.Sequence {
  const value: asn1js.AsnType[] = [new asn1js.ObjectIdentifier({ value: oid })];
  if (parameters) value.push(parameters);
  return new asn1js.Sequence({ value });
}

/**
 * A digest AlgorithmIdentifier with NULL parameters, as OpenSSL writes it in a CertID and as
 * RFC 4055 §2.1 lists it (`{ id-sha256, NULL }`); verifiers accept absent parameters too.
 */
export function hashAlgorithmIdentifier(hash: HashName): asn1js.Sequence {
  return algorithmIdentifier(HASH_OIDS[hash], new asn1js.Null());
}

function explicit(tagNumber: number, value: asn1js.AsnType): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value: [value] });
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1). Fields equal to their DEFAULT (SHA-1, MGF1-SHA-1, salt 20,
 * trailer 1) must be left out in DER; the trailer is always the default here.
 */
function pssParameters(hash: HashName): asn1js.Sequence {
  const fields: asn1js.AsnType[] = [];
  if (hash !== 'SHA-1') {
    fields.push(explicit(0, hashAlgorithmIdentifier(hash)));
    fields.push(explicit(1, algorithmIdentifier(MGF1_OID, hashAlgorithmIdentifier(hash))));
  }
  if (hashLength(hash) !== 20) fields.push(explicit(2, new asn1js.Integer({ value: hashLength(hash) })));
  return new asn1js.Sequence({ value: fields });
}

/** The signature AlgorithmIdentifier for a signer of `kind` using `hash` (and PSS if asked). */
export function signatureAlgorithmIdentifier(kind: KeyKind, hash: HashName, pss = false): asn1js.Sequence {
  if (pss) {
    if (!isRsa(kind)) throw new PkiError('ERR_PKI_INVALID_OPTION', `RSASSA-PSS needs an RSA signer, not ${kind}`);
    return algorithmIdentifier(RSASSA_PSS_OID, pssParameters(hash));
  }
  return isRsa(kind)
    ? algorithmIdentifier(RSA_PKCS1_OIDS[hash], new asn1js.Null())
    : algorithmIdentifier(ECDSA_OIDS[hash]);
}

/** The digest a signer of this kind uses unless told otherwise: SHA-384 for P-384, else SHA-256. */
export function defaultSignatureHash(kind: KeyKind): HashName {
  return kind === 'ec-p384' ? 'SHA-384' : 'SHA-256';
}
