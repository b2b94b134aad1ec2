/**
 * Chain judgement (src/x509/chain.ts) on certificates made by the pkijs builder, and through a
 * real handshake with a server that sends only its leaf: the probe must see one certificate and
 * take the issuer from the CA file.
 */
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule } from '../../src/config/schema.js';
import { trustAnchorsFrom, verifyChain } from '../../src/x509/chain.js';
import { probeTarget } from '../../src/probe/probe.js';
import { createCertificate, type Issued } from '../../src/pki/index.js';
import { cachedKeys, makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let expiredLeaf: Issued;
let notCaIntermediate: Issued;
let leafUnderNotCa: Issued;
let selfSigned: Issued;
const NOW = Date.now();

const anchors = (...certs: Issued[]) => ({ anchors: certs.map((c) => c.der), source: 'ca_file' as const });

beforeAll(async () => {
  pki = await makeTestPki();
  const keys = await cachedKeys('ec-p256', 'chain-test');
  expiredLeaf = await createCertificate({
    commonName: 'localhost',
    issuer: pki.intermediate,
    keys,
    dnsNames: ['localhost'],
    notBefore: new Date(NOW - 100 * 86_400_000),
    notAfter: new Date(NOW - 86_400_000),
  });
  notCaIntermediate = await createCertificate({ commonName: 'Not A CA', issuer: pki.root, keys, isCA: false });
  leafUnderNotCa = await createCertificate({ commonName: 'localhost', issuer: notCaIntermediate, keys, dnsNames: ['localhost'] });
  selfSigned = await createCertificate({ commonName: 'localhost', keys, dnsNames: ['localhost'] });
});

describe('verifyChain', () => {
  it('leaf + intermediate presented, root trusted: verified, issuer from the chain', () => {
    const v = verifyChain([pki.leafEcdsa.der, pki.intermediate.der], anchors(pki.root), 'localhost', NOW);
    expect(v).toMatchObject({ verified: true, error: null, issuerSource: 'chain' });
    expect(Buffer.compare(v.issuerDer!, pki.intermediate.der)).toBe(0);
  });

  it('leaf only, intermediate in the CA file: verified, issuer from the CA file', () => {
    const v = verifyChain([pki.leafEcdsa.der], anchors(pki.root, pki.intermediate), 'localhost', NOW);
    expect(v).toMatchObject({ verified: true, issuerSource: 'ca_file' });
  });

  it('leaf only, only the root trusted: the intermediate is missing', () => {
    const v = verifyChain([pki.leafEcdsa.der], anchors(pki.root), 'localhost', NOW);
    expect(v).toMatchObject({ verified: false, error: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', issuerDer: null, issuerSource: null });
  });

  it('names: SNI must match a DNS SAN, an IP must match an IP SAN', () => {
    const chain = [pki.leafEcdsa.der, pki.intermediate.der];
    expect(verifyChain(chain, anchors(pki.root), 'example.com', NOW).error).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(verifyChain(chain, anchors(pki.root), '127.0.0.1', NOW).verified).toBe(true);
    expect(verifyChain(chain, anchors(pki.root), '127.0.0.2', NOW).error).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('validity is judged at the given time', () => {
    expect(verifyChain([expiredLeaf.der, pki.intermediate.der], anchors(pki.root), 'localhost', NOW).error).toBe('CERT_HAS_EXPIRED');
    expect(verifyChain([pki.leafEcdsa.der, pki.intermediate.der], anchors(pki.root), 'localhost', NOW - 2 * 3_600_000).error).toBe('CERT_NOT_YET_VALID');
    expect(verifyChain([pki.leafEcdsa.der, pki.intermediate.der], anchors(pki.root), 'localhost', NOW + 200 * 86_400_000).error).toBe('CERT_HAS_EXPIRED');
  });

  it('an issuer that is not a CA, a self-signed leaf, a stranger chain', () => {
    expect(verifyChain([leafUnderNotCa.der, notCaIntermediate.der], anchors(pki.root), 'localhost', NOW).error).toBe('INVALID_CA');
    expect(verifyChain([selfSigned.der], anchors(pki.root), 'localhost', NOW).error).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(verifyChain([pki.strangerLeaf.der, pki.strangerCa.der], anchors(pki.root), 'localhost', NOW).error).toBe('SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('without a CA file the system roots are the anchors (a private chain does not verify)', () => {
    const trust = trustAnchorsFrom(null);
    expect(trust.source).toBe('system');
    expect(trust.anchors.length).toBeGreaterThan(50);
    const v = verifyChain([pki.leafEcdsa.der, pki.intermediate.der, pki.root.der], trust, 'localhost', NOW);
    expect(v).toMatchObject({ verified: false, error: 'SELF_SIGNED_CERT_IN_CHAIN', issuerSource: 'chain' });
  });

  it('a hostile 100-certificate chain is cut short, not followed', () => {
    const junk = Array.from({ length: 100 }, () => pki.strangerCa.der);
    const v = verifyChain([pki.leafEcdsa.der, ...junk], anchors(pki.root), 'localhost', NOW);
    expect(v.verified).toBe(false);
  });
});

describe('probe against a server that sends only its leaf', () => {
  let server: tls.Server;
  let port: number;

  beforeAll(async () => {
    const staple = Buffer.from(await stapleFor(pki, pki.leafEcdsa));
    server = tls.createServer({ cert: pki.leafEcdsa.pem, key: pki.leafEcdsa.keyPem });
    server.on('OCSPRequest', (_c: Buffer, _i: Buffer, cb: (e: Error | null, r?: Buffer) => void) => cb(null, staple));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const probe = (caPem: string | null) =>
    probeTarget(
      { target: `127.0.0.1:${port}`, host: '127.0.0.1', port, module: 'm', serverName: 'localhost', labels: {} },
      { ...defaultModule('m'), caPem },
      Date.now() + 5000,
    );

  it('with the intermediate in the CA file: one certificate presented, issuer from the CA file, staple valid', async () => {
    const [r] = await probe(pki.root.pem + pki.intermediate.pem);
    expect(r!.chain).toEqual({ verified: true, error: null, length: 1 });
    expect(r!.staple?.issuerSource).toBe('ca_file');
    expect(r!.staple?.verdict?.valid).toBe(true);
  });

  it('with only the root: chain unverified (missing intermediate), staple issuer unknown', async () => {
    const [r] = await probe(pki.root.pem);
    expect(r!.chain).toEqual({ verified: false, error: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', length: 1 });
    expect(r!.staple?.verdict?.problems).toEqual(['issuer_unknown']);
  });
});

describe('TLS error messages', () => {
  it("drop OpenSSL's thread id, source path and newline", async () => {
    const { cleanOpensslMessage } = await import('../../src/probe/tls.js');
    expect(cleanOpensslMessage('C0B7F1D1A07F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl/record/ssl3_record.c:354:\n')).toBe(
      'SSL routines:ssl3_get_record:wrong version number',
    );
    expect(cleanOpensslMessage('connect ECONNREFUSED 127.0.0.1:1')).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });
});
