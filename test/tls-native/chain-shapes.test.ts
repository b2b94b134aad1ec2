/**
 * The chain shapes real, misconfigured servers send, on both engines: the leaf alone, leaf and
 * intermediate, with the root, misordered (leaf, root, intermediate), an unrelated certificate in
 * the middle or at the end, the intermediate, the leaf or the root twice, and (in-process only) a
 * chain longer than MAX_CHAIN_LENGTH, in order and reversed. Node's engine reports the chain in path
 * order without what is off the path (src/tls-native/chain-order.ts says why); the native engine
 * must report the same (differential.ts). Each case first checks with the native engine's raw
 * handshake that the server really sent the shape, then compares both engines, then states the
 * chain Node's walk gives. On in-process Node TLS servers and on nginx (ssl_certificate in the given
 * order), TLS 1.2 and 1.3 each.
 *
 * Then Ed25519: an all-Ed25519 PKI made with `openssl genpkey -algorithm ed25519`, a staple signed
 * by the Ed25519 intermediate (`openssl ocsp`), served by an in-process server, nginx and
 * `openssl s_server`: TLS 1.3 (CertificateVerify with ed25519) and TLS 1.2 (ServerKeyExchange
 * signed with ed25519 under an ECDHE-ECDSA suite, RFC 8422 §5.1.1).
 *
 * Last, the X509_check_issued mirror of chain-order.ts against OpenSSL's own
 * (`X509Certificate.checkIssued`) on every pair of a set of certificates made to tell the rules
 * apart (look-alike names, case and white space, string types, keyUsage without keyCertSign, key
 * types against signature algorithms, RSASSA-PSS, authority key identifiers with issuer and serial).
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule, type ModuleConfig } from '../../src/config/schema.js';
import { MAX_CHAIN_LENGTH } from '../../src/probe/presented.js';
import type { Issued } from '../../src/pki/index.js';
import { chainOrderStats, issuedLikeOpenssl, orderLikeNode } from '../../src/tls-native/chain-order.js';
import { nativeHandshake } from '../../src/tls-native/engine.js';
import {
  Lab,
  LOOPBACK,
  binaryPath,
  freePorts,
  openssl as labOpenssl,
  requireLabTools,
  spawnManaged,
  waitFor,
  type LabCert,
  type ManagedProcess,
  type NginxServer,
} from '../e2e/lab/index.js';
import { deepChainLeaf, withHugeExtension } from '../hardening/hostile.js';
import { createOpensslPki, issueOpensslCertificate, openssl, opensslOcspResponse, type OpensslCert, type OpensslPki } from '../helpers/openssl.js';
import { makeTestPki, stapleFor, type TestPki } from '../helpers/pki.js';
import { expectSameOnBothEngines, targetAt } from './differential.js';

type Version = 'TLSv1.2' | 'TLSv1.3';
const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];
type Role = 'leaf' | 'intermediate' | 'root' | 'stranger';

interface Shape {
  name: string;
  sent: Role[];
  /** What Node's getPeerCertificate(true) walk gives. */
  walk: Role[];
}

const SHAPES: Shape[] = [
  { name: 'the leaf alone', sent: ['leaf'], walk: ['leaf'] },
  { name: 'leaf and intermediate', sent: ['leaf', 'intermediate'], walk: ['leaf', 'intermediate'] },
  { name: 'leaf, intermediate and root', sent: ['leaf', 'intermediate', 'root'], walk: ['leaf', 'intermediate', 'root'] },
  // Node's walk ends after taking the last certificate of its pool (chain-order.ts): the root is lost.
  { name: 'misordered: leaf, root, intermediate', sent: ['leaf', 'root', 'intermediate'], walk: ['leaf', 'intermediate'] },
  { name: 'an unrelated certificate in the middle', sent: ['leaf', 'stranger', 'intermediate'], walk: ['leaf', 'intermediate'] },
  { name: 'an unrelated certificate at the end', sent: ['leaf', 'intermediate', 'stranger'], walk: ['leaf', 'intermediate'] },
  { name: 'the intermediate twice', sent: ['leaf', 'intermediate', 'intermediate'], walk: ['leaf', 'intermediate'] },
  { name: 'the leaf twice', sent: ['leaf', 'leaf', 'intermediate'], walk: ['leaf', 'intermediate'] },
  { name: 'the root twice', sent: ['leaf', 'intermediate', 'root', 'root'], walk: ['leaf', 'intermediate', 'root'] },
];

