/**
 * A ready-made test PKI built with src/pki, made once per test process (`makeTestPki()` is
 * memoised) from keys that are also cached (`cachedKeys`), plus `stapleFor()` to craft a staple
 * for one of its leaves in a line. All certificates are valid from an hour ago; CAs for 10 years,
 * the others for 90 days, except `responderExpired`.
 *
 * Fixture names (CN in quotes):
 * - `root`              'Test Root CA'          ec-p256, self-signed CA
 * - `intermediate`      'Test Intermediate CA'  ec-p256 CA issued by root; issuer of every leaf and responder below
 * - `leafEcdsa`         'localhost'             ec-p256, OCSP URL, DNS localhost, IP 127.0.0.1, EKU serverAuth
 * - `leafRsa`           'localhost'             rsa-2048, otherwise like leafEcdsa
 * - `leafMustStaple`    'localhost'             ec-p256 like leafEcdsa plus TLS Feature status_request (Must-Staple)
 * - `leafNoOcspUrl`     'localhost'             ec-p256 like leafEcdsa but without AIA (no OCSP URL)
 * - `responder`         'Test OCSP Responder'   ec-p256 delegated responder, EKU OCSPSigning
 * - `responderRsa`      'Test RSA OCSP Responder' rsa-2048 delegated responder, EKU OCSPSigning (RSA/PSS signatures)
 * - `responderNoEku`    'Test Responder Without OCSPSigning' ec-p256, EKU serverAuth only: not authorised
 * - `responderExpired`  'Test Expired OCSP Responder' ec-p256, EKU OCSPSigning, expired 30 days ago
 * - `strangerCa`        'Stranger Root CA'      ec-p256, self-signed, unrelated to root
 * - `strangerResponder` 'Stranger OCSP Responder' issued by strangerCa, EKU OCSPSigning
 * - `strangerLeaf`      'localhost'             issued by strangerCa (its CertID matches none of ours)
 * `ocspUrl` is the URL in the leaves' AIA; nothing listens there.
 */
import {
  createCertificate,
  createOcspResponse,
  generateKeys,
  type CryptoKeyPair,
  type Issued,
  type KeyKind,
  type OcspResponseOptions,
  type SingleResponseSpec,
} from '../../src/pki/index.js';

export const TEST_OCSP_URL = 'http://ocsp.example.test/';

export interface TestPki {
  root: Issued;
  intermediate: Issued;
  leafEcdsa: Issued;
  leafRsa: Issued;
  leafMustStaple: Issued;
  leafNoOcspUrl: Issued;
  responder: Issued;
  responderRsa: Issued;
  responderNoEku: Issued;
  responderExpired: Issued;
  strangerCa: Issued;
  strangerResponder: Issued;
  strangerLeaf: Issued;
  ocspUrl: string;
}

const keyCache = new Map<string, Promise<CryptoKeyPair>>();

/**
 * A key pair of `kind` shared by every caller asking for the same `slot` in this process: RSA key
 * generation costs ~100–300 ms, so tests making their own certificates should reuse keys.
 */
export function cachedKeys(kind: KeyKind, slot = 'default'): Promise<CryptoKeyPair> {
  const name = `${kind}/${slot}`;
  let keys = keyCache.get(name);
  if (!keys) {
    keys = generateKeys(kind);
    keyCache.set(name, keys);
  }
  return keys;
}

const DAY_MS = 86_400_000;

