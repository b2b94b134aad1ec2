/**
 * Turns what operators have at hand into the DER of an OCSP response: raw DER, PEM
 * (`-----BEGIN OCSP RESPONSE-----`, as some tools write it) or bare base64 (what HAProxy's
 * `set ssl ocsp-response` takes and what people paste). Errors are the parser's
 * {@link OcspParseError}, with messages that say what was found. (Certificates: x509/input.ts.)
 */
import { TAG, readTlv } from '../x509/der.js';
import { bytesAsText, decodeBase64, pemBlocks } from '../x509/pem.js';
import { OcspParseError } from './errors.js';
import { MAX_OCSP_RESPONSE_BYTES } from './parse.js';

/** Text inputs are base64 (4/3 of the DER) plus armour and line breaks. */
const MAX_OCSP_TEXT_BYTES = MAX_OCSP_RESPONSE_BYTES * 2;


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
  const text = bytesAsText(bytes).trim();
  if (text.length === 0) throw new OcspParseError('ERR_OCSP_EMPTY', 'OCSP response input is only whitespace');
  let body = text;
  if (text.includes('-----BEGIN ')) {
    const blocks = pemBlocks(text);
    const block = blocks.find((b) => b.label === 'OCSP RESPONSE');
    if (!block) {
      const labels = blocks.map((b) => b.label).join(', ') || 'an incomplete PEM block';
      throw new OcspParseError('ERR_OCSP_MALFORMED', `expected a PEM "OCSP RESPONSE" block, found ${labels}`);
    }
    body = block.body;
  }
  const der = decodeBase64(body);
  if (!der) throw new OcspParseError('ERR_OCSP_MALFORMED', 'OCSP response input is neither DER, PEM nor base64');
  if (der.length === 0) throw new OcspParseError('ERR_OCSP_EMPTY', 'OCSP response input decodes to 0 bytes');
  if (der.length > MAX_OCSP_RESPONSE_BYTES) {
    throw new OcspParseError('ERR_OCSP_TOO_LARGE', `OCSP response is ${der.length} bytes, more than the ${MAX_OCSP_RESPONSE_BYTES}-byte limit`);
  }
  return der;
}
