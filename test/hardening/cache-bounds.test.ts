/**
 * The OCSP core's caches against a stream of distinct, large inputs, the way a hostile server (or
 * many) can feed them: a fresh 60 KB staple or a fresh 60 KB certificate on every handshake. The
 * caches are bounded by entry count (2048 verdicts, 4096 certificates); what matters to the
 * exporter is the bytes they hold, which must stay well under the pod's memory limit
 * (deploy/kubernetes: 256 MiB).
 *
 * Before the caches weighed their entries by bytes (src/util/cache.ts), 3,000 distinct 60 KB
 * staples kept ~290 MiB and 5,000 distinct 60 KB certificates ~260 MiB alive.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyOcspResponse } from '../../src/ocsp/index.js';
import { certificateFacts, findIssuer } from '../../src/x509/index.js';
import { createOcspResponse, type Issued } from '../../src/pki/index.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { withHugeExtension } from './hostile.js';
import { describeGrowth, settledMemory } from './memory.js';

const LIMIT_MIB = 64;

let pki: TestPki;
let bigResponder: Issued;
let bigLeaf: Issued;

beforeAll(async () => {
  pki = await makeTestPki();
  [bigResponder, bigLeaf] = await Promise.all([withHugeExtension(pki.responder, 60_000), withHugeExtension(pki.leafEcdsa, 60_000)]);
});

/** Copies of `der` differing in two bytes at `at`: distinct inputs without re-signing. */
function* variants(der: Uint8Array, at: number, count: number): Generator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    const copy = der.slice();
    copy[at] = i & 0xff;
    copy[at + 1] = (i >> 8) & 0xff;
    yield copy;
  }
}

describe('OCSP core caches hold a bounded number of bytes', () => {
  it(`3,000 distinct 60 KB staples keep less than ${LIMIT_MIB} MiB`, async () => {
    const staple = await createOcspResponse({
      signer: pki.responder,
      embedCertificates: [bigResponder],
      nonce: randomBytes(16),
      singles: [{ leaf: pki.leafEcdsa, issuer: pki.intermediate, status: 'good', thisUpdate: new Date(Date.now() - 3_600_000), nextUpdate: new Date(Date.now() + 86_400_000) }],
    });
    // Inside the embedded certificate's filler: the response still parses, the signature no longer verifies.
    const at = Buffer.from(staple).indexOf(Buffer.from('41414141', 'hex'));
    const before = await settledMemory();
    for (const der of variants(staple, at, 3000)) verifyOcspResponse(der, pki.leafEcdsa.der, pki.intermediate.der, { now: new Date() });
    const after = await settledMemory();
    console.info(`3000 distinct 60 KB staples: ${describeGrowth(before, after)}`);
    expect(after.retainedMiB - before.retainedMiB).toBeLessThan(LIMIT_MIB);
  }, 60_000);

  it(`5,000 distinct 60 KB certificates keep less than ${LIMIT_MIB} MiB`, async () => {
    const at = Buffer.from(bigLeaf.der).indexOf(Buffer.from('41414141', 'hex'));
    const before = await settledMemory();
    for (const der of variants(bigLeaf.der, at, 5000)) {
      certificateFacts(der);
      findIssuer(der, [pki.intermediate.der]);
    }
    const after = await settledMemory();
    console.info(`5000 distinct 60 KB certificates: ${describeGrowth(before, after)}`);
    expect(after.retainedMiB - before.retainedMiB).toBeLessThan(LIMIT_MIB);
  }, 60_000);
});
