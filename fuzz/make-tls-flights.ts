/**
 * Regenerates test/fuzz/tls-flights.json: the flights real servers send to the fuzz client's fixed
 * ClientHello (see test/fuzz/tls-flights.ts). Node's TLS server (OpenSSL) in process, for every
 * TLS 1.3 suite, a HelloRetryRequest, TLS 1.2 with ECDSA and RSA leaves and a CertificateRequest;
 * nginx from the end-to-end lab for TLS 1.3 and 1.2. Run: `node --import tsx fuzz/make-tls-flights.ts`.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { makeTestPki, stapleFor } from '../test/helpers/pki.js';
import { Lab, LOOPBACK, requireLabTools } from '../test/e2e/lab/index.js';
import { flightsToJson, recordFlight, TLS_FLIGHTS_FILE, type RecordedFlight } from '../test/fuzz/tls-flights.js';

const pki = await makeTestPki();
const staple = Buffer.from(await stapleFor(pki, pki.leafEcdsa));
const flights: RecordedFlight[] = [];
const both = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' } as const;
const tls12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;

async function fromNode(name: string, leaf: 'ecdsa' | 'rsa', options: tls.TlsOptions, versions: typeof both | typeof tls12): Promise<void> {
  const cert = leaf === 'ecdsa' ? pki.leafEcdsa : pki.leafRsa;
  const server = tls.createServer({ cert: cert.pem + pki.intermediate.pem, key: cert.keyPem, ...options });
  server.on('OCSPRequest', (_c: Buffer, _i: Buffer | null, done: (error: Error | null, response?: Buffer) => void) => done(null, staple));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  try {
    flights.push(await recordFlight(LOOPBACK, (server.address() as AddressInfo).port, `node ${name}`, versions));
  } finally {
    server.close();
  }
}

await fromNode('tls13 TLS_AES_128_GCM_SHA256 x25519 ecdsa', 'ecdsa', { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' }, both);
await fromNode('tls13 TLS_AES_256_GCM_SHA384 x25519 rsa', 'rsa', { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' }, both);
await fromNode('tls13 TLS_CHACHA20_POLY1305_SHA256 x25519 ecdsa certificate request', 'ecdsa', { minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256', requestCert: true, rejectUnauthorized: false }, both);
await fromNode('tls13 HelloRetryRequest P-384', 'ecdsa', { minVersion: 'TLSv1.3', ecdhCurve: 'P-384' }, both);
await fromNode('tls12 ECDHE-ECDSA-AES128-GCM-SHA256 ecdsa', 'ecdsa', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }, tls12);
await fromNode('tls12 ECDHE-RSA-CHACHA20-POLY1305 rsa pss', 'rsa', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' }, tls12);
await fromNode('tls12 ECDHE-RSA-AES256-GCM-SHA384 rsa pkcs1 certificate request', 'rsa', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384', sigalgs: 'RSA+SHA256', requestCert: true, rejectUnauthorized: false }, tls12);

if (!requireLabTools(['openssl', 'faketime', 'nginx'], false).skip) {
  const lab = await Lab.start({ name: 'tls-flights' });
  try {
    const der = await lab.pki.makeResponse(lab.leaves.ecdsa);
    const nginx = await lab.startNginx([
      { name: 'ecdsa', leaf: lab.leaves.ecdsa, stapling: { mode: 'file', der } },
      { name: 'rsa', leaf: lab.leaves.rsa, stapling: { mode: 'file', der: await lab.pki.makeResponse(lab.leaves.rsa) } },
    ]);
    flights.push(await recordFlight(LOOPBACK, nginx.port('ecdsa'), 'nginx tls13 ecdsa', both));
    flights.push(await recordFlight(LOOPBACK, nginx.port('rsa'), 'nginx tls13 rsa', both));
    flights.push(await recordFlight(LOOPBACK, nginx.port('ecdsa'), 'nginx tls12 ecdsa', tls12));
    flights.push(await recordFlight(LOOPBACK, nginx.port('rsa'), 'nginx tls12 rsa', tls12));
  } finally {
    await lab.stop();
  }
}

writeFileSync(TLS_FLIGHTS_FILE, flightsToJson(flights));
process.stdout.write(`wrote ${fileURLToPath(TLS_FLIGHTS_FILE)}: ${flights.map((f) => `${f.name} (${f.bytes.length} B)`).join(', ')}\n`);
process.exit(0);
