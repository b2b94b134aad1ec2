/**
 * The presented chain in the shape Node's engine reports it, for the native engine, which receives
 * the certificates as the server sent them.
 *
 * Node's `getPeerCertificate(true)` (src/crypto/crypto_common.cc: CloneSSLCerts,
 * AddIssuerChainToObject, GetLastIssuedCert) does not hand the sent list out as it is. From the
 * leaf it links the first of the remaining sent certificates that OpenSSL's X509_check_issued()
 * accepts as the current one's issuer, takes it out of the pool and goes on from it, until no
 * remaining certificate qualifies, or until the one it took was the last in the pool: the loop
 * tells "not found" by its index having reached the pool's size, which taking the last one out
 * also makes true (Node 20). Then it would go on through the context's trust store, which a
 * probe's context leaves empty (probe/tls.ts), and a self-issued last certificate points at itself.
 * probe/presented.ts walks those links, stopping at a certificate seen already and after
 * MAX_CHAIN_LENGTH. So what is not on the path (an unrelated extra certificate, a second copy of
 * the leaf or the intermediate) is left out, and a misordered chain is cut short: sent as leaf,
 * root, intermediate it comes out as leaf, intermediate; a reversed long chain as the leaf and its
 * issuer.
 *
 * X509_check_issued() (OpenSSL 3.0, crypto/x509/v3_purp.c) checks no signature. It wants the
 * subject name of the candidate to equal the issuer name of the certificate (X509_NAME_cmp: the
 * canonical form of x_name.c), the authority key identifier, when there is one, to match the
 * candidate's subject key identifier, serial and name (X509_check_akid), the certificate's
 * signature algorithm to fit the candidate's key type, a key that decodes, and a keyUsage, when
 * present, with keyCertSign. That is mirrored here on the project's cached certificate reader,
 * a few microseconds per certificate. Where a certificate is outside what that mirror reads (our
 * reader refuses it, its extensions are duplicated or malformed where OpenSSL would then call it
 * invalid, a proxy certificate, an algorithm not listed below), OpenSSL itself answers through
 * `X509Certificate.checkIssued`, ~0.3 ms for a pair. Not mirrored: faults deep inside extensions
 * this module does not read (a SAN, name constraints or CRL distribution points that are well
 * formed outside but not inside), which also make OpenSSL refuse the link.
 */
import { X509Certificate } from 'node:crypto';
import { readCertificateInfo, type CertificateInfo } from '../x509/certificate.js';
import { BoundedCache } from '../util/cache.js';
import { bytesEqual } from '../util/bytes.js';
import { DerCursor, TAG, content, contextTag, integerHex, readOid, readString, readTlv, whole, type Tlv } from '../x509/der.js';

/**
 * DER certificates in the order Node's engine reports them (see the module comment): the leaf, then
 * each issuer found among the other certificates sent, at most `limit` in all.
 */
export function orderLikeNode(sent: readonly Buffer[], limit: number): Buffer[] {
  if (sent.length === 0 || limit <= 0) return [];
  const readers = sent.map((der) => new Reading(der));
  const chain = [sent[0]!];
  const pool = readers.slice(1);
  let current = readers[0]!;
  while (chain.length < limit) {
    const at = pool.findIndex((candidate) => issued(candidate, current));
    if (at < 0) break;
    const next = pool.splice(at, 1)[0]!;
    // presented.ts stops at a certificate it has seen: a root sent twice links to its copy.
    if (chain.some((der) => der.equals(next.der))) break;
    chain.push(next.der);
    current = next;
    // Node's loop tests "not found" as `i == sk_X509_num(peer_certs)` after taking the issuer
    // out: one taken from the end of the pool ends the walk as if none had been found.
    if (at === pool.length) break;
  }
  return chain;
}

