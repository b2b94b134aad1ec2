/**
 * `npm run bench:ocsp`: how fast the OCSP core parses and verifies a staple, on an ECDSA P-256 and
 * an RSA-2048 staple made by `openssl ocsp` (delegated responder, certificate embedded, as CAs
 * send them), next to a baseline measured in the same run: pkijs' own path
 * (OCSPResponse.fromBER + BasicOCSPResponse + verify()). Machines are shared and noisy, so the
 * verdicts are ratios within one run. "cold" clears the verdict cache before every call (the
 * parsed leaf/issuer/responder certificates stay cached, as in a probe loop meeting a new staple);
 * "cold, no caches" also clears the certificate cache; "warm" is the same staple again.
 *
 *   npm run bench:ocsp -- [--seconds 1.5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as pkijs from 'pkijs';
import { clearCertificateCache } from '../src/x509/certificate.js';
import { parseOcspResponse } from '../src/ocsp/parse.js';
import { clearVerificationCache, verifyOcspResponse } from '../src/ocsp/verify.js';
import { createOpensslPki, opensslOcspResponse, type OpensslCert } from '../test/helpers/openssl.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '1.5' } } });
const SECONDS = Number(values.seconds);

/** Calls per second of `fn` over about SECONDS of wall time (after a short warm-up). */
function rate(fn: () => void): number {
  for (let i = 0; i < 200; i++) fn();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < SECONDS * 1000) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

async function rateAsync(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < SECONDS * 1000) {
    await fn();
    n += 1;
  }
  return n / ((performance.now() - start) / 1000);
}

function pkijsParse(der: Uint8Array): pkijs.BasicOCSPResponse {
  const response = pkijs.OCSPResponse.fromBER(der);
  return pkijs.BasicOCSPResponse.fromBER(response.responseBytes!.response.valueBlock.valueHexView);
}

interface Row {
  staple: string;
  bytes: number;
  parse: number;
  verifyCold: number;
  verifyColdNoCaches: number;
  verifyWarm: number;
  pkijsParse: number;
  pkijsVerify: number;
  pkijsVerifyResult: string;
}

async function measure(name: string, der: Uint8Array, leaf: OpensslCert, issuer: OpensslCert): Promise<Row> {
  const now = new Date();
  const check = verifyOcspResponse(der, leaf.der, issuer.der, { now });
  if (!check.valid) throw new Error(`${name} staple is not valid: ${check.problems.join(', ')}`);
  const issuerCert = pkijs.Certificate.fromBER(issuer.der);
  let pkijsVerifyResult = 'n/a';
  const pkijsVerify = await rateAsync(async () => {
    const basic = pkijsParse(der);
    try {
      pkijsVerifyResult = String(await basic.verify({ trustedCerts: [issuerCert] }));
    } catch (error) {
      pkijsVerifyResult = `threw: ${error instanceof Error ? error.message : String(error)}`;
    }
  });
  return {
    staple: name,
    bytes: der.length,
    parse: rate(() => parseOcspResponse(der)),
    verifyCold: rate(() => {
      clearVerificationCache();
      verifyOcspResponse(der, leaf.der, issuer.der, { now });
    }),
    verifyColdNoCaches: rate(() => {
      clearVerificationCache();
      clearCertificateCache();
      verifyOcspResponse(der, leaf.der, issuer.der, { now });
    }),
    verifyWarm: rate(() => verifyOcspResponse(der, leaf.der, issuer.der, { now })),
    pkijsParse: rate(() => pkijsParse(der)),
    pkijsVerify,
    pkijsVerifyResult,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-ocsp-'));
  try {
    const pki = await createOpensslPki(dir);
    const ecdsa = await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafEc], signer: pki.responder, ndays: 1 });
    const rsa = await opensslOcspResponse({ dir, issuer: pki.intermediate, certs: [pki.leafRsa], signer: pki.responderRsa, ndays: 1 });
    const rows = [
      await measure('ECDSA P-256 (delegated)', ecdsa, pki.leafEc, pki.intermediate),
      await measure('RSA-2048 (delegated)', rsa, pki.leafRsa, pki.intermediate),
    ];
    const f = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
    const x = (a: number, b: number) => `${(a / b).toFixed(1)}×`.padStart(8);
    console.log(`OCSP core throughput, one thread, ${SECONDS} s per figure (calls/s)\n`);
    console.log(`${'staple'.padEnd(26)}${'bytes'.padStart(6)}${'parse'.padStart(10)}${'cold'.padStart(10)}${'cold-nc'.padStart(10)}${'warm'.padStart(10)}${'pkijs-p'.padStart(10)}${'pkijs-v'.padStart(10)}`);
    for (const r of rows) {
      console.log(`${r.staple.padEnd(26)}${String(r.bytes).padStart(6)} ${f(r.parse)} ${f(r.verifyCold)} ${f(r.verifyColdNoCaches)} ${f(r.verifyWarm)} ${f(r.pkijsParse)} ${f(r.pkijsVerify)}`);
    }
    console.log('\nRatios against pkijs in this run:');
    for (const r of rows) {
      console.log(
        `${r.staple.padEnd(26)} parse ${x(r.parse, r.pkijsParse)}  verify cold ${x(r.verifyCold, r.pkijsVerify)}  ` +
          `cold no caches ${x(r.verifyColdNoCaches, r.pkijsVerify)}  warm ${x(r.verifyWarm, r.pkijsVerify)}  ` +
          `(cost per cold verify ${(1000 / r.verifyCold).toFixed(3)} ms; pkijs verify() said ${r.pkijsVerifyResult})`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
