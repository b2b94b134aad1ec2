/**
 * PEM armour (RFC 7468) and the base64 inside it, read in one place: certificate bundles, chain
 * files, combined certificate+key files (whose key blocks are skipped, never decoded) and the
 * `OCSP RESPONSE` blocks some tools write.
 */

/** `-----BEGIN LABEL-----` … `-----END LABEL-----`; group 1 the label, group 2 the body. */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/\-_]+={0,2}$/;

/** Labels OpenSSL writes certificates under. */
export const CERTIFICATE_LABELS: readonly string[] = ['CERTIFICATE', 'TRUSTED CERTIFICATE', 'X509 CERTIFICATE'];

export interface PemBlock {
  label: string;
  /** The base64 body, line breaks included. */
  body: string;
  /** The whole block, armour included, as it stands in the text. */
  text: string;
}

/** Every complete PEM block of `text`, in order. */
export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, body: m[2]!, text: m[0] }));
}

/** The `CERTIFICATE` blocks of `text` (armour included), in order; keys and other blocks are skipped. */
export function pemCertificateBlocks(text: string): string[] {
  return pemBlocks(text)
    .filter((block) => block.label === 'CERTIFICATE')
    .map((block) => block.text);
}

/** Standard or URL-safe base64, whitespace ignored → bytes; null when it is not base64. */
export function decodeBase64(text: string): Uint8Array | null {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || !BASE64_BODY.test(compact)) return null;
  const normal = compact.replace(/-/g, '+').replace(/_/g, '/');
  if (normal.replace(/=+$/, '').length % 4 === 1) return null;
  return new Uint8Array(Buffer.from(normal, 'base64'));
}

/** Bytes as latin1 text, one character per byte: PEM is ASCII, anything else stays visible. */
export function bytesAsText(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}