/** Whether X509_check_issued(issuer, subject) would say X509_V_OK. */
function issued(issuer: Reading, subject: Reading): boolean {
  const i = issuer.facts();
  const s = subject.facts();
  if (i === null || s === null) return opensslSaysIssued(issuer, subject);
  const issuerInfo = issuer.info!;
  if (!bytesEqual(issuerInfo.subjectDer, subject.info!.issuerDer)) {
    const a = i.names.subject;
    const b = s.names.issuer;
    if (a === null || b === null) return opensslSaysIssued(issuer, subject);
    if (a !== b) return false;
  }
  // From here on OpenSSL needs both certificates' extensions to be valid (x509v3_cache_extensions).
  if (i.unusual || s.unusual) return opensslSaysIssued(issuer, subject);
  const akid = s.akid;
  if (akid) {
    if (akid.keyId && i.skid && !bytesEqual(akid.keyId, i.skid)) return false;
    if (akid.serial !== null && akid.serial !== issuerInfo.serialNumber) return false;
    if (akid.issuerName !== undefined) {
      if (akid.issuerName === null || i.names.issuer === null) return opensslSaysIssued(issuer, subject);
      if (akid.issuerName !== i.names.issuer) return false;
    }
  }
  const keyTypes = KEY_TYPES_FOR_SIGNATURE[s.tbsSignatureOid];
  if (!keyTypes || !KNOWN_KEY_TYPES.has(i.keyOid)) return opensslSaysIssued(issuer, subject);
  if (!keyTypes.includes(i.keyOid)) return false;
  if (i.keyUsage !== null && (i.keyUsage & KU_KEY_CERT_SIGN) === 0) return false;
  // X509_get0_pubkey(issuer) must decode (the key is decoded once per certificate and kept).
  return issuerInfo.publicKey() !== null ? true : opensslSaysIssued(issuer, subject);
}

/** How many checks were left to OpenSSL (tests look: the mirror should answer ordinary chains itself). */
export const chainOrderStats = { opensslChecks: 0 };

function opensslSaysIssued(issuer: Reading, subject: Reading): boolean {
  chainOrderStats.opensslChecks++;
  const i = issuer.openssl();
  const s = subject.openssl();
  return i !== null && s !== null && s.checkIssued(i);
}

/** One sent certificate, read at most once per ordering. */
class Reading {
  /** The project's reading; null when its reader refuses the certificate. */
  info: CertificateInfo | null = null;
  private read: IssuerFacts | null | undefined;
  private x509: X509Certificate | null | undefined;

  constructor(readonly der: Buffer) {}

  /** Null when the project's reader refuses the certificate. */
  facts(): IssuerFacts | null {
    if (this.read === undefined) {
      try {
        this.info = readCertificateInfo(this.der);
        this.read = issuerFactsOf(this.info);
      } catch {
        this.read = null;
      }
    }
    return this.read;
  }

  /** OpenSSL's own parse; null if even OpenSSL refuses it (it could not then be in Node's chain). */
  openssl(): X509Certificate | null {
    if (this.x509 === undefined) {
      try {
        this.x509 = new X509Certificate(this.der);
      } catch {
        this.x509 = null;
      }
    }
    return this.x509;
  }
}

/** What X509_check_issued looks at beyond the certificate facts the project reads anyway. */
interface IssuerFacts {
  /** X509_NAME canonical forms; null when a name holds what the canonical form here cannot render. */
  names: { subject: string | null; issuer: string | null };
  skid: Uint8Array | null;
  akid: AuthorityKeyId | null;
  /** OpenSSL's ex_kusage (first two octets of the bits); null without a keyUsage extension. */
  keyUsage: number | null;
  /** The signature algorithm inside tbsCertificate, which is the one OpenSSL compares. */
  tbsSignatureOid: string;
  keyOid: string;
  /** Something OpenSSL would call invalid or treat specially (see the module comment). */
  unusual: boolean;
}

interface AuthorityKeyId {
  keyId: Uint8Array | null;
  /** Upper-case hex as `CertificateInfo.serialNumber`; null when absent. */
  serial: string | null;
  /** Canonical form of the first directoryName of authorityCertIssuer; undefined when none, null when unreadable. */
  issuerName: string | null | undefined;
}

const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  netscapeCertType: '2.16.840.1.113730.1.1',
  proxyCertInfo: '1.3.6.1.5.5.7.1.14',
  ipAddrBlocks: '1.3.6.1.5.5.7.1.7',
  autonomousSysIds: '1.3.6.1.5.5.7.1.8',
} as const;