const hex = (ders: readonly Uint8Array[]): string[] => ders.map((d) => Buffer.from(d).toString('hex'));

/** The chain exactly as the server sent it: the native engine's handshake before chain-order.ts. */
async function sentChain(port: number, version: Version, serverName = 'localhost'): Promise<string[]> {
  const result = await nativeHandshake(
    { address: LOOPBACK, port, serverName, deadlineMs: Date.now() + 5000 },
    { minVersion: version, maxVersion: version },
  );
  if (result.ok !== true) throw new Error(`raw native handshake failed: ${JSON.stringify(result)}`);
  return hex(result.chainDer);
}

function moduleFor(caPem: string, version: Version): ModuleConfig {
  return { ...defaultModule('m'), timeoutSeconds: 10, caPem, minVersion: version, maxVersion: version };
}

const servers: tls.Server[] = [];
afterAll(() => {
  for (const server of servers) server.close();
});

/** A Node TLS server presenting `chain` (PEM, leaf first, sent as given) and stapling `staple`. */
async function nodeServer(chainPem: string, keyPem: string, staple: Uint8Array | null, options: tls.TlsOptions = {}): Promise<number> {
  const server = tls.createServer({ cert: chainPem, key: keyPem, ...options });
  server.on('OCSPRequest', (_c: Buffer, _i: Buffer | null, done: (error: Error | null, response?: Buffer) => void) => done(null, staple ? Buffer.from(staple) : undefined));
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    socket.on('error', () => undefined);
    socket.resume();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return (server.address() as AddressInfo).port;
}

describe('chain shapes on an in-process Node TLS server', () => {
  let pki: TestPki;
  let staple: Uint8Array;
  const ports = new Map<string, number>();
  const pemOf = (role: Role): string => ({ leaf: pki.leafEcdsa, intermediate: pki.intermediate, root: pki.root, stranger: pki.strangerCa })[role].pem;
  const derOf = (role: Role): Uint8Array => ({ leaf: pki.leafEcdsa, intermediate: pki.intermediate, root: pki.root, stranger: pki.strangerCa })[role].der;

  beforeAll(async () => {
    pki = await makeTestPki();
    staple = await stapleFor(pki, pki.leafEcdsa);
    for (const shape of SHAPES) ports.set(shape.name, await nodeServer(shape.sent.map(pemOf).join(''), pki.leafEcdsa.keyPem, staple));
  });

  for (const shape of SHAPES) {
    for (const version of VERSIONS) {
      it(`${shape.name}, ${version}`, async () => {
        const port = ports.get(shape.name)!;
        expect(await sentChain(port, version), 'what the server sent').toEqual(hex(shape.sent.map(derOf)));
        const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), moduleFor(pki.root.pem, version));
        expect(seen.wire.chain).toEqual(hex(shape.walk.map(derOf)));
        expect(seen.wire.staple).toBe(Buffer.from(staple).toString('hex'));
        // No trust store completes the walk (the probe's context trusts nothing): the root only when sent.
        expect(seen.native).toMatchObject({ success: true, chain: { length: shape.walk.length, verified: shape.walk.includes('intermediate') } });
      });
    }
  }

  describe(`a chain longer than MAX_CHAIN_LENGTH (${MAX_CHAIN_LENGTH})`, () => {
    let leaf: Issued;
    let cas: Issued[];
    beforeAll(async () => {
      leaf = await deepChainLeaf(MAX_CHAIN_LENGTH + 8, pki.root);
      cas = [];
      for (let ca = leaf.issuer; ca && ca.issuer; ca = ca.issuer) cas.push(ca); // CA 40 … CA 1, root left out
    });

    for (const order of ['in order', 'reversed'] as const) {
      for (const version of VERSIONS) {
        it(`${order}, ${version}`, async () => {
          const sent = order === 'in order' ? cas : [...cas].reverse();
          const port = await nodeServer([leaf, ...sent].map((c) => c.pem).join(''), leaf.keyPem, await stapleFor(pki, leaf));
          expect(await sentChain(port, version)).toEqual(hex([leaf, ...sent].map((c) => c.der)));
          const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), moduleFor(pki.root.pem, version));
          // In order the walk stops at the cap; reversed, the leaf's issuer is the last one sent, and
          // taking it ends Node's walk.
          const walk = order === 'in order' ? [leaf, ...cas].slice(0, MAX_CHAIN_LENGTH) : [leaf, cas[0]!];
          expect(seen.wire.chain).toEqual(hex(walk.map((c) => c.der)));
          expect(seen.native).toMatchObject({ success: true, chain: { length: walk.length } });
        });
      }
    }
  });
});