async function buildTestPki(): Promise<TestPki> {
  const now = Date.now();
  const root = await createCertificate({ commonName: 'Test Root CA', isCA: true, keys: await cachedKeys('ec-p256', 'root') });
  const intermediate = await createCertificate({
    commonName: 'Test Intermediate CA',
    isCA: true,
    issuer: root,
    keys: await cachedKeys('ec-p256', 'intermediate'),
  });
  const tlsLeaf = async (slot: string, kind: KeyKind, extra: { ocspUrls?: string[]; mustStaple?: boolean }, issuer = intermediate) =>
    createCertificate({
      commonName: 'localhost',
      issuer,
      keys: await cachedKeys(kind, slot),
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      extendedKeyUsage: ['serverAuth'],
      ...extra,
    });
  const responderCert = async (commonName: string, slot: string, kind: KeyKind, extra: Partial<Parameters<typeof createCertificate>[0]> = {}) =>
    createCertificate({
      commonName,
      issuer: intermediate,
      keys: await cachedKeys(kind, slot),
      extendedKeyUsage: ['ocspSigning'],
      ...extra,
    });

  const [leafEcdsa, leafRsa, leafMustStaple, leafNoOcspUrl] = await Promise.all([
    tlsLeaf('leaf-ecdsa', 'ec-p256', { ocspUrls: [TEST_OCSP_URL] }),
    tlsLeaf('leaf-rsa', 'rsa-2048', { ocspUrls: [TEST_OCSP_URL] }),
    tlsLeaf('leaf-must-staple', 'ec-p256', { ocspUrls: [TEST_OCSP_URL], mustStaple: true }),
    tlsLeaf('leaf-no-ocsp-url', 'ec-p256', {}),
  ]);
  const [responder, responderRsa, responderNoEku, responderExpired] = await Promise.all([
    responderCert('Test OCSP Responder', 'responder', 'ec-p256'),
    responderCert('Test RSA OCSP Responder', 'responder-rsa', 'rsa-2048'),
    responderCert('Test Responder Without OCSPSigning', 'responder-no-eku', 'ec-p256', { extendedKeyUsage: ['serverAuth'] }),
    responderCert('Test Expired OCSP Responder', 'responder-expired', 'ec-p256', {
      notBefore: new Date(now - 120 * DAY_MS),
      notAfter: new Date(now - 30 * DAY_MS),
    }),
  ]);
  const strangerCa = await createCertificate({ commonName: 'Stranger Root CA', isCA: true, keys: await cachedKeys('ec-p256', 'stranger-ca') });
  const strangerResponder = await createCertificate({
    commonName: 'Stranger OCSP Responder',
    issuer: strangerCa,
    keys: await cachedKeys('ec-p256', 'stranger-responder'),
    extendedKeyUsage: ['ocspSigning'],
  });
  const strangerLeaf = await tlsLeaf('stranger-leaf', 'ec-p256', { ocspUrls: [TEST_OCSP_URL] }, strangerCa);

  return {
    root,
    intermediate,
    leafEcdsa,
    leafRsa,
    leafMustStaple,
    leafNoOcspUrl,
    responder,
    responderRsa,
    responderNoEku,
    responderExpired,
    strangerCa,
    strangerResponder,
    strangerLeaf,
    ocspUrl: TEST_OCSP_URL,
  };
}

let testPki: Promise<TestPki> | undefined;

/** The shared test PKI, built on first use (~0.5 s with two RSA keys) and reused by the whole process. */
export function makeTestPki(): Promise<TestPki> {
  testPki ??= buildTestPki().catch((error: unknown) => {
    testPki = undefined;
    throw error;
  });
  return testPki;
}

/** Overrides for {@link stapleFor}: response options plus the fields of the leaf's SingleResponse. */
export interface StapleOverrides extends Omit<OcspResponseOptions, 'singles'> {
  /** Clock for the defaults; default the real time. */
  now?: Date;
  /** Default: the leaf's issuer (`leaf.issuer`), else the fixture intermediate. */
  issuer?: Issued;
  status?: SingleResponseSpec['status'];
  /** Default a day before `now` when status is revoked. */
  revocationTime?: Date;
  revocationReason?: SingleResponseSpec['revocationReason'];
  certIdHash?: SingleResponseSpec['certIdHash'];
  /** Default an hour before `now`. */
  thisUpdate?: Date;
  /** Default 3 days after `now`; null leaves it out. */
  nextUpdate?: Date | null;
  /** More SingleResponses after the leaf's. */
  extraSingles?: SingleResponseSpec[];
}

/**
 * DER of an OCSP response for `leaf`: by default fresh, good, signed by the leaf's issuer, SHA-1
 * CertID, producedAt = thisUpdate = now − 1 h, nextUpdate = now + 3 days (well inside the first
 * half of its window). Every field can be overridden, e.g. `{ status: 'revoked' }`,
 * `{ signer: pki.responder }`, `{ nextUpdate: new Date(Date.now() - 1000) }`, `{ tamperSignature: true }`.
 */
export async function stapleFor(pki: TestPki, leaf: Issued, overrides: StapleOverrides = {}): Promise<Uint8Array> {
  const {
    now = new Date(),
    issuer = leaf.issuer ?? pki.intermediate,
    status = 'good',
    revocationTime,
    revocationReason,
    certIdHash,
    thisUpdate = new Date(now.getTime() - 3_600_000),
    nextUpdate = new Date(now.getTime() + 3 * DAY_MS),
    extraSingles = [],
    ...responseOptions
  } = overrides;
  const single: SingleResponseSpec = { leaf, issuer, status, thisUpdate, nextUpdate };
  if (certIdHash) single.certIdHash = certIdHash;
  // Revocation fields on a non-revoked single are passed on, so createOcspResponse rejects them.
  const revokedAt = status === 'revoked' ? (revocationTime ?? new Date(now.getTime() - DAY_MS)) : revocationTime;
  if (revokedAt) single.revocationTime = revokedAt;
  if (revocationReason) single.revocationReason = revocationReason;
  return createOcspResponse({
    producedAt: thisUpdate,
    ...responseOptions,
    signer: responseOptions.signer ?? issuer,
    singles: [single, ...extraSingles],
  });
}
