/**
 * Certificate facts the exporter reports (subject, serial, validity, fingerprint, AIA OCSP URLs,
 * Must-Staple, EKU) and the raw pieces OCSP checking needs: the subject Name DER and the
 * subjectPublicKey BIT STRING contents hashed into a CertID (RFC 6960 §4.1.1), the signed
 * tbsCertificate bytes and the public key. Each certificate is read once and kept in a bounded
 * cache keyed by its SHA-256, so a probe loop seeing the same chain again pays a hash lookup.
 * Also {@link findIssuer}: which of several candidates really issued a certificate (name match
 * AND signature check, so a look-alike CA with the same name is never taken).
 */
import { createHash, createPublicKey, hash, type KeyObject } from 'node:crypto';
import { BoundedCache } from '../util/cache.js';
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
  whole,
  type Tlv,
} from './der.js';
import { CertificateParseError } from './errors.js';
import { verifySignature } from './signature.js';
import type { CertificateFacts } from './types.js';
import { messageOf } from '../util/errors.js';
import { bytesEqual } from '../util/bytes.js';

/** Real certificates are 0.5–3 KiB; a few with huge SAN lists reach ~20 KiB. */
export const MAX_CERTIFICATE_BYTES = 65536;

export const OID_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
const OID_AIA = '1.3.6.1.5.5.7.1.1';
const OID_AD_OCSP = '1.3.6.1.5.5.7.48.1';
const OID_AD_CA_ISSUERS = '1.3.6.1.5.5.7.48.2';
const OID_TLS_FEATURE = '1.3.6.1.5.5.7.1.24';
const OID_EKU = '2.5.29.37';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
/** RFC 7633 §6: status_request, the TLS extension number of OCSP stapling. */
const TLS_FEATURE_STATUS_REQUEST = 5;

/** A parsed certificate, internal to the OCSP core (verify.ts uses it). */
export interface CertificateInfo {
  der: Uint8Array;
  /** SHA-256 of the DER, hex lower case; also the cache key. */
  fingerprintSha256: string;
  /** tbsCertificate as received: the signed bytes. */
  tbs: Uint8Array;
  signatureOid: string;
  signatureParams: Uint8Array | null;
  signature: Uint8Array;
  serialNumber: string;
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  issuer: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Uint8Array;
  /** subjectPublicKey BIT STRING contents (no unused-bits octet): what CertID and byKey hash. */
  keyBits: Uint8Array;
  ocspUrls: string[];
  /** AIA id-ad-caIssuers URIs (RFC 5280 §4.2.2.1), in order: where the issuer's certificate can be fetched. */
  caIssuersUrls: string[];
  mustStaple: boolean;
  extendedKeyUsage: string[];
  isCA: boolean;
  /** Node key object, created on first use; null when Node cannot load the key. */
  publicKey(): KeyObject | null;
  /** `hash(subject Name DER)` and `hash(keyBits)` hex, per Node digest name, memoised. */
  nameHash(nodeHash: string): string;
  keyHash(nodeHash: string): string;
  facts: CertificateFacts;
}

// A parsed certificate keeps a copy of its DER plus views, strings and a native key: about twice
// its size, plus a fixed overhead. 24 MiB holds ~4,000 typical (1–2 KB) certificates.
const certificateCache = new BoundedCache<string, CertificateInfo>(4096, 24 * 1024 * 1024);
const CERTIFICATE_OVERHEAD_BYTES = 2048;
/** `${leafFingerprint}/${candidateFingerprint}` → candidate issued leaf. */
const issuedCache = new BoundedCache<string, boolean>(4096);

/** Forgets every cached certificate and issuer check (for benchmarks and tests). */
export function clearCertificateCache(): void {
  certificateCache.clear();
  issuedCache.clear();
}

/** Facts about a DER certificate. Throws only {@link CertificateParseError}. Cached by bytes. */
export function certificateFacts(der: Uint8Array): CertificateFacts {
  return readCertificateInfo(der).facts;
}

/** The parsed certificate, from the cache when seen before. Throws only {@link CertificateParseError}. */
export function readCertificateInfo(der: Uint8Array): CertificateInfo {
  if (!(der instanceof Uint8Array) || der.length === 0) {
    throw new CertificateParseError('ERR_CERT_MALFORMED', 'certificate is empty or not bytes');
  }
  if (der.length > MAX_CERTIFICATE_BYTES) {
    throw new CertificateParseError('ERR_CERT_TOO_LARGE', `certificate is ${der.length} bytes, more than the ${MAX_CERTIFICATE_BYTES}-byte limit`);
  }
  const fingerprint = hash('sha256', der, 'hex');
  const cached = certificateCache.get(fingerprint);
  if (cached) return cached;
  let info: CertificateInfo;
  try {
    info = parseCertificate(der.slice(), fingerprint);
  } catch (error) {
    const message = messageOf(error);
    throw new CertificateParseError('ERR_CERT_MALFORMED', `malformed certificate: ${message}`, { cause: error });
  }
  certificateCache.set(fingerprint, info, 2 * der.length + CERTIFICATE_OVERHEAD_BYTES);
  return info;
}