describe('orderLikeNode', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki();
  });

  it('answers ordinary chains without asking OpenSSL, and follows the path', async () => {
    const before = chainOrderStats.opensslChecks;
    const [leaf, inter, root, stranger] = [pki.leafEcdsa, pki.intermediate, pki.root, pki.strangerCa].map((c) => Buffer.from(c.der));
    expect(orderLikeNode([leaf!, inter!, stranger!, root!], 32)).toEqual([leaf, inter, root]);
    // Node's walk ends once it has taken the last certificate of its pool.
    expect(orderLikeNode([leaf!, root!, stranger!, inter!], 32)).toEqual([leaf, inter]);
    expect(orderLikeNode([leaf!, inter!], 1)).toEqual([leaf]);
    expect(orderLikeNode([], 32)).toEqual([]);
    expect(chainOrderStats.opensslChecks).toBe(before);
  });

  it('leaves a certificate our reader refuses (80 KB) to OpenSSL, which links it', async () => {
    const huge = await withHugeExtension(pki.leafEcdsa, 80_000);
    const before = chainOrderStats.opensslChecks;
    expect(orderLikeNode([Buffer.from(huge.der), Buffer.from(pki.intermediate.der)], 32)).toHaveLength(2);
    expect(chainOrderStats.opensslChecks).toBeGreaterThan(before);
  });
});

const labGate = requireLabTools(['openssl', 'nginx']);

