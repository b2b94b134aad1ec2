/**
 * OCSP status of the intermediates in the presented chain (`query_chain_responders`), end to end:
 * a root whose own `openssl ocsp` responder answers about the intermediate (the intermediate's AIA
 * names it), an intermediate whose responder answers about the leaf, a real TLS server presenting
 * leaf + intermediate, and the exporter's `/probe`. Revoking the intermediate in the root's
 * database turns `ocsp_chain_cert_revoked{depth="1"}` to 1 while the leaf stays good.
 * The certificates come from src/pki; the databases are index.txt files in `openssl ca` format.
 */
import { once } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModule, emptyConfig, type Config } from '../../src/config/schema.js';
import { createCertificate, type Issued } from '../../src/pki/index.js';
import { find } from '../metrics/exposition.js';
import { cachedKeys } from '../helpers/pki.js';
import { LOOPBACK, binaryPath, freePorts, postOcspRequest, describeOcspResponse, requireLabTools, spawnManaged, waitFor, type ManagedProcess } from './lab/index.js';
import { startExporter, type RunningExporter } from './support/exporter.js';
import { buildOcspRequest } from '../../src/responder/index.js';
import { LOOPBACK_ALLOWED } from '../responder/support.js';

const gate = requireLabTools(['openssl']);

/** `YYMMDDHHMMSSZ`, as `openssl ca` writes dates into index.txt. */
function indexDate(date: Date): string {
  return date.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
}

function indexLine(cert: Issued, revokedAt: Date | null): string {
  let serial = cert.serialNumber.toString(16).toUpperCase();
  if (serial.length % 2) serial = `0${serial}`;
  const status = revokedAt ? 'R' : 'V';
  const revocation = revokedAt ? `${indexDate(revokedAt)},keyCompromise` : '';
  return `${status}\t${indexDate(cert.notAfter)}\t${revocation}\t${serial}\tunknown\t/CN=${cert.subject}\n`;
}

