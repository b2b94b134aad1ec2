/**
 * Files for web config tests: the server certificate and key, a client CA, good, expired and
 * foreign client certificates, written to a fresh temp directory, plus bcrypt hashes made once
 * at a low cost (bcrypt's cost 4, so tests stay fast; cost 10 is measured apart).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { chainPem, createCertificate, type Issued } from '../../src/pki/index.js';
import { cachedKeys, makeTestPki, type TestPki } from '../helpers/pki.js';

export interface WebFixtures {
  dir: string;
  pki: TestPki;
  /** Server chain (leafEcdsa + intermediate) and key, CN/SAN localhost + 127.0.0.1. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Root of the server chain, for clients. */
  serverCaPem: string;
  /** The CA that issues client certificates (the test intermediate) as a file. */
  clientCaFile: string;
  clientGood: Issued;
  clientExpired: Issued;
  /** Issued by the stranger CA: well-formed, wrong issuer. */
  clientForeign: Issued;
  /** Self-signed client certificate. */
  clientSelfSigned: Issued;
  /** user alice / password "alice-secret", bob / "bob secret:with colon", cost 4. */
  users: { alice: string; bob: string };
  write(name: string, text: string): string;
  cleanup(): void;
}

const DAY_MS = 86_400_000;

export async function makeWebFixtures(): Promise<WebFixtures> {
  const pki = await makeTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'ocsp-exporter-web-'));
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const clientKeys = await cachedKeys('ec-p256', 'web-client');
  const client = (commonName: string, extra: Partial<Parameters<typeof createCertificate>[0]> = {}) =>
    createCertificate({ commonName, keys: clientKeys, issuer: pki.intermediate, extendedKeyUsage: ['clientAuth'], dnsNames: ['prometheus.example.test'], ...extra });
  const now = Date.now();
  const [clientGood, clientExpired, clientForeign, clientSelfSigned] = await Promise.all([
    client('prometheus'),
    client('prometheus-expired', { notBefore: new Date(now - 60 * DAY_MS), notAfter: new Date(now - DAY_MS) }),
    client('prometheus-foreign', { issuer: pki.strangerCa }),
    createCertificate({ commonName: 'prometheus-self', keys: clientKeys, extendedKeyUsage: ['clientAuth'] }),
  ]);
  return {
    dir,
    pki,
    serverCertFile: write('server.crt', chainPem(pki.leafEcdsa)),
    serverKeyFile: write('server.key', pki.leafEcdsa.keyPem),
    serverCaPem: pki.root.pem,
    clientCaFile: write('client-ca.crt', pki.intermediate.pem + pki.root.pem),
    clientGood,
    clientExpired,
    clientForeign,
    clientSelfSigned,
    users: {
      alice: bcrypt.hashSync('alice-secret', 4),
      bob: bcrypt.hashSync('bob secret:with colon', 4),
    },
    write,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