/** Extensions x509v3_cache_extensions decodes: one that fails to, or appears twice, makes the certificate invalid. */
const DECODED_EXTENSIONS: ReadonlyMap<string, number> = new Map([
  [OID.subjectKeyIdentifier, TAG.OCTET_STRING],
  [OID.keyUsage, TAG.BIT_STRING],
  [OID.subjectAltName, TAG.SEQUENCE],
  [OID.basicConstraints, TAG.SEQUENCE],
  [OID.nameConstraints, TAG.SEQUENCE],
  [OID.crlDistributionPoints, TAG.SEQUENCE],
  [OID.authorityKeyIdentifier, TAG.SEQUENCE],
  [OID.extKeyUsage, TAG.SEQUENCE],
  [OID.netscapeCertType, TAG.BIT_STRING],
  [OID.ipAddrBlocks, TAG.SEQUENCE],
  [OID.autonomousSysIds, TAG.SEQUENCE],
]);

/** KU_KEY_CERT_SIGN of OpenSSL's ex_kusage (RFC 5280 §4.2.1.3 bit 5). */
const KU_KEY_CERT_SIGN = 0x0004;

const KEY = { ec: '1.2.840.10045.2.1', rsa: '1.2.840.113549.1.1.1', rsaPss: '1.2.840.113549.1.1.10', ed25519: '1.3.101.112', ed448: '1.3.101.113', dsa: '1.2.840.10040.4.1' } as const;
const KNOWN_KEY_TYPES: ReadonlySet<string> = new Set(Object.values(KEY));

/** check_sig_alg_match: the key types a signature algorithm fits (an RSA key also takes RSASSA-PSS). */
const KEY_TYPES_FOR_SIGNATURE: Readonly<Record<string, readonly string[]>> = {
  '1.2.840.10045.4.1': [KEY.ec], // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': [KEY.ec],
  '1.2.840.10045.4.3.2': [KEY.ec],
  '1.2.840.10045.4.3.3': [KEY.ec],
  '1.2.840.10045.4.3.4': [KEY.ec],
  '1.2.840.113549.1.1.4': [KEY.rsa], // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': [KEY.rsa],
  '1.2.840.113549.1.1.11': [KEY.rsa],
  '1.2.840.113549.1.1.12': [KEY.rsa],
  '1.2.840.113549.1.1.13': [KEY.rsa],
  '1.2.840.113549.1.1.14': [KEY.rsa],
  '1.2.840.113549.1.1.10': [KEY.rsaPss, KEY.rsa],
  '1.3.101.112': [KEY.ed25519],
  '1.3.101.113': [KEY.ed448],
  '1.2.840.10040.4.3': [KEY.dsa],
  '2.16.840.1.101.3.4.3.1': [KEY.dsa],
  '2.16.840.1.101.3.4.3.2': [KEY.dsa],
};

/** By certificate fingerprint: a few hundred bytes each (no certificate bytes: those stay in the certificate cache). */
const factsCache = new BoundedCache<string, IssuerFacts>(4096, 4 * 1024 * 1024);

function issuerFactsOf(info: CertificateInfo): IssuerFacts {
  const known = factsCache.get(info.fingerprintSha256);
  if (known) return known;
  const facts: IssuerFacts = {
    names: { subject: canonicalNameOrNull(info.subjectDer), issuer: canonicalNameOrNull(info.issuerDer) },
    skid: null,
    akid: null,
    keyUsage: null,
    tbsSignatureOid: '',
    keyOid: '',
    unusual: false,
  };
  try {
    readTbs(info, facts);
  } catch {
    facts.unusual = true;
  }
  const bytes = 256 + (facts.skid?.length ?? 0) + (facts.akid?.keyId?.length ?? 0) + 2 * ((facts.names.subject?.length ?? 0) + (facts.names.issuer?.length ?? 0) + (facts.akid?.issuerName?.length ?? 0));
  factsCache.set(info.fingerprintSha256, facts, bytes);
  return facts;
}

