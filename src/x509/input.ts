/**
 * Certificates as operators have them → DER: one DER certificate, several concatenated, or PEM
 * text with one or more `CERTIFICATE` blocks (chain files, CA bundles, combined cert+key files
 * whose key blocks are skipped, never decoded). Each is checked to be a readable certificate.
 */
import { readCertificateInfo, MAX_CERTIFICATE_BYTES } from './certificate.js';
import { DerCursor, DerError, TAG, contextTag, readOid, readTlv } from './der.js';
import { CertificateParseError } from './errors.js';
import { CERTIFICATE_LABELS, bytesAsText, decodeBase64, pemBlocks } from './pem.js';

/** Generous for system CA bundles (~200 KiB for ~140 roots). */
const MAX_CERTIFICATE_INPUT_BYTES = 16 * 1024 * 1024;

/**
 * One DER certificate, several concatenated DER certificates, or PEM text with one or more
 * `CERTIFICATE` blocks (other blocks such as keys are skipped) → list of DER certificates, in
 * input order. Each is checked to be a readable certificate. Throws {@link CertificateParseError}.
 */
export function decodeCertificatesInput(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length === 0) throw new CertificateParseError('ERR_CERT_MALFORMED', 'certificate input is empty');
  if (bytes.length > MAX_CERTIFICATE_INPUT_BYTES) {
    throw new CertificateParseError('ERR_CERT_TOO_LARGE', `certificate input is ${bytes.length} bytes, more than the ${MAX_CERTIFICATE_INPUT_BYTES}-byte limit`);
  }
  const certs: Uint8Array[] = [];
  if (bytes[0] === TAG.SEQUENCE) {
    let offset = 0;
    while (offset < bytes.length) {
      let end: number;
      try {
        end = readTlv(bytes, offset, bytes.length).end;
      } catch (error) {
        const message = error instanceof DerError ? error.message : String(error);
        throw new CertificateParseError('ERR_CERT_MALFORMED', `malformed DER certificate input: ${message}`, { cause: error });
      }
      certs.push(checked(bytes.slice(offset, end), certs.length));
      offset = end;
    }
    return certs;
  }
  let sawBlock = false;
  for (const { label, body } of pemBlocks(bytesAsText(bytes))) {
    sawBlock = true;
    if (!CERTIFICATE_LABELS.includes(label)) continue;
    const der = decodeBase64(body);
    if (!der) throw new CertificateParseError('ERR_CERT_MALFORMED', `PEM ${label} block ${certs.length + 1} is not valid base64`);
    // OpenSSL's TRUSTED CERTIFICATE appends trust settings after the certificate: keep the certificate.
    certs.push(checked(label === 'TRUSTED CERTIFICATE' ? firstElement(der) : der, certs.length));
  }
  if (certs.length === 0) {
    throw new CertificateParseError(
      'ERR_CERT_MALFORMED',
      sawBlock ? 'no CERTIFICATE block in the PEM input' : 'certificate input is neither DER nor PEM',
    );
  }
  return certs;
}

function firstElement(der: Uint8Array): Uint8Array {
  try {
    return der.subarray(0, readTlv(der, 0, der.length).end);
  } catch {
    return der;
  }
}

function checked(der: Uint8Array, index: number): Uint8Array {
  if (der.length > MAX_CERTIFICATE_BYTES) {
    throw new CertificateParseError('ERR_CERT_TOO_LARGE', `certificate ${index + 1} is ${der.length} bytes, more than the ${MAX_CERTIFICATE_BYTES}-byte limit`);
  }
  try {
    readCertificateInfo(der);
  } catch (error) {
    if (error instanceof CertificateParseError) {
      throw new CertificateParseError(error.code, `certificate ${index + 1}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  return der;
}

/** PKCS#7 signedData (RFC 5652 §5.1), as CAs serve "certs-only" bundles (RFC 5280 §4.2.2.1). */
const OID_PKCS7_SIGNED_DATA = '1.2.840.113549.1.7.2';

/**
 * The certificates of a DER PKCS#7 / CMS ContentInfo holding signedData (RFC 5652 §3, §5.1):
 * `certificates [0] IMPLICIT CertificateSet`. Only plain certificates are taken (other choices of
 * the set are skipped). Throws {@link CertificateParseError} when it is not such a structure.
 */
export function certificatesFromPkcs7(der: Uint8Array): Uint8Array[] {
  try {
    const outer = readTlv(der, 0, der.length);
    if (outer.tag !== TAG.SEQUENCE || outer.end !== der.length) throw new DerError('not a single ContentInfo SEQUENCE');
    const info = DerCursor.of(der, outer);
    if (readOid(der, info.expect(TAG.OID, 'contentType')) !== OID_PKCS7_SIGNED_DATA) throw new DerError('contentType is not signedData');
    const explicit = DerCursor.of(der, info.expect(contextTag(0, true), 'content'));
    const signedData = DerCursor.of(der, explicit.expect(TAG.SEQUENCE, 'SignedData'));
    signedData.expect(TAG.INTEGER, 'version');
    signedData.expect(TAG.SET, 'digestAlgorithms');
    signedData.expect(TAG.SEQUENCE, 'encapContentInfo');
    const set = signedData.optional(contextTag(0, true), 'certificates');
    if (!set) return [];
    return DerCursor.of(der, set)
      .rest('certificate')
      .filter((tlv) => tlv.tag === TAG.SEQUENCE)
      .map((tlv, index) => checked(der.slice(tlv.start, tlv.end), index));
  } catch (error) {
    if (error instanceof CertificateParseError) throw error;
    throw new CertificateParseError('ERR_CERT_MALFORMED', `not a PKCS#7 certs-only bundle: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * What a caIssuers URL serves (RFC 5280 §4.2.2.1: a DER certificate, or a "certs-only" CMS
 * message; some CAs serve PEM) → the certificates in it. Throws {@link CertificateParseError}.
 */
export function decodeIssuerCertificates(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length > 0 && bytes[0] === TAG.SEQUENCE) {
    // A certificate starts SEQUENCE { SEQUENCE tbsCertificate …; a ContentInfo SEQUENCE { OID ….
    try {
      const outer = readTlv(bytes, 0, bytes.length);
      const first = readTlv(bytes, outer.contentStart, outer.end);
      if (first.tag === TAG.OID) return certificatesFromPkcs7(bytes);
    } catch {
      // Not even a TLV: decodeCertificatesInput says what is wrong with it.
    }
    return decodeCertificatesInput(bytes);
  }
  const pkcs7 = pemBlocks(bytesAsText(bytes)).find((block) => block.label === 'PKCS7' || block.label === 'CMS');
  if (pkcs7) {
    const der = decodeBase64(pkcs7.body);
    if (!der) throw new CertificateParseError('ERR_CERT_MALFORMED', `PEM ${pkcs7.label} block is not valid base64`);
    return certificatesFromPkcs7(der);
  }
  return decodeCertificatesInput(bytes);
}