describe.skipIf(labGate.skip)('chain shapes and Ed25519 on nginx, s_server and an in-process server', () => {
  let lab: Lab;
  let nginx: NginxServer;
  let staple: Buffer;
  let stranger: { certPem: string; certDer: Buffer };
  let ed: { dir: string; root: OpensslCert; intermediate: OpensslCert; leaf: OpensslCert; staple: Uint8Array; labCert: LabCert };
  const sServers: ManagedProcess[] = [];

  const labPem = (role: Role): string => ({ leaf: lab.leaves.ecdsa.certPem, intermediate: lab.pki.intermediate.certPem, root: lab.pki.root.certPem, stranger: stranger.certPem })[role];
  const labDer = (role: Role): Buffer => ({ leaf: lab.leaves.ecdsa.certDer, intermediate: lab.pki.intermediate.certDer, root: lab.pki.root.certDer, stranger: stranger.certDer })[role];
  const siteOf = (shape: Shape): string => `shape-${SHAPES.indexOf(shape)}`;

  beforeAll(async () => {
    lab = await Lab.start({ name: 'chain-shapes' });
    staple = await lab.pki.makeResponse(lab.leaves.ecdsa);
    const strangerKey = path.join(lab.dir, 'stranger.key');
    const strangerCrt = path.join(lab.dir, 'stranger.crt');
    await labOpenssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', strangerKey,
      '-subj', '/O=Elsewhere/CN=Stranger Root CA', '-days', '30', '-addext', 'basicConstraints=critical,CA:true', '-out', strangerCrt]);
    stranger = {
      certPem: (await labOpenssl(['x509', '-in', strangerCrt])).stdout.toString('utf8'),
      certDer: (await labOpenssl(['x509', '-in', strangerCrt, '-outform', 'DER'])).stdout,
    };
    ed = await makeEd25519Pki(path.join(lab.dir, 'ed25519'));

    const sites = [];
    for (const shape of SHAPES) {
      const chainPath = path.join(lab.dir, `${siteOf(shape)}.pem`);
      await writeFile(chainPath, shape.sent.map(labPem).join(''));
      sites.push({ name: siteOf(shape), leaf: { ...lab.leaves.ecdsa, chainPath }, stapling: { mode: 'file' as const, der: staple } });
    }
    sites.push({ name: 'ed25519', leaf: ed.labCert, stapling: { mode: 'file' as const, der: ed.staple } });
    nginx = await lab.startNginx(sites);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sServers.map((p) => p.stop()));
    await lab?.stop();
  });

  describe('nginx, ssl_certificate in the given order', () => {
    for (const shape of SHAPES) {
      it(shape.name, async () => {
        const port = nginx.port(siteOf(shape));
        for (const version of VERSIONS) {
          expect(await sentChain(port, version), `what nginx sent (${version})`).toEqual(hex(shape.sent.map(labDer)));
          const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), moduleFor(lab.pki.root.certPem, version));
          expect(seen.wire.chain).toEqual(hex(shape.walk.map(labDer)));
          expect(seen.wire.staple).toBe(staple.toString('hex'));
          expect(seen.native).toMatchObject({ success: true, chain: { length: shape.walk.length, verified: shape.walk.includes('intermediate') } });
        }
      });
    }
  });

  describe('Ed25519 leaf', () => {
    /** Both engines agree on an Ed25519 server, TLS 1.3 and TLS 1.2, with the staple valid. */
    async function expectEd25519Agreement(port: number, versions: Version[] = VERSIONS): Promise<void> {
      for (const version of versions) {
        const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), moduleFor(ed.root.pem, version));
        expect(seen.wire.protocol).toBe(version);
        if (version === 'TLSv1.2') expect(seen.wire.cipher).toMatch(/^TLS_ECDHE_ECDSA_WITH_/);
        expect(seen.wire.chain).toEqual(hex([ed.leaf.der, ed.intermediate.der]));
        expect(seen.wire.staple).toBe(Buffer.from(ed.staple).toString('hex'));
        expect(seen.native).toMatchObject({ success: true, chain: { verified: true }, staple: { present: true, verdict: { valid: true } } });
      }
    }

    it('in-process Node server', async () => {
      const port = await nodeServer(ed.leaf.pem + ed.intermediate.pem, await readKey(ed.leaf), ed.staple);
      await expectEd25519Agreement(port);
    });

    it('in-process Node server, misordered (leaf, root, intermediate)', async () => {
      const port = await nodeServer(ed.leaf.pem + ed.root.pem + ed.intermediate.pem, await readKey(ed.leaf), ed.staple);
      for (const version of VERSIONS) {
        const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), moduleFor(ed.root.pem, version));
        expect(seen.wire.chain).toEqual(hex([ed.leaf.der, ed.intermediate.der]));
      }
    });

    it('nginx', async () => {
      await expectEd25519Agreement(nginx.port('ed25519'));
    });

    for (const version of VERSIONS) {
      it(`openssl s_server, ${version}`, async () => {
        const [port] = await freePorts(1);
        const stapleFile = path.join(ed.dir, `s_server-${port}.ocsp.der`);
        await writeFile(stapleFile, ed.staple);
        const versionArgs = version === 'TLSv1.3' ? ['-tls1_3'] : ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'];
        const proc = spawnManaged({
          name: `s_server ed25519 ${version}`,
          command: binaryPath('openssl'),
          args: ['s_server', '-accept', `${LOOPBACK}:${port}`, '-cert', ed.leaf.certPath, '-key', ed.leaf.keyPath, '-cert_chain', ed.intermediate.certPath,
            '-status_file', stapleFile, '-www', ...versionArgs],
        });
        sServers.push(proc);
        await waitFor(() => proc.capturedOutput.includes('ACCEPT'), 10_000, { what: 's_server to accept', abortIf: () => (proc.exitInfo ? 's_server exited' : null), diagnostics: () => proc.diagnostics() });
        await expectEd25519Agreement(port!, [version]);
        await proc.stop();
      });
    }
  });
});

async function readKey(cert: OpensslCert): Promise<string> {
  return (await openssl(['pkey', '-in', cert.keyPath])).stdout.toString('utf8');
}