/** tbsCertificate (RFC 5280 §4.1): the inner signature algorithm, the key's algorithm, the extensions. */
function readTbs(info: CertificateInfo, facts: IssuerFacts): void {
  const tbs = info.tbs;
  const t = DerCursor.of(tbs, readTlv(tbs, 0, tbs.length));
  t.optional(contextTag(0, true), 'version');
  t.expect(TAG.INTEGER, 'serialNumber');
  facts.tbsSignatureOid = firstOid(tbs, t.expect(TAG.SEQUENCE, 'signature'));
  t.expect(TAG.SEQUENCE, 'issuer');
  t.expect(TAG.SEQUENCE, 'validity');
  t.expect(TAG.SEQUENCE, 'subject');
  facts.keyOid = firstOid(tbs, DerCursor.of(tbs, t.expect(TAG.SEQUENCE, 'subjectPublicKeyInfo')).expect(TAG.SEQUENCE, 'algorithm'));
  t.optional(contextTag(1, false), 'issuerUniqueID');
  t.optional(contextTag(2, false), 'subjectUniqueID');
  const wrapper = t.optional(contextTag(3, true), 'extensions');
  if (!wrapper) return;
  const seen = new Set<string>();
  for (const extension of DerCursor.of(tbs, DerCursor.of(tbs, wrapper).expect(TAG.SEQUENCE, 'extensions')).rest('extension')) {
    const e = DerCursor.of(tbs, extension);
    const oid = readOid(tbs, e.expect(TAG.OID, 'extnID'));
    e.optional(TAG.BOOLEAN, 'critical');
    const value = e.expect(TAG.OCTET_STRING, 'extnValue');
    e.finish('extension');
    if (oid === OID.proxyCertInfo) facts.unusual = true; // EXFLAG_PROXY: another keyUsage rule
    const outer = DECODED_EXTENSIONS.get(oid);
    if (outer === undefined) continue;
    if (seen.has(oid)) facts.unusual = true;
    seen.add(oid);
    const inner = readTlv(tbs, value.contentStart, value.end);
    if (inner.end !== value.end || inner.tag !== outer) {
      facts.unusual = true;
      continue;
    }
    switch (oid) {
      case OID.subjectKeyIdentifier:
        facts.skid = content(tbs, inner).slice();
        break;
      case OID.keyUsage:
        facts.keyUsage = keyUsageBits(tbs, inner);
        if (facts.keyUsage === 0) facts.unusual = true; // RFC 5280 §4.2.1.3: OpenSSL calls it invalid
        break;
      case OID.authorityKeyIdentifier:
        facts.akid = readAuthorityKeyId(tbs, inner);
        break;
      case OID.basicConstraints: {
        // A negative pathLenConstraint makes the certificate invalid.
        const bc = DerCursor.of(tbs, inner);
        bc.optional(TAG.BOOLEAN, 'cA');
        const pathLen = bc.optional(TAG.INTEGER, 'pathLenConstraint');
        bc.finish('basicConstraints');
        if (pathLen && (pathLen.end === pathLen.contentStart || (tbs[pathLen.contentStart]! & 0x80) !== 0)) facts.unusual = true;
        break;
      }
    }
  }
}

function firstOid(bytes: Uint8Array, algorithm: Tlv): string {
  return readOid(bytes, DerCursor.of(bytes, algorithm).expect(TAG.OID, 'algorithm'));
}

/** ex_kusage: the first two octets, unused bits cleared as c2i_ASN1_BIT_STRING does. */
function keyUsageBits(bytes: Uint8Array, tlv: Tlv): number {
  const raw = content(bytes, tlv);
  if (raw.length === 0 || raw[0]! > 7) throw new Error('bad keyUsage');
  const bits = raw.subarray(1);
  if (bits.length === 0) return 0;
  const last = bits.length - 1;
  const octet = (i: number): number => (i === last ? bits[i]! & (0xff << raw[0]!) & 0xff : bits[i]!);
  return octet(0) | (bits.length > 1 ? octet(1) << 8 : 0);
}

