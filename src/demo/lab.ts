/**
 * The built-in demo lab: an in-memory CA and one loopback TLS endpoint per staple state an SRE
 * must recognise. `serve` without a config file starts it and probes it, so the very first
 * `/metrics` a new user sees shows every state side by side. The staples are re-signed on a timer
 * so that "fresh" stays fresh for as long as the demo runs.
 */
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { defaultModule, emptyConfig, type Config } from '../config/schema.js';
import { createCertificate, createOcspResponse, type Issued, type SingleResponseSpec } from '../pki/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const REFRESH_MS = 10 * 60_000;

export type DemoCase =
  | 'good'
  | 'no_staple'
  | 'expired'
  | 'revoked'
  | 'wrong_certificate'
  | 'must_staple_missing'
  | 'stale'
  | 'no_ocsp_url'
  | 'bad_signature';

interface CaseSpec {
  name: DemoCase;
  description: string;
  mustStaple?: boolean;
  ocspUrl?: boolean;
  /** Null: the server staples nothing. */
  staple: ((pki: DemoPki, leaf: Issued, now: number) => Promise<Uint8Array>) | null;
}

interface DemoPki {
  ca: Issued;
  responder: Issued;
  /** A certificate the "wrong certificate" staple speaks about instead of the served one. */
  other: Issued;
}

const OCSP_URL = 'http://ocsp.demo.invalid/';

function single(leaf: Issued | Uint8Array, pki: DemoPki, thisUpdate: number, nextUpdate: number, extra: Partial<SingleResponseSpec> = {}): SingleResponseSpec {
  return { leaf, issuer: pki.ca, status: 'good', thisUpdate: new Date(thisUpdate), nextUpdate: new Date(nextUpdate), ...extra };
}

function signed(pki: DemoPki, singles: SingleResponseSpec[], producedAt: number, tamperSignature = false): Promise<Uint8Array> {
  return createOcspResponse({ signer: pki.responder, producedAt: new Date(producedAt), singles, tamperSignature });
}

/** Each state, with a 7-day validity window like most commercial CAs' responders. */
export const DEMO_CASES: readonly CaseSpec[] = [
  {
    name: 'good',
    description: 'a fresh, valid staple saying good',
    staple: (pki, leaf, now) => signed(pki, [single(leaf, pki, now - HOUR, now + 7 * DAY - HOUR)], now - HOUR),
  },
  { name: 'no_staple', description: 'the certificate has an OCSP URL but the server staples nothing', staple: null },
  {
    name: 'expired',
    description: "the staple's nextUpdate passed a day ago (the refresh job died)",
    staple: (pki, leaf, now) => signed(pki, [single(leaf, pki, now - 8 * DAY, now - DAY)], now - 8 * DAY),
  },
  {
    name: 'revoked',
    description: 'a valid staple saying the certificate was revoked (keyCompromise)',
    staple: (pki, leaf, now) =>
      signed(
        pki,
        [single(leaf, pki, now - HOUR, now + 7 * DAY - HOUR, { status: 'revoked', revocationTime: new Date(now - 2 * DAY), revocationReason: 'keyCompromise' })],
        now - HOUR,
      ),
  },
  {
    name: 'wrong_certificate',
    description: 'a staple about another certificate',
    staple: (pki, _leaf, now) => signed(pki, [single(pki.other, pki, now - HOUR, now + 7 * DAY - HOUR)], now - HOUR),
  },
  { name: 'must_staple_missing', description: 'a Must-Staple certificate served without a staple', mustStaple: true, staple: null },
  {
    name: 'stale',
    description: 'a staple past half its validity window: still valid, but its refresh has stalled',
    staple: (pki, leaf, now) => signed(pki, [single(leaf, pki, now - 5 * DAY, now + 2 * DAY)], now - 5 * DAY),
  },
  { name: 'no_ocsp_url', description: 'a certificate without an OCSP URL (nothing to staple)', ocspUrl: false, staple: null },
  {
    name: 'bad_signature',
    description: 'a staple whose signature was tampered with',
    staple: (pki, leaf, now) => signed(pki, [single(leaf, pki, now - HOUR, now + 7 * DAY - HOUR)], now - HOUR, true),
  },
];

export interface DemoEndpoint {
  name: DemoCase;
  description: string;
  host: string;
  port: number;
}

export interface DemoLab {
  endpoints: DemoEndpoint[];
  /** A config probing every endpoint, with a `demo` module trusting the lab CA. */
  config: Config;
  caPem: string;
  close(): Promise<void>;
}

export async function startDemoLab(options: { host?: string; now?: () => number } = {}): Promise<DemoLab> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  // Back-dated so the old staples (expired, stale) were signed while CA and responder were valid:
  // otherwise they would show unauthorized_responder instead of the state they demonstrate.
  const notBefore = new Date(now() - 30 * DAY);
  const ca = await createCertificate({ commonName: 'ocsp-stapling-exporter demo CA', isCA: true, notBefore });
  const pki: DemoPki = {
    ca,
    responder: await createCertificate({ commonName: 'demo OCSP responder', issuer: ca, extendedKeyUsage: ['ocspSigning'], notBefore }),
    other: await createCertificate({ commonName: 'another.demo.invalid', issuer: ca, ocspUrls: [OCSP_URL] }),
  };

  const servers: tls.Server[] = [];
  const timers: NodeJS.Timeout[] = [];
  const endpoints: DemoEndpoint[] = [];
  try {
    for (const spec of DEMO_CASES) {
      const leaf = await createCertificate({
        commonName: `${spec.name.replace(/_/g, '-')}.demo.invalid`,
        issuer: ca,
        dnsNames: ['localhost'],
        ipAddresses: [host],
        ocspUrls: spec.ocspUrl === false ? [] : [OCSP_URL],
        mustStaple: spec.mustStaple ?? false,
        extendedKeyUsage: ['serverAuth'],
      });
      let staple: Buffer | null = spec.staple ? Buffer.from(await spec.staple(pki, leaf, now())) : null;
      if (spec.staple) {
        const make = spec.staple;
        const timer = setInterval(() => {
          make(pki, leaf, now()).then(
            (der) => (staple = Buffer.from(der)),
            () => undefined, // keep the previous staple; the demo must not die on a refresh
          );
        }, REFRESH_MS);
        timer.unref();
        timers.push(timer);
      }
      const server = tls.createServer({ cert: leaf.pem + ca.pem, key: leaf.keyPem });
      server.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer, callback: (err: Error | null, resp?: Buffer) => void) => {
        callback(null, staple ?? undefined);
      });
      // Probes close right after the handshake; resets are expected, not worth a crash.
      server.on('tlsClientError', () => undefined);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      server.unref();
      servers.push(server);
      endpoints.push({ name: spec.name, description: spec.description, host, port: (server.address() as AddressInfo).port });
    }
  } catch (error) {
    await closeAll(servers, timers);
    throw error;
  }

  const config = emptyConfig();
  config.modules['demo'] = { ...defaultModule('demo'), caPem: ca.pem, serverName: 'localhost', timeoutSeconds: 5 };
  config.global.minProbeIntervalSeconds = 5;
  config.global.probeAllowlist = [`${host}/32`];
  config.targets = endpoints.map((e) => ({
    target: `${e.host}:${e.port}`,
    host: e.host,
    port: e.port,
    module: 'demo',
    serverName: null,
    labels: { demo_case: e.name },
  }));

  return { endpoints, config, caPem: ca.pem, close: () => closeAll(servers, timers) };
}

async function closeAll(servers: tls.Server[], timers: NodeJS.Timeout[]): Promise<void> {
  for (const timer of timers) clearInterval(timer);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}