const CA_EXT = ['basicConstraints = critical,CA:true', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash'];
const LEAF_EXT = ['basicConstraints = critical,CA:false', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth',
  'subjectAltName = DNS:localhost,IP:127.0.0.1', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid'];

/** Root, intermediate and leaf, every key Ed25519, and a staple for the leaf signed by the intermediate. */
async function makeEd25519Pki(dir: string): Promise<{ dir: string; root: OpensslCert; intermediate: OpensslCert; leaf: OpensslCert; staple: Uint8Array; labCert: LabCert }> {
  await mkdir(dir, { recursive: true });
  const key = async (name: string): Promise<string> => {
    const keyPath = path.join(dir, `${name}.key`);
    await openssl(['genpkey', '-algorithm', 'ed25519', '-out', keyPath]);
    return keyPath;
  };
  // `keyType` of OpensslCert names the helper's own key kinds; these keys are Ed25519 whatever it says.
  const root = await issueOpensslCertificate(dir, { name: 'root', subject: '/O=Ed25519 Test/CN=Ed25519 Root', issuer: null, extensions: CA_EXT, keyPath: await key('root') });
  const intermediate = await issueOpensslCertificate(dir, {
    name: 'intermediate', subject: '/O=Ed25519 Test/CN=Ed25519 Intermediate', issuer: root, extensions: [...CA_EXT, 'authorityKeyIdentifier = keyid'], keyPath: await key('intermediate'),
  });
  const leaf = await issueOpensslCertificate(dir, {
    name: 'leaf', subject: '/O=Ed25519 Test/CN=localhost', issuer: intermediate, extensions: [...LEAF_EXT, 'authorityInfoAccess = OCSP;URI:http://ocsp.example.test/'], keyPath: await key('leaf'),
  });
  expect(new X509Certificate(leaf.der).publicKey.asymmetricKeyType).toBe('ed25519');
  const staple = await opensslOcspResponse({ dir, issuer: intermediate, certs: [leaf], signer: intermediate, ndays: 1 });
  const chainPath = path.join(dir, 'leaf.chain.pem');
  await writeFile(chainPath, leaf.pem + intermediate.pem);
  const labCert: LabCert = {
    name: 'ed25519', keyType: 'ec', certPath: leaf.certPath, keyPath: leaf.keyPath, chainPath, certPem: leaf.pem, certDer: Buffer.from(leaf.der), serial: leaf.serial,
  };
  return { dir, root, intermediate, leaf, staple, labCert };
}

const opensslGate = requireLabTools(['openssl']);

describe.skipIf(opensslGate.skip)('the X509_check_issued mirror against OpenSSL on every pair', () => {
  let dir: string;
  let pki: OpensslPki;
  let noAkid: OpensslCert;
  const set = new Map<string, Buffer>();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'chain-order-'));
    pki = await createOpensslPki(path.join(dir, 'pki'));
    const interName = '/O=OCSP Test/CN=Test Intermediate CA';
    const ca = (name: string, subject: string, extensions = CA_EXT, extra: Partial<Parameters<typeof issueOpensslCertificate>[1]> = {}) =>
      issueOpensslCertificate(dir, { name, subject, issuer: null, extensions, ...extra });
    const byInter = (name: string, extensions: string[]) =>
      issueOpensslCertificate(dir, { name, subject: `/O=OCSP Test/OU=${name}/CN=localhost`, issuer: pki.intermediate, extensions });
    const [noCertSign, caseAndSpace, rsaLookalike, sameKeyOtherSerial, leafAkidFull, leafAkidKeyOnly, leafNoAkid, ed] = await Promise.all([
      // The intermediate's name, keyUsage without keyCertSign: names match, ku_reject refuses.
      ca('no-cert-sign', interName, ['basicConstraints = critical,CA:true', 'keyUsage = critical,digitalSignature']),
      // The same name folded differently: X509_NAME_cmp's canonical form makes it equal.
      ca('case-and-space', '/O=ocsp   TEST/CN=  test intermediate ca '),
      // The intermediate's name on an RSA key: ECDSA-signed children do not fit it.
      ca('rsa-lookalike', interName, CA_EXT, { keyType: 'rsa-2048' }),
      // The intermediate's own key, another serial: a full AKI (keyid, issuer, serial) tells them apart.
      ca('same-key-other-serial', interName, CA_EXT, { keyPath: pki.intermediate.keyPath }),
      byInter('akid-full', ['basicConstraints = critical,CA:false', 'authorityKeyIdentifier = keyid:always,issuer:always']),
      byInter('akid-keyid', ['basicConstraints = critical,CA:false', 'authorityKeyIdentifier = keyid:always']),
      // No authority key identifier (OpenSSL 3 adds one unless told not to): names alone decide.
      byInter('leaf-no-akid', ['basicConstraints = critical,CA:false', 'subjectAltName = DNS:localhost,IP:127.0.0.1', 'authorityKeyIdentifier = none']),
      makeEd25519Pki(path.join(dir, 'ed25519')),
    ]);
    // PrintableString instead of UTF8String for the same name (string_mask default), and an RSASSA-PSS child.
    const printable = path.join(dir, 'printable');
    await writeFile(`${printable}.cnf`, `[req]\ndistinguished_name = dn\nstring_mask = default\n[dn]\n[ext]\n${CA_EXT.join('\n')}\n`);
    await openssl(['req', '-x509', '-new', '-key', pki.impostorCa.keyPath, '-subj', interName, '-config', `${printable}.cnf`, '-extensions', 'ext', '-days', '30', '-out', `${printable}.crt`]);
    const pss = path.join(dir, 'pss');
    await openssl(['req', '-new', '-key', pki.leafEc.keyPath, '-subj', '/CN=pss child', '-config', `${printable}.cnf`, '-out', `${pss}.csr`]);
    await openssl(['x509', '-req', '-in', `${pss}.csr`, '-CA', rsaLookalike.certPath, '-CAkey', rsaLookalike.keyPath, '-set_serial', '7', '-sigopt', 'rsa_padding_mode:pss', '-days', '30', '-out', `${pss}.crt`]);
    const der = async (file: string): Promise<Buffer> => (await openssl(['x509', '-in', file, '-outform', 'DER'])).stdout;

    for (const [name, cert] of Object.entries(pki)) if (typeof cert === 'object' && cert && 'der' in cert) set.set(name, Buffer.from(cert.der));
    noAkid = leafNoAkid;
    for (const cert of [noCertSign, caseAndSpace, rsaLookalike, sameKeyOtherSerial, leafAkidFull, leafAkidKeyOnly, leafNoAkid]) set.set(cert.name, Buffer.from(cert.der));
    set.set('ed25519-root', Buffer.from(ed.root.der));
    set.set('ed25519-intermediate', Buffer.from(ed.intermediate.der));
    set.set('ed25519-leaf', Buffer.from(ed.leaf.der));
    set.set('printable', await der(`${printable}.crt`));
    set.set('pss-child', await der(`${pss}.crt`));
  }, 120_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('agrees with X509Certificate.checkIssued on each ordered pair, without asking OpenSSL', () => {
    const before = chainOrderStats.opensslChecks;
    const linked: string[] = [];
    const disagreements: string[] = [];
    for (const [issuerName, issuer] of set) {
      for (const [subjectName, subject] of set) {
        const openssl = new X509Certificate(subject).checkIssued(new X509Certificate(issuer));
        const mirror = issuedLikeOpenssl(issuer, subject);
        if (mirror !== openssl) disagreements.push(`${issuerName} → ${subjectName}: OpenSSL ${openssl}, mirror ${mirror}`);
        if (openssl) linked.push(`${issuerName} → ${subjectName}`);
      }
    }
    expect(disagreements).toEqual([]);
    expect(chainOrderStats.opensslChecks).toBe(before);
    // The set tells the rules apart: each of these links exists or not for one rule only.
    expect(linked).toEqual(expect.arrayContaining([
      'intermediate → leafEc',
      'intermediate → leaf-no-akid',
      'impostorCa → leaf-no-akid', // same name, no authority key identifier: no signature is checked
      'case-and-space → leaf-no-akid',
      'printable → leaf-no-akid',
      'same-key-other-serial → akid-keyid',
      'intermediate → akid-full',
      'rsa-lookalike → pss-child',
      'ed25519-root → ed25519-intermediate',
      'ed25519-intermediate → ed25519-leaf',
      'root → root',
    ]));
    for (const absent of ['impostorCa → leafEc', 'no-cert-sign → leaf-no-akid', 'rsa-lookalike → leaf-no-akid', 'same-key-other-serial → akid-full', 'impostorCa → akid-keyid', 'intermediate → pss-child']) {
      expect(linked).not.toContain(absent);
    }
  });

  it('a look-alike sent before the real intermediate: linked by name alone when the leaf has no AKI', async () => {
    for (const [leaf, walk] of [
      // The impostor is self-signed under the intermediate's name, so the real one "issued" it too.
      [noAkid, [noAkid, pki.impostorCa, pki.intermediate, pki.root]],
      // With an AKI the impostor's other key identifier keeps it out.
      [pki.leafEc, [pki.leafEc, pki.intermediate, pki.root]],
    ] as const) {
      const port = await nodeServer([leaf, pki.impostorCa, pki.intermediate, pki.root].map((c) => c.pem).join(''), await readKey(leaf), null);
      for (const version of VERSIONS) {
        const seen = await expectSameOnBothEngines(targetAt(LOOPBACK, port), moduleFor(pki.root.pem, version));
        expect(seen.wire.chain).toEqual(hex(walk.map((c) => c.der)));
      }
    }
  });
});