function parseCertificate(der: Uint8Array, fingerprintSha256: string): CertificateInfo {
  const outer = readTlv(der, 0, der.length);
  if (outer.tag !== TAG.SEQUENCE) throw new DerError(`not a certificate: starts with tag 0x${der[0]!.toString(16).padStart(2, '0')}`);
  if (outer.end !== der.length) throw new DerError(`${der.length - outer.end} bytes of trailing data after the certificate`);
  const c = DerCursor.of(der, outer);
  const tbsTlv = c.expect(TAG.SEQUENCE, 'tbsCertificate');
  const sigAlg = readAlgorithmIdentifier(der, c.expect(TAG.SEQUENCE, 'signatureAlgorithm'), 'signatureAlgorithm');
  const signature = bitStringBytes(der, c.expect(TAG.BIT_STRING, 'signatureValue'), 'signatureValue');
  c.finish('Certificate');

  // RFC 5280 §4.1.2
  const t = DerCursor.of(der, tbsTlv);
  const versionTlv = t.optional(contextTag(0, true), 'version');
  if (versionTlv) {
    const vc = DerCursor.of(der, versionTlv);
    const version = smallInteger(der, vc.expect(TAG.INTEGER, 'version'), 'version');
    if (version > 2) throw new DerError(`unknown certificate version ${version + 1}`);
  }
  const serialNumber = integerHex(der, t.expect(TAG.INTEGER, 'serialNumber'));
  t.expect(TAG.SEQUENCE, 'signature');
  const issuerTlv = t.expect(TAG.SEQUENCE, 'issuer');
  const validity = DerCursor.of(der, t.expect(TAG.SEQUENCE, 'validity'));
  const notBefore = readTime(der, validity.next('notBefore'), 'notBefore');
  const notAfter = readTime(der, validity.next('notAfter'), 'notAfter');
  validity.finish('validity');
  const subjectTlv = t.expect(TAG.SEQUENCE, 'subject');
  const spkiTlv = t.expect(TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const spki = DerCursor.of(der, spkiTlv);
  readAlgorithmIdentifier(der, spki.expect(TAG.SEQUENCE, 'subjectPublicKeyInfo algorithm'), 'subjectPublicKeyInfo algorithm');
  const keyBits = bitStringBytes(der, spki.expect(TAG.BIT_STRING, 'subjectPublicKey'), 'subjectPublicKey');
  spki.finish('subjectPublicKeyInfo');
  t.optional(contextTag(1, false), 'issuerUniqueID');
  t.optional(contextTag(2, false), 'subjectUniqueID');
  const extTlv = t.optional(contextTag(3, true), 'extensions');
  t.finish('tbsCertificate');

  const ext = extTlv ? readExtensions(der, extTlv) : { ocspUrls: [], caIssuersUrls: [], mustStaple: false, extendedKeyUsage: [], isCA: false };
  const issuer = nameToString(der, issuerTlv);
  const subject = nameToString(der, subjectTlv);
  const spkiDer = whole(der, spkiTlv);
  const subjectDer = whole(der, subjectTlv);

  let key: KeyObject | null | undefined;
  const nameHashes = new Map<string, string>();
  const keyHashes = new Map<string, string>();
  const facts: CertificateFacts = Object.freeze({
    subject,
    issuer,
    serialNumber,
    notBefore,
    notAfter,
    fingerprintSha256,
    ocspUrls: Object.freeze([...ext.ocspUrls]) as string[],
    mustStaple: ext.mustStaple,
    extendedKeyUsage: Object.freeze([...ext.extendedKeyUsage]) as string[],
    isCA: ext.isCA,
  });
  return {
    der,
    fingerprintSha256,
    tbs: whole(der, tbsTlv),
    signatureOid: sigAlg.oid,
    signatureParams: sigAlg.params ? whole(der, sigAlg.params) : null,
    signature,
    serialNumber,
    issuerDer: whole(der, issuerTlv),
    subjectDer,
    issuer,
    subject,
    notBefore,
    notAfter,
    spkiDer,
    keyBits,
    ocspUrls: ext.ocspUrls,
    caIssuersUrls: ext.caIssuersUrls,
    mustStaple: ext.mustStaple,
    extendedKeyUsage: ext.extendedKeyUsage,
    isCA: ext.isCA,
    publicKey() {
      if (key === undefined) {
        try {
          key = createPublicKey({ key: Buffer.from(spkiDer.buffer, spkiDer.byteOffset, spkiDer.length), format: 'der', type: 'spki' });
        } catch {
          key = null;
        }
      }
      return key;
    },
    nameHash(nodeHash) {
      let h = nameHashes.get(nodeHash);
      if (h === undefined) nameHashes.set(nodeHash, (h = createHash(nodeHash).update(subjectDer).digest('hex')));
      return h;
    },
    keyHash(nodeHash) {
      let h = keyHashes.get(nodeHash);
      if (h === undefined) keyHashes.set(nodeHash, (h = createHash(nodeHash).update(keyBits).digest('hex')));
      return h;
    },
    facts,
  };
}

interface ExtensionFacts {
  ocspUrls: string[];
  caIssuersUrls: string[];
  mustStaple: boolean;
  extendedKeyUsage: string[];
  isCA: boolean;
}

/**
 * Reads the extensions the exporter reports. A malformed extension is treated as absent, as
 * OpenSSL does until the extension is needed: the certificate itself stays readable.
 */
function readExtensions(der: Uint8Array, extTlv: Tlv): ExtensionFacts {
  const out: ExtensionFacts = { ocspUrls: [], caIssuersUrls: [], mustStaple: false, extendedKeyUsage: [], isCA: false };
  const wrapper = DerCursor.of(der, extTlv);
  const seq = wrapper.expect(TAG.SEQUENCE, 'extensions');
  wrapper.finish('extensions');
  for (const ext of DerCursor.of(der, seq).rest('extension')) {
    if (ext.tag !== TAG.SEQUENCE) throw new DerError(`extension at byte ${ext.start} is not a SEQUENCE`);
    const ec = DerCursor.of(der, ext);
    const oid = readOid(der, ec.expect(TAG.OID, 'extnID'));
    const criticalTlv = ec.optional(TAG.BOOLEAN, 'critical');
    if (criticalTlv) readBoolean(der, criticalTlv, 'critical');
    const valueTlv = ec.expect(TAG.OCTET_STRING, 'extnValue');
    ec.finish('extension');
    try {
      const inner = readTlv(der, valueTlv.contentStart, valueTlv.end);
      if (inner.end !== valueTlv.end) continue;
      switch (oid) {
        case OID_AIA: // RFC 5280 §4.2.2.1
          for (const ad of DerCursor.of(der, inner).rest('AccessDescription')) {
            const ac = DerCursor.of(der, ad);
            const method = readOid(der, ac.expect(TAG.OID, 'accessMethod'));
            const location = ac.next('accessLocation');
            // uniformResourceIdentifier [6] IA5String
            if (location.tag !== contextTag(6, false)) continue;
            if (method === OID_AD_OCSP) out.ocspUrls.push(Buffer.from(content(der, location)).toString('latin1'));
            else if (method === OID_AD_CA_ISSUERS) out.caIssuersUrls.push(Buffer.from(content(der, location)).toString('latin1'));
          }
          break;
        case OID_TLS_FEATURE: // RFC 7633 §4.2: SEQUENCE OF INTEGER
          for (const feature of DerCursor.of(der, inner).rest('TLS feature')) {
            if (feature.tag === TAG.INTEGER && feature.end - feature.contentStart <= 4 && smallInteger(der, feature, 'TLS feature') === TLS_FEATURE_STATUS_REQUEST) {
              out.mustStaple = true;
            }
          }
          break;
        case OID_EKU: // RFC 5280 §4.2.1.12
          out.extendedKeyUsage = DerCursor.of(der, inner).rest('KeyPurposeId').map((p) => readOid(der, p));
          break;
        case OID_BASIC_CONSTRAINTS: {
          // RFC 5280 §4.2.1.9
          const bc = DerCursor.of(der, inner);
          const ca = bc.optional(TAG.BOOLEAN, 'cA');
          out.isCA = ca ? readBoolean(der, ca, 'cA') : false;
          break;
        }
      }
    } catch (error) {
      if (!(error instanceof DerError)) throw error;
    }
  }
  return out;
}

/** Same distinguished name: identical DER, or the same RFC 4514 string ignoring case. */
export function sameName(aDer: Uint8Array, aText: string, bDer: Uint8Array, bText: string): boolean {
  return bytesEqual(aDer, bDer) || aText.toLowerCase() === bText.toLowerCase();
}

/** Whether `issuer` signed `cert`: names chain and the signature verifies with issuer's key (cached). */
export function isIssuedBy(cert: CertificateInfo, issuer: CertificateInfo): boolean {
  if (!sameName(cert.issuerDer, cert.issuer, issuer.subjectDer, issuer.subject)) return false;
  const key = `${cert.fingerprintSha256}/${issuer.fingerprintSha256}`;
  let ok = issuedCache.get(key);
  if (ok === undefined) {
    ok = verifySignature(issuer.publicKey(), cert.signatureOid, cert.signatureParams, cert.tbs, cert.signature);
    issuedCache.set(key, ok);
  }
  return ok;
}

/**
 * The candidate that issued `leafDer`: its subject equals the leaf's issuer name AND the leaf's
 * signature verifies with its key. Null when none does (or the leaf is unreadable); never throws.
 */
export function findIssuer(leafDer: Uint8Array, candidates: readonly Uint8Array[]): Uint8Array | null {
  let leaf: CertificateInfo;
  try {
    leaf = readCertificateInfo(leafDer);
  } catch {
    return null;
  }
  for (const candidateDer of candidates) {
    let candidate: CertificateInfo;
    try {
      candidate = readCertificateInfo(candidateDer);
    } catch {
      continue;
    }
    if (isIssuedBy(leaf, candidate)) return candidateDer;
  }
  return null;
}