/** RFC 5280 §4.2.1.1: keyIdentifier [0], authorityCertIssuer [1] GeneralNames, authorityCertSerialNumber [2]. */
function readAuthorityKeyId(bytes: Uint8Array, tlv: Tlv): AuthorityKeyId {
  const c = DerCursor.of(bytes, tlv);
  const keyId = c.optional(contextTag(0, false), 'keyIdentifier');
  const names = c.optional(contextTag(1, true), 'authorityCertIssuer');
  const serial = c.optional(contextTag(2, false), 'authorityCertSerialNumber');
  c.finish('AuthorityKeyIdentifier');
  let issuerName: string | null | undefined;
  if (names) {
    // X509_check_akid looks at the first directoryName ([4] EXPLICIT Name) only.
    const directory = DerCursor.of(bytes, names).rest('GeneralName').find((name) => name.tag === contextTag(4, true));
    if (directory) issuerName = canonicalNameOrNull(whole(bytes, DerCursor.of(bytes, directory).expect(TAG.SEQUENCE, 'directoryName')));
  }
  return {
    keyId: keyId ? content(bytes, keyId).slice() : null,
    serial: serial ? integerHex(bytes, { ...serial, tag: TAG.INTEGER }) : null,
    issuerName,
  };
}

/** String types x509_name_canon folds (ASN1_MASK_CANON); others are compared as encoded. */
const CANONICAL_STRING_TAGS: ReadonlySet<number> = new Set([TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.T61_STRING, TAG.IA5_STRING, TAG.VISIBLE_STRING, TAG.UNIVERSAL_STRING, TAG.BMP_STRING]);

function canonicalNameOrNull(nameDer: Uint8Array): string | null {
  try {
    return canonicalName(nameDer);
  } catch {
    return null;
  }
}

/**
 * OpenSSL's canonical Name (crypto/x509/x_name.c x509_name_canon, asn1_string_canon): per RDN the
 * attribute types with their values, string values as UTF-8 without leading and trailing white
 * space, inner runs of it as one space, ASCII lower-cased. X509_NAME_cmp compares exactly that.
 */
function canonicalName(nameDer: Uint8Array): string {
  const rdns: string[][] = [];
  for (const rdn of DerCursor.of(nameDer, readTlv(nameDer, 0, nameDer.length)).rest('RDN')) {
    if (rdn.tag !== TAG.SET) throw new Error('RDN is not a SET');
    const attributes: string[] = [];
    for (const atv of DerCursor.of(nameDer, rdn).rest('AttributeTypeAndValue')) {
      const c = DerCursor.of(nameDer, atv);
      const type = readOid(nameDer, c.expect(TAG.OID, 'type'));
      const value = c.next('value');
      c.finish('AttributeTypeAndValue');
      attributes.push(`${type}=${canonicalValue(nameDer, value)}`);
    }
    // i2d_name_canon encodes each RDN as a DER SET OF, whose order is its own: compare as sets.
    rdns.push(attributes.sort());
  }
  return JSON.stringify(rdns);
}

function canonicalValue(bytes: Uint8Array, value: Tlv): string {
  if (!CANONICAL_STRING_TAGS.has(value.tag)) return `#${value.tag}:${Buffer.from(content(bytes, value)).toString('hex')}`;
  const raw = content(bytes, value);
  const text = readString(bytes, value);
  // Strings OpenSSL could not convert to UTF-8 would not have parsed there: leave them to OpenSSL.
  if (text === null || (value.tag === TAG.UTF8_STRING && !Buffer.from(text, 'utf8').equals(raw))) throw new Error('unconvertible string');
  if ((value.tag === TAG.BMP_STRING && raw.length % 2 !== 0) || (value.tag === TAG.UNIVERSAL_STRING && raw.length % 4 !== 0)) throw new Error('truncated string');
  return `"${text.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '').replace(/[ \t\n\v\f\r]+/g, ' ').replace(/[A-Z]+/g, (s) => s.toLowerCase())}`;
}

/** For tests: the mirrored X509_check_issued on two DER certificates. */
export function issuedLikeOpenssl(issuerDer: Buffer, subjectDer: Buffer): boolean {
  return issued(new Reading(issuerDer), new Reading(subjectDer));
}

