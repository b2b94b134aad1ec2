/**
 * The client side of the lab: one fresh TLS handshake that asks for a staple (status_request,
 * RFC 6066 §8) and reports exactly the bytes the server stapled, through Node's own
 * `tls.connect({ requestOCSP: true })` — the same path the exporter uses — and, as an independent
 * judge, `openssl s_client -status`. Sessions are never reused: resumed TLS 1.2 sessions carry no
 * staple.
 */
import tls from 'node:tls';
import { LabError } from './errors.js';
import { openssl } from './exec.js';
import { LOOPBACK } from './ports.js';

export type TlsVersionName = 'TLSv1.2' | 'TLSv1.3';

export interface CaptureOptions {
  /** SNI; default `localhost`. Pass null to send none. */
  servername?: string | null;
  minVersion?: TlsVersionName;
  maxVersion?: TlsVersionName;
  /** Trust anchors (PEM) for reporting `authorized`; the handshake never fails on trust. */
  ca?: string | Buffer;
  timeoutMs?: number;
  /** Send status_request (default true). Readiness probes send none, so they never make nginx
   *  or Apache fetch a staple before the test's first real handshake. */
  requestOCSP?: boolean;
}

export interface CapturedStaple {
  /** The DER OCSPResponse the server stapled, or null when it sent none. */
  staple: Buffer | null;
  /** Whether the 'OCSPResponse' event fired at all (it fires with null when no staple came). */
  ocspEventSeen: boolean;
  peerCertDer: Buffer;
  /** DER of the certificate after the leaf in the peer's chain, when the server sent one. */
  issuerDer: Buffer | null;
  protocol: string | null;
  /** Chain validity against `ca` (false with the reason when `ca` was not given). */
  authorized: boolean;
  authorizationError: string | null;
}

/** One handshake to host:port requesting OCSP; resolves with what the server stapled. */
export function captureStaple(host: string, port: number, options: CaptureOptions = {}): Promise<CapturedStaple> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    let staple: Buffer | null = null;
    let ocspEventSeen = false;
    const servername = options.servername === undefined ? 'localhost' : options.servername;
    // requestOCSP is a TLSSocket option @types/node leaves out of ConnectionOptions.
    const connectOptions: tls.ConnectionOptions & { requestOCSP: boolean } = {
      host,
      port,
      ...(servername === null ? {} : { servername }),
      requestOCSP: options.requestOCSP ?? true,
      rejectUnauthorized: false,
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
    };
    const socket = tls.connect(connectOptions);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new LabError('LAB_TIMEOUT', `TLS handshake with ${host}:${port} took over ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('OCSPResponse', (response: Buffer | null) => {
      ocspEventSeen = true;
      staple = response && response.length > 0 ? Buffer.from(response) : null;
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = socket.getPeerCertificate(true);
      const issuer = peer.issuerCertificate as tls.DetailedPeerCertificate | undefined;
      // A self-issued leaf points at itself; only a different certificate counts as "sent".
      const issuerDer = issuer?.raw && !issuer.raw.equals(peer.raw) ? Buffer.from(issuer.raw) : null;
      const result: CapturedStaple = {
        staple,
        ocspEventSeen,
        peerCertDer: Buffer.from(peer.raw),
        issuerDer,
        protocol: socket.getProtocol(),
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
      };
      socket.end();
      resolve(result);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/**
 * True when a TLS handshake with host:port (default 127.0.0.1) completes (readiness probe). It does not request
 * OCSP: nginx and Apache fetch lazily on the first status_request, which belongs to the test.
 */
export async function tlsHandshakeSucceeds(port: number, servername = 'localhost', host = LOOPBACK): Promise<boolean> {
  try {
    await captureStaple(host, port, { servername, timeoutMs: 2000, requestOCSP: false });
    return true;
  } catch {
    return false;
  }
}

export interface SClientStatus {
  /** `TLSv1.2` / `TLSv1.3` as s_client names the negotiated protocol. */
  protocol: string | null;
  /** False when s_client printed "OCSP response: no response sent". */
  stapled: boolean;
  /** The `OCSP Response Status:` / `Responder Error:` text, e.g. `successful (0x0)` or `trylater (3)`. */
  responseStatus: string | null;
  certStatus: string | null;
  revocationReason: string | null;
  output: string;
}

/** `openssl s_client -status` against 127.0.0.1:port, forcing one TLS version. */
export async function sClientStatus(port: number, version: TlsVersionName, servername = 'localhost'): Promise<SClientStatus> {
  const { stdout, stderr } = await openssl(
    ['s_client', '-connect', `${LOOPBACK}:${port}`, '-servername', servername, '-status', version === 'TLSv1.3' ? '-tls1_3' : '-tls1_2', '-no_ticket'],
    { input: '', timeoutMs: 10_000 },
  );
  const output = stdout.toString('utf8') + stderr;
  const pick = (re: RegExp): string | null => re.exec(output)?.[1]?.trim() ?? null;
  const noResponse = /OCSP response: no response sent/.test(output);
  const hasResponse = /OCSP Response Data:|Responder Error:/.test(output);
  if (!noResponse && !hasResponse) throw new LabError('LAB_BAD_OUTPUT', `s_client printed no OCSP section:\n${output}`);
  return {
    protocol: pick(/^(?:New|Reused), (TLSv1\.[23]),/m) ?? pick(/Protocol\s*: (TLSv1\.[23])/),
    stapled: hasResponse,
    responseStatus: pick(/OCSP Response Status: (.*)$/m) ?? pick(/Responder Error: (.*)$/m),
    certStatus: pick(/Cert Status: (.*)$/m),
    revocationReason: pick(/Revocation Reason: (\S+)/m),
    output,
  };
}
