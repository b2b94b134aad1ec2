/**
 * Builds the OCSPRequest (RFC 6960 §4.1.1) the exporter sends to a certificate's responder: one
 * Request whose CertID is (hash algorithm, H(issuer subject Name DER), H(issuer subjectPublicKey
 * BIT STRING contents), leaf serial), unsigned, version omitted (DEFAULT v1). SHA-1 by default:
 * RFC 5019 §2.1.1 makes it the algorithm lightweight responders must accept, and it is what
 * OpenSSL, browsers and CAs' pre-generated answers use. No nonce by default either: RFC 5019 §4
 * responders serve pre-signed, cached answers and ignore it (and a nonce would defeat HTTP caches).
 * The hashes come from the X.509 layer's certificate reader (exact DER bytes, never re-encoded);
 * the structure is written with its small DER writer, with the serial INTEGER copied byte for byte
 * from the leaf.
 */
import { HASH_OIDS, NODE_HASH_NAMES, type HashName } from '../x509/algorithms.js';
import { readCertificateInfo, type CertificateInfo } from '../x509/certificate.js';
import { DerCursor, TAG, content, contextTag, readTlv } from '../x509/der.js';
import { derExplicit, derIntegerContents, derNull, derOctetString, derOid, derSequence } from '../x509/der-writer.js';
import { ResponderError } from './errors.js';
import { messageOf } from '../util/errors.js';

/** id-pkix-ocsp-nonce (RFC 6960 §4.4.1, RFC 8954). */
export const OID_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';

export interface OcspRequestOptions {
  /** CertID hash algorithm; default SHA-1 (RFC 5019 §2.1.1). */
  hash?: HashName;
  /** Adds a nonce request extension with these bytes (RFC 8954: 1–32 octets). Off by default. */
  nonce?: Uint8Array;
}

/** The CertID of a request, in the forms the OCSP core reports them (ocsp/types.ts CertIdInfo). */
export interface RequestCertId {
  hash: HashName;
  /** Hex, lower case. */
  issuerNameHash: string;
  /** Hex, lower case. */
  issuerKeyHash: string;
  /** Hex, upper case, as `openssl x509 -serial` prints it. */
  serialNumber: string;
}

export interface BuiltOcspRequest {
  der: Uint8Array;
  certId: RequestCertId;
}

/**
 * The DER OCSPRequest asking about `leafDer`, issued by `issuerDer`. Throws {@link ResponderError}
 * `ERR_RESPONDER_BAD_CERTIFICATE` when either certificate cannot be read, and a TypeError for a bad
 * option.
 */
export function buildOcspRequest(leafDer: Uint8Array, issuerDer: Uint8Array, options: OcspRequestOptions = {}): BuiltOcspRequest {
  const hash = options.hash ?? 'SHA-1';
  const hashOid = HASH_OIDS[hash];
  if (!hashOid) throw new TypeError(`unsupported CertID hash ${String(hash)}`);
  if (options.nonce !== undefined && (!(options.nonce instanceof Uint8Array) || options.nonce.length < 1 || options.nonce.length > 32)) {
    throw new TypeError('nonce must be 1 to 32 bytes (RFC 8954 §2.1)');
  }
  const leaf = readCertificate(leafDer, 'leaf');
  const issuer = readCertificate(issuerDer, 'issuer');
  const nodeHash = NODE_HASH_NAMES[hash];
  const certId: RequestCertId = {
    hash,
    issuerNameHash: issuer.nameHash(nodeHash),
    issuerKeyHash: issuer.keyHash(nodeHash),
    serialNumber: leaf.serialNumber,
  };

  const certIdDer = derSequence(
    // AlgorithmIdentifier with explicit NULL parameters, as OpenSSL writes it for SHA-1.
    derSequence(derOid(hashOid), derNull()),
    derOctetString(Buffer.from(certId.issuerNameHash, 'hex')),
    derOctetString(Buffer.from(certId.issuerKeyHash, 'hex')),
    derIntegerContents(serialContents(leaf)),
  );
  // TBSRequest: version omitted (DEFAULT v1), requestList of one Request { reqCert }.
  const tbsFields = [derSequence(derSequence(certIdDer))];
  if (options.nonce) {
    // requestExtensions [2] EXPLICIT Extensions; the nonce's extnValue wraps an OCTET STRING (RFC 8954 §2.1).
    const extension = derSequence(derOid(OID_OCSP_NONCE), derOctetString(derOctetString(options.nonce)));
    tbsFields.push(derExplicit(2, derSequence(extension)));
  }
  return { der: derSequence(derSequence(...tbsFields)), certId };
}

function readCertificate(der: Uint8Array, what: 'leaf' | 'issuer'): CertificateInfo {
  try {
    return readCertificateInfo(der);
  } catch (error) {
    const message = messageOf(error);
    throw new ResponderError('ERR_RESPONDER_BAD_CERTIFICATE', `cannot build an OCSP request: unreadable ${what} certificate: ${message}`, { cause: error });
  }
}

/** The serialNumber INTEGER contents exactly as in the leaf's tbsCertificate (RFC 5280 §4.1.2.2). */
function serialContents(leaf: CertificateInfo): Uint8Array {
  const tbs = leaf.tbs;
  const cursor = DerCursor.of(tbs, readTlv(tbs, 0, tbs.length));
  cursor.optional(contextTag(0, true), 'version');
  return content(tbs, cursor.expect(TAG.INTEGER, 'serialNumber')).slice();
}
