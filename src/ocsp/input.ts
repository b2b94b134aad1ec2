/**
 * Turns what operators have at hand into DER: an OCSP response as raw DER, as PEM
 * (`-----BEGIN OCSP RESPONSE-----`, as some tools write it) or as bare base64 (what HAProxy's
 * `set ssl ocsp-response` takes and what people paste); certificates as one DER certificate or a
 * PEM bundle (chain files, CA bundles, combined cert+key files whose key blocks are skipped).
 * Errors are the same typed errors the parsers throw, with messages that say what was found.
 */
import { readCertificateInfo, MAX_CERTIFICATE_BYTES } from '../x509/certificate.js';
import { DerError, TAG, readTlv } from '../x509/der.js';
import { CertificateParseError, OcspParseError } from './errors.js';
import { MAX_OCSP_RESPONSE_BYTES } from './parse.js';

/** Text inputs are base64 (4/3 of the DER) plus armour and line breaks. */
const MAX_OCSP_TEXT_BYTES = MAX_OCSP_RESPONSE_BYTES * 2;
/** Generous for system CA bundles (~200 KiB for ~140 roots). */
const MAX_CERTIFICATE_INPUT_BYTES = 16 * 1024 * 1024;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/\-_]+={0,2}$/;

function decodeBase64(text: string): Uint8Array | null {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || !BASE64_BODY.test(compact)) return null;
  const normal = compact.replace(/-/g, '+').replace(/_/g, '/');
  if (normal.replace(/=+$/, '').length % 4 === 1) return null;
  return new Uint8Array(Buffer.from(normal, 'base64'));
}

function asText(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/**
 * A DER file saved by a tool or an editor may end in a newline or NUL padding; OpenSSL reads the
 * first DER object and ignores the rest, so for files we drop such padding. Anything else after
 * the response is left in place for the parser to reject (a staple is held to strict DER).
 */
function withoutTrailingPadding(bytes: Uint8Array): Uint8Array {
  let outerEnd: number;
  try {
    outerEnd = readTlv(bytes, 0, bytes.length).end;
  } catch {
    return bytes; // the parser will say what is wrong with it
  }
  for (let i = outerEnd; i < bytes.length; i++) {
    if (![0x00, 0x09, 0x0a, 0x0d, 0x20].includes(bytes[i]!)) return bytes;
  }
  return bytes.subarray(0, outerEnd);
}

/** DER, PEM or base64 text → DER bytes of an OCSP response (not yet parsed). Throws {@link OcspParseError}. */
export function decodeOcspResponseInput(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) throw new OcspParseError('ERR_OCSP_EMPTY', 'OCSP response input is empty');
  if (bytes[0] === TAG.SEQUENCE) {
    if (bytes.length > MAX_OCSP_RESPONSE_BYTES) {
      throw new OcspParseError('ERR_OCSP_TOO_LARGE', `OCSP response is ${bytes.length} bytes, more than the ${MAX_OCSP_RESPONSE_BYTES}-byte limit`);
    }
    return withoutTrailingPadding(bytes);
  }
  if (bytes.length > MAX_OCSP_TEXT_BYTES) {
    throw new OcspParseError('ERR_OCSP_TOO_LARGE', `OCSP response input is ${bytes.length} bytes, more than the ${MAX_OCSP_TEXT_BYTES}-byte limit for text`);
  }
  const text = asText(bytes).trim();
  if (text.length === 0) throw new OcspParseError('ERR_OCSP_EMPTY', 'OCSP response input is only whitespace');
  let body = text;
  if (text.includes('-----BEGIN ')) {
    const blocks = [...text.matchAll(PEM_BLOCK)];
    const block = blocks.find((b) => b[1] === 'OCSP RESPONSE');
    if (!block) {
      const labels = blocks.map((b) => b[1]).join(', ') || 'an incomplete PEM block';
      throw new OcspParseError('ERR_OCSP_MALFORMED', `expected a PEM "OCSP RESPONSE" block, found ${labels}`);
    }
    body = block[2]!;
  }
  const der = decodeBase64(body);
  if (!der) throw new OcspParseError('ERR_OCSP_MALFORMED', 'OCSP response input is neither DER, PEM nor base64');
  if (der.length === 0) throw new OcspParseError('ERR_OCSP_EMPTY', 'OCSP response input decodes to 0 bytes');
  if (der.length > MAX_OCSP_RESPONSE_BYTES) {
    throw new OcspParseError('ERR_OCSP_TOO_LARGE', `OCSP response is ${der.length} bytes, more than the ${MAX_OCSP_RESPONSE_BYTES}-byte limit`);
  }
  return der;
}

/**
 * One DER certificate, several concatenated DER certificates, or PEM text with one or more
 * `CERTIFICATE` blocks (other blocks such as keys are skipped) → list of DER certificates, in
 * input order. Each is checked to be a readable certificate. Throws {@link CertificateParseError}.
 */
export function decodeCertificatesInput(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length === 0) throw new CertificateParseError('ERR_CERT_MALFORMED', 'certificate input is empty');
  if (bytes.length > MAX_CERTIFICATE_INPUT_BYTES) {
    throw new CertificateParseError('ERR_CERT_TOO_LARGE', `certificate input is ${bytes.length} bytes, more than the ${MAX_CERTIFICATE_INPUT_BYTES}-byte limit`);
  }
  const certs: Uint8Array[] = [];
  if (bytes[0] === TAG.SEQUENCE) {
    let offset = 0;
    while (offset < bytes.length) {
      let end: number;
      try {
        end = readTlv(bytes, offset, bytes.length).end;
      } catch (error) {
        const message = error instanceof DerError ? error.message : String(error);
        throw new CertificateParseError('ERR_CERT_MALFORMED', `malformed DER certificate input: ${message}`, { cause: error });
      }
      certs.push(checked(bytes.slice(offset, end), certs.length));
      offset = end;
    }
    return certs;
  }
  const text = asText(bytes);
  let sawBlock = false;
  for (const block of text.matchAll(PEM_BLOCK)) {
    sawBlock = true;
    const label = block[1]!;
    if (label !== 'CERTIFICATE' && label !== 'TRUSTED CERTIFICATE' && label !== 'X509 CERTIFICATE') continue;
    const der = decodeBase64(block[2]!);
    if (!der) throw new CertificateParseError('ERR_CERT_MALFORMED', `PEM ${label} block ${certs.length + 1} is not valid base64`);
    // OpenSSL's TRUSTED CERTIFICATE appends trust settings after the certificate: keep the certificate.
    certs.push(checked(label === 'TRUSTED CERTIFICATE' ? firstElement(der) : der, certs.length));
  }
  if (certs.length === 0) {
    throw new CertificateParseError(
      'ERR_CERT_MALFORMED',
      sawBlock ? 'no CERTIFICATE block in the PEM input' : 'certificate input is neither DER nor PEM',
    );
  }
  return certs;
}

function firstElement(der: Uint8Array): Uint8Array {
  try {
    return der.subarray(0, readTlv(der, 0, der.length).end);
  } catch {
    return der;
  }
}

function checked(der: Uint8Array, index: number): Uint8Array {
  if (der.length > MAX_CERTIFICATE_BYTES) {
    throw new CertificateParseError('ERR_CERT_TOO_LARGE', `certificate ${index + 1} is ${der.length} bytes, more than the ${MAX_CERTIFICATE_BYTES}-byte limit`);
  }
  try {
    readCertificateInfo(der);
  } catch (error) {
    if (error instanceof CertificateParseError) {
      throw new CertificateParseError(error.code, `certificate ${index + 1}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  return der;
}
