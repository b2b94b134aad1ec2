/**
 * LDAP StartTLS (RFC 4511 §4.14): an ExtendedRequest naming 1.3.6.1.4.1.1466.20037, answered by an
 * ExtendedResponse whose resultCode is success (0). BER by hand: the request is written with the
 * project's DER writer, and the response read with a small BER reader of our own, since servers
 * (OpenLDAP) send non-minimal long-form lengths that a DER reader rightly refuses.
 */
import { derSequence, derTlv } from '../x509/der-writer.js';
import { quoteAnswer, StarttlsError } from './errors.js';
import type { PlaintextChannel } from './lines.js';

export const STARTTLS_OID = '1.3.6.1.4.1.1466.20037';
/** The unsolicited Notice of Disconnection (RFC 4511 §4.4.1), sent with messageID 0. */
const NOTICE_OF_DISCONNECTION_OID = '1.3.6.1.4.1.1466.20036';
const MESSAGE_ID = 1;

/** LDAPMessage { messageID 1, [APPLICATION 23] ExtendedRequest { [0] requestName } }. */
export function startTlsRequest(): Uint8Array {
  return derSequence(derTlv(0x02, Uint8Array.of(MESSAGE_ID)), derTlv(0x77, derTlv(0x80, Buffer.from(STARTTLS_OID, 'latin1'))));
}

interface Ber {
  tag: number;
  value: Buffer;
}

/** The TLVs of `bytes`, in order; a malformed or truncated one is a protocol error. */
function berChildren(bytes: Buffer): Ber[] {
  const children: Ber[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const { tag, headerLength, length } = berHeader(bytes.subarray(offset));
    if (length === null || offset + headerLength + length > bytes.length) throw malformed(bytes);
    children.push({ tag, value: bytes.subarray(offset + headerLength, offset + headerLength + length) });
    offset += headerLength + length;
  }
  return children;
}

/** A TLV header: one-octet tags only (LDAP uses no others), definite lengths up to 4 octets. */
function berHeader(bytes: Buffer): { tag: number; headerLength: number; length: number | null } {
  if (bytes.length < 2 || (bytes[0]! & 0x1f) === 0x1f) return { tag: bytes[0] ?? 0, headerLength: 2, length: null };
  const first = bytes[1]!;
  if (first < 0x80) return { tag: bytes[0]!, headerLength: 2, length: first };
  const count = first & 0x7f;
  if (count === 0 || count > 4 || bytes.length < 2 + count) return { tag: bytes[0]!, headerLength: 2 + count, length: null };
  return { tag: bytes[0]!, headerLength: 2 + count, length: bytes.readUIntBE(2, count) };
}

function malformed(bytes: Buffer): StarttlsError {
  return new StarttlsError('ERR_STARTTLS_PROTOCOL', `not an LDAP message: ${quoteAnswer(bytes.subarray(0, 64).toString('hex'))} (hex)`);
}

/** One LDAPMessage off the wire: the header first (at most 6 octets), then exactly its length. */
async function readMessage(channel: PlaintextChannel): Promise<Buffer> {
  const start = await channel.readBytes(2);
  if (start[0] !== 0x30) throw malformed(start);
  const extra = start[1]! >= 0x80 ? start[1]! & 0x7f : 0;
  if (extra > 4) throw malformed(start);
  const header = Buffer.concat([start, await channel.readBytes(extra)]);
  const { length } = berHeader(header);
  if (length === null) throw malformed(header);
  return channel.readBytes(length);
}

const RESULT_NAMES: Record<number, string> = { 1: 'operationsError', 2: 'protocolError', 7: 'authMethodNotSupported', 50: 'insufficientAccessRights', 51: 'busy', 52: 'unavailable', 53: 'unwillingToPerform', 80: 'other' };

export async function ldapStarttls(channel: PlaintextChannel): Promise<void> {
  channel.write(startTlsRequest());
  const body = await readMessage(channel);
  const [id, op] = berChildren(body);
  // ExtendedResponse ::= [APPLICATION 24] SEQUENCE { resultCode ENUMERATED, matchedDN, diagnosticMessage, …,
  // responseName [10] OPTIONAL, … }
  if (!id || id.tag !== 0x02 || !op || op.tag !== 0x78) throw malformed(body);
  const fields = berChildren(op.value);
  const [resultCode, , diagnostic] = fields;
  if (!resultCode || resultCode.tag !== 0x0a || resultCode.value.length < 1 || resultCode.value.length > 4) throw malformed(body);
  const code = resultCode.value.readUIntBE(0, resultCode.value.length);
  const responseName = fields.find((field) => field.tag === 0x8a)?.value.toString('latin1');
  const message = diagnostic && diagnostic.tag === 0x04 ? diagnostic.value.toString('utf8') : '';
  const messageId = id.value.length >= 1 && id.value.length <= 4 ? id.value.readUIntBE(0, id.value.length) : -1;
  if (messageId === 0 && responseName === NOTICE_OF_DISCONNECTION_OID) {
    throw new StarttlsError('ERR_STARTTLS_REFUSED', `the LDAP server disconnected (notice of disconnection, resultCode ${code}): ${quoteAnswer(message)}`);
  }
  if (messageId !== MESSAGE_ID) throw new StarttlsError('ERR_STARTTLS_PROTOCOL', `the LDAP server answered message ${messageId}, not the StartTLS request (${MESSAGE_ID})`);
  if (code !== 0) {
    throw new StarttlsError('ERR_STARTTLS_REFUSED', `the LDAP server refused StartTLS: resultCode ${code} (${RESULT_NAMES[code] ?? 'see RFC 4511 §4.1.9'}): ${quoteAnswer(message)}`);
  }
}
