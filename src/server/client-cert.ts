/**
 * The client-certificate policies of the web config that the TLS handshake cannot enforce by
 * itself: RequireAnyClientCert (a certificate, verified or not), VerifyClientCertIfGiven (none, or
 * a verified one) and `client_allowed_sans` (the certificate must carry one of the listed subject
 * alternative names, RFC 5280 §4.2.1.6). OpenSSL through Node cannot require an unverified
 * certificate, so these are judged per request on the TLS socket.
 */
import type { TLSSocket } from 'node:tls';
import type { WebTlsConfig } from './webconfig.js';

/** `DNS:a, IP Address:1.2.3.4, URI:spiffe://x` (Node's `subjectaltname`) → the values. */
function subjectAltNameValues(text: string | undefined): string[] {
  if (!text) return [];
  const values: string[] = [];
  // Node quotes values containing separators as JSON strings.
  for (const m of text.matchAll(/(?:^|, )(?:DNS|IP Address|URI|email):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[1] ?? '';
    values.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return values;
}

function sameSan(presented: string, allowed: string): boolean {
  if (presented === allowed) return true;
  // IPv6 may be printed expanded or compressed; compare canonical forms.
  if (presented.includes(':') && allowed.includes(':') && !presented.includes('/') && !allowed.includes('/')) {
    try {
      return new URL(`http://[${presented}]`).hostname === new URL(`http://[${allowed}]`).hostname;
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Why the client certificate on `socket` does not satisfy the policy, or null when it does.
 * RequireAndVerifyClientCert is enforced by the handshake already; checked again here anyway.
 */
export function clientCertificateRefusal(socket: TLSSocket, policy: WebTlsConfig): string | null {
  const type = policy.clientAuthType;
  if (type === 'NoClientCert' || type === 'RequestClientCert') return null;
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  if (!presented) return type === 'VerifyClientCertIfGiven' ? null : 'a client certificate is required';
  if ((type === 'VerifyClientCertIfGiven' || type === 'RequireAndVerifyClientCert') && !socket.authorized) {
    return `client certificate not accepted: ${String(socket.authorizationError ?? 'not verified')}`;
  }
  if (policy.clientAllowedSans) {
    const sans = subjectAltNameValues(cert.subjectaltname);
    if (!sans.some((san) => policy.clientAllowedSans!.some((allowed) => sameSan(san, allowed)))) {
      return 'client certificate has none of the SANs in client_allowed_sans';
    }
  }
  return null;
}
