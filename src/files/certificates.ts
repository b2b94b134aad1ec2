/**
 * The certificates of a certificate file or HAProxy bundle, read without ever looking at the rest:
 * the bytes are scanned for PEM armour without turning the file into text, each `CERTIFICATE`
 * block is decoded on its own, and everything else (a private key) is skipped unread. Shared by
 * staple_files (src/sources/staple-files.ts) and responder_checks (the loader and src/sources/).
 */
import { decodeCertificatesInput } from '../x509/input.js';
import { CERTIFICATE_LABELS } from '../x509/pem.js';
import { messageOf } from '../util/errors.js';
import type { FileProblem } from './read.js';

/** Leaf plus chain (and a root) is 2–5; more than this is not a certificate file someone meant. */
export const MAX_BUNDLE_CERTIFICATES = 16;

const BEGIN = Buffer.from('-----BEGIN ');
const DASHES = Buffer.from('-----');

export type CertificatesResult = { ok: true; certificates: Uint8Array[] } | { ok: false; problem: FileProblem };

/**
 * The certificates of a certificate file or bundle (PEM, or DER as one or more concatenated
 * certificates), in order. Bounded at {@link MAX_BUNDLE_CERTIFICATES}. Messages name the file and
 * the block number, never content.
 */
export function certificatesOf(bytes: Uint8Array, path: string): CertificatesResult {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const bad = (message: string): CertificatesResult => ({ ok: false, problem: { reason: 'bad_certificate', message: `${path}: ${message}` } });
  const tooMany = (): CertificatesResult => ({
    ok: false,
    problem: { reason: 'too_many_certificates', message: `${path}: more than ${MAX_BUNDLE_CERTIFICATES} certificates (a certificate file holds the leaf and its chain)` },
  });
  if (buffer.length === 0) return bad('empty');
  try {
    if (buffer[0] === 0x30) {
      const certificates = decodeCertificatesInput(buffer);
      return certificates.length > MAX_BUNDLE_CERTIFICATES ? tooMany() : { ok: true, certificates };
    }
    const certificates: Uint8Array[] = [];
    for (let at = buffer.indexOf(BEGIN); at !== -1; ) {
      const labelStart = at + BEGIN.length;
      const labelEnd = buffer.indexOf(DASHES, labelStart);
      if (labelEnd === -1 || labelEnd - labelStart > 40) break;
      const label = buffer.toString('latin1', labelStart, labelEnd);
      const end = Buffer.from(`-----END ${label}-----`, 'latin1');
      const endAt = buffer.indexOf(end, labelEnd);
      if (endAt === -1) break;
      const blockEnd = endAt + end.length;
      if (CERTIFICATE_LABELS.includes(label)) {
        if (certificates.length === MAX_BUNDLE_CERTIFICATES) return tooMany();
        const [der] = decodeCertificatesInput(buffer.subarray(at, blockEnd));
        certificates.push(der!);
      }
      at = buffer.indexOf(BEGIN, blockEnd);
    }
    return certificates.length > 0 ? { ok: true, certificates } : bad('no CERTIFICATE block');
  } catch (error) {
    return bad(messageOf(error));
  }
}