describe.skipIf(gate.skip)('e2e: intermediate status from the issuer responder (openssl ocsp)', () => {
  let dir: string;
  let root: Issued;
  let intermediate: Issued;
  let leaf: Issued;
  let rootIndex: string;
  const processes: ManagedProcess[] = [];
  let tlsServer: tls.Server;
  let exporter: RunningExporter;
  let target: string;
  let rootUrl: string;

  async function startResponder(name: string, ca: Issued, index: string, port: number): Promise<void> {
    const caPath = path.join(dir, `${name}-ca.pem`);
    const keyPath = path.join(dir, `${name}-key.pem`);
    await writeFile(caPath, ca.pem);
    await writeFile(keyPath, ca.keyPem);
    processes.push(
      spawnManaged({
        name: `openssl-ocsp-${name}`,
        command: binaryPath('openssl'),
        args: ['ocsp', '-index', index, '-port', String(port), '-rsigner', caPath, '-rkey', keyPath, '-CA', caPath, '-nmin', '60', '-timeout', '2'],
        cwd: dir,
      }),
    );
  }

  /** What the responder at `url` says about `cert` now, asked with our own request. */
  async function statusAt(url: string, cert: Issued, issuer: Issued): Promise<string | null> {
    try {
      const der = await postOcspRequest(url, Buffer.from(buildOcspRequest(cert.der, issuer.der).der), 1000);
      return (await describeOcspResponse(der)).certStatus ?? null;
    } catch {
      return null;
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'e2e-responder-chain-'));
    const [rootPort, intermediatePort] = await freePorts(2);
    rootUrl = `http://${LOOPBACK}:${rootPort}/`;
    const intermediateUrl = `http://${LOOPBACK}:${intermediatePort}/`;
    root = await createCertificate({ commonName: 'E2E Chain Root', isCA: true, keys: await cachedKeys('ec-p256', 'e2e-chain-root') });
    intermediate = await createCertificate({
      commonName: 'E2E Chain Intermediate',
      isCA: true,
      issuer: root,
      keys: await cachedKeys('ec-p256', 'e2e-chain-intermediate'),
      ocspUrls: [rootUrl],
    });
    leaf = await createCertificate({
      commonName: 'localhost',
      issuer: intermediate,
      keys: await cachedKeys('ec-p256', 'e2e-chain-leaf'),
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      extendedKeyUsage: ['serverAuth'],
      ocspUrls: [intermediateUrl],
    });
    rootIndex = path.join(dir, 'root-index.txt');
    const intermediateIndex = path.join(dir, 'intermediate-index.txt');
    await writeFile(rootIndex, indexLine(intermediate, null));
    await writeFile(intermediateIndex, indexLine(leaf, null));
    await startResponder('root', root, rootIndex, rootPort!);
    await startResponder('intermediate', intermediate, intermediateIndex, intermediatePort!);
    await waitFor(async () => (await statusAt(rootUrl, intermediate, root)) === 'good' && (await statusAt(intermediateUrl, leaf, intermediate)) === 'good', 10_000, {
      what: 'both openssl ocsp responders to answer',
      diagnostics: () => processes.map((p) => p.diagnostics()).join('\n'),
    });

    // The server presents leaf + intermediate; the root is the exporter's CA file.
    tlsServer = tls.createServer({ key: leaf.keyPem, cert: leaf.pem + intermediate.pem });
    tlsServer.on('secureConnection', (socket) => socket.end());
    tlsServer.on('tlsClientError', () => {});
    tlsServer.listen(0, LOOPBACK);
    await once(tlsServer, 'listening');
    target = `${LOOPBACK}:${(tlsServer.address() as net.AddressInfo).port}`;

    const config: Config = {
      ...emptyConfig(),
      modules: {
        default: { ...defaultModule(), caPem: root.pem, queryResponder: true, queryChainResponders: true, responderCacheMaxAgeSeconds: 0, responderDestinations: LOOPBACK_ALLOWED },
      },
    };
    config.global.probeAllowlist = ['127.0.0.0/8'];
    exporter = await startExporter(config);
  }, 60_000);

  afterAll(async () => {
    await exporter?.close();
    if (tlsServer) await new Promise((resolve) => tlsServer.close(resolve));
    await Promise.all(processes.map((p) => p.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const series = async () => {
    const e = await exporter.probe(target);
    const at = { target, depth: '1' };
    return {
      chainUp: find(e, 'ocsp_chain_responder_up', at)[0]?.value,
      chainRevoked: find(e, 'ocsp_chain_cert_revoked', at)[0]?.value,
      chainProblems: find(e, 'ocsp_chain_responder_problem', at).map((s) => s.labels.problem),
      depths: find(e, 'ocsp_chain_responder_up', { target }).map((s) => s.labels.depth),
      leafUp: find(e, 'ocsp_responder_up', { target })[0]?.value,
      leafRevoked: find(e, 'ocsp_cert_revoked', { target })[0]?.value,
      staplePresent: find(e, 'ocsp_staple_present', { target })[0]?.value,
    };
  };

  it('reports the intermediate good, then revoked once its issuer revokes it, the leaf staying good', async () => {
    expect(await series()).toEqual({ chainUp: 1, chainRevoked: 0, chainProblems: [], depths: ['1'], leafUp: 1, leafRevoked: 0, staplePresent: 0 });

    // openssl ocsp reloads index.txt when its mtime, ctime, inode or device changes (apps/ocsp.c
    // index_changed), compared in whole seconds: a rewrite within the second it was loaded goes
    // unnoticed. A new file renamed over it has a new inode. It is noticed one request late
    // (lab/responder.ts): wait until the responder says so.
    await writeFile(`${rootIndex}.new`, indexLine(intermediate, new Date(Date.now() - 60_000)));
    await rename(`${rootIndex}.new`, rootIndex);
    await waitFor(async () => (await statusAt(rootUrl, intermediate, root)) === 'revoked', 10_000, {
      what: 'the root responder to serve the revocation',
    });
    expect(await series()).toEqual({ chainUp: 1, chainRevoked: 1, chainProblems: [], depths: ['1'], leafUp: 1, leafRevoked: 0, staplePresent: 0 });
  });
});
