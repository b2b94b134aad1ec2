/**
 * The fuzzer's starting points: valid OCSP responses and certificates of every shape src/pki can
 * make, plus their PEM/base64 text forms. Generated once by `fuzz/make-seeds.ts` into
 * test/fuzz/seeds.json (public certificates and signed responses only, no keys), so a fuzz run
 * with a given PRNG seed sees exactly the same inputs every time.
 */
import { readFileSync } from 'node:fs';
import { pemEncode } from '../../src/pki/index.js';
import { makeTestPki, stapleFor } from '../helpers/pki.js';

export interface FuzzSeeds {
  /** ISO time the seeds were made; verification is judged at this instant. */
  now: string;
  /** name → DER of an OCSPResponse. */
  ocsp: Record<string, Uint8Array>;
  /** name → DER of a certificate. */
  certs: Record<string, Uint8Array>;
  /** name → text input for the input decoders (PEM bundles, base64). */
  text: Record<string, Uint8Array>;
  /** The leaf and issuer the OCSP seeds are about. */
  leaf: Uint8Array;
  issuer: Uint8Array;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const fromB64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

export async function makeSeeds(): Promise<FuzzSeeds> {
  const pki = await makeTestPki();
  // After the PKI exists: producedAt (now − 1 h) must not precede the responders' notBefore.
  const now = new Date(Date.now() + 60_000);
  const leaf = pki.leafEcdsa;
  const at = { now };
  const ocsp: Record<string, Uint8Array> = {
    good: await stapleFor(pki, leaf, at),
    revoked: await stapleFor(pki, leaf, { ...at, status: 'revoked', revocationReason: 'keyCompromise' }),
    unknown: await stapleFor(pki, leaf, { ...at, status: 'unknown', certIdHash: 'SHA-256' }),
    delegated: await stapleFor(pki, leaf, { ...at, signer: pki.responder, responderIdKind: 'byName' }),
    delegatedRsaPss: await stapleFor(pki, leaf, { ...at, signer: pki.responderRsa, rsaPss: true }),
    noNextUpdateNonce: await stapleFor(pki, leaf, { ...at, nextUpdate: null, nonce: new Uint8Array(16).fill(7) }),
    multipleSingles: await stapleFor(pki, leaf, {
      ...at,
      extraSingles: [
        { leaf: pki.leafRsa, issuer: pki.intermediate, status: 'revoked', revocationTime: new Date(now.getTime() - 86_400_000), thisUpdate: now, nextUpdate: null },
        { leaf: pki.leafMustStaple, issuer: pki.intermediate, status: 'good', certIdHash: 'SHA-384', thisUpdate: now, nextUpdate: now },
      ],
    }),
    tryLater: await stapleFor(pki, leaf, { ...at, responseStatus: 'tryLater' }),
    tampered: await stapleFor(pki, leaf, { ...at, tamperSignature: true }),
  };
  const certs: Record<string, Uint8Array> = {
    leafEcdsa: leaf.der,
    leafRsa: pki.leafRsa.der,
    leafMustStaple: pki.leafMustStaple.der,
    leafNoOcspUrl: pki.leafNoOcspUrl.der,
    intermediate: pki.intermediate.der,
    root: pki.root.der,
    responder: pki.responder.der,
  };
  const enc = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
  const text: Record<string, Uint8Array> = {
    ocspPem: enc(pemEncode(ocsp.good!, 'OCSP RESPONSE')),
    ocspBase64: enc(`${b64(ocsp.delegated!)}\n`),
    chainPem: enc(leaf.pem + pki.intermediate.pem + pki.root.pem),
    certAndKeyPem: enc(`${pki.leafNoOcspUrl.pem}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`),
    concatenatedDer: new Uint8Array([...leaf.der, ...pki.intermediate.der]),
  };
  return { now: now.toISOString(), ocsp, certs, text, leaf: leaf.der, issuer: pki.intermediate.der };
}

export function seedsToJson(seeds: FuzzSeeds): string {
  const map = (record: Record<string, Uint8Array>) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, b64(v)]));
  return `${JSON.stringify(
    { now: seeds.now, ocsp: map(seeds.ocsp), certs: map(seeds.certs), text: map(seeds.text), leaf: b64(seeds.leaf), issuer: b64(seeds.issuer) },
    null,
    2,
  )}\n`;
}

export const SEEDS_FILE = new URL('./seeds.json', import.meta.url);

export function loadSeeds(file: URL | string = SEEDS_FILE): FuzzSeeds {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const map = (record: unknown) => Object.fromEntries(Object.entries(record as Record<string, string>).map(([k, v]) => [k, fromB64(v)]));
  return {
    now: raw.now as string,
    ocsp: map(raw.ocsp),
    certs: map(raw.certs),
    text: map(raw.text),
    leaf: fromB64(raw.leaf as string),
    issuer: fromB64(raw.issuer as string),
  };
}
