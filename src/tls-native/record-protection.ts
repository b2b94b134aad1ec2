/**
 * AEAD record protection with node:crypto's ciphers: TLS 1.3 (RFC 8446 §5.2–5.3: per-record nonce
 * from the IV and the sequence number, the record header as additional data, the real content type
 * inside) and TLS 1.2 (RFC 5288 AES-GCM with an explicit nonce, RFC 7905 ChaCha20-Poly1305).
 */
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import type { CipherSuite } from './constants.js';
import { ContentType, ProtocolVersion } from './constants.js';
import { TlsAlertError } from './errors.js';

const TAG_LENGTH = 16;

type AeadName = CipherSuite['cipher'];

function seal(name: AeadName, key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv(name as CipherGCMTypes, key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]);
}

function open(name: AeadName, key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < TAG_LENGTH) throw new TlsAlertError('bad_record_mac', 'an encrypted record shorter than its tag');
  const body = sealed.subarray(0, sealed.length - TAG_LENGTH);
  const decipher = createDecipheriv(name as CipherGCMTypes, key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  decipher.setAAD(aad, { plaintextLength: body.length });
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new TlsAlertError('bad_record_mac', 'a record failed authentication (wrong keys or a corrupted record)');
  }
}

/** The IV XORed with the 64-bit sequence number, right-aligned (RFC 8446 §5.3, RFC 7905 §2). */
function xorNonce(iv: Buffer, sequence: bigint): Buffer {
  const nonce = Buffer.from(iv);
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(sequence, 0);
  for (let i = 0; i < 8; i++) nonce[nonce.length - 8 + i]! ^= seq[i]!;
  return nonce;
}

function recordHeader(type: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(5);
  header[0] = type;
  header.writeUInt16BE(ProtocolVersion.tls12, 1);
  header.writeUInt16BE(length, 3);
  return header;
}

/** One direction's protection state: its keys and the sequence number of the next record. */
export interface RecordProtection {
  /** A whole record (header included) carrying `plaintext` of content `type`. */
  seal(type: number, plaintext: Buffer): Buffer;
  /** The content type and plaintext of a received protected record. */
  open(type: number, fragment: Buffer): { type: number; plaintext: Buffer };
}

/** RFC 8446 §5.2; the largest inner plaintext is 2^14 + 1 bytes. */
export function tls13Protection(name: AeadName, key: Buffer, iv: Buffer): RecordProtection {
  let sequence = 0n;
  return {
    seal(type, plaintext) {
      const inner = Buffer.concat([plaintext, Buffer.from([type])]);
      const header = recordHeader(ContentType.applicationData, inner.length + TAG_LENGTH);
      const sealed = seal(name, key, xorNonce(iv, sequence++), header, inner);
      return Buffer.concat([header, sealed]);
    },
    open(type, fragment) {
      if (type !== ContentType.applicationData) throw new TlsAlertError('unexpected_message', `an unprotected record of type ${type} after the keys changed`);
      const header = recordHeader(type, fragment.length);
      const inner = open(name, key, xorNonce(iv, sequence++), header, fragment);
      // Strip the zero padding; the last non-zero byte is the real content type.
      let end = inner.length - 1;
      while (end >= 0 && inner[end] === 0) end--;
      if (end < 0) throw new TlsAlertError('unexpected_message', 'a protected record with no content type');
      if (end > 16_384) throw new TlsAlertError('record_overflow', 'a protected record with more than 2^14 bytes of content');
      return { type: inner[end]!, plaintext: inner.subarray(0, end) };
    },
  };
}

/** TLS 1.2 AEAD (RFC 5246 §6.2.3.3): additional data = seq_num ‖ type ‖ version ‖ length. */
export function tls12Protection(name: AeadName, key: Buffer, iv: Buffer): RecordProtection {
  let sequence = 0n;
  const explicitNonce = name !== 'chacha20-poly1305';
  const additionalData = (seq: bigint, type: number, length: number): Buffer => {
    const aad = Buffer.allocUnsafe(13);
    aad.writeBigUInt64BE(seq, 0);
    aad[8] = type;
    aad.writeUInt16BE(ProtocolVersion.tls12, 9);
    aad.writeUInt16BE(length, 11);
    return aad;
  };
  return {
    seal(type, plaintext) {
      const seq = sequence++;
      const aad = additionalData(seq, type, plaintext.length);
      let fragment: Buffer;
      if (explicitNonce) {
        // RFC 5288 §3: nonce = salt (the 4-byte IV) ‖ explicit part, here the sequence number.
        const explicit = Buffer.alloc(8);
        explicit.writeBigUInt64BE(seq, 0);
        fragment = Buffer.concat([explicit, seal(name, key, Buffer.concat([iv, explicit]), aad, plaintext)]);
      } else {
        fragment = seal(name, key, xorNonce(iv, seq), aad, plaintext);
      }
      return Buffer.concat([recordHeader(type, fragment.length), fragment]);
    },
    open(type, fragment) {
      const seq = sequence++;
      if (explicitNonce) {
        if (fragment.length < 8 + TAG_LENGTH) throw new TlsAlertError('bad_record_mac', 'an encrypted record shorter than its nonce and tag');
        const nonce = Buffer.concat([iv, fragment.subarray(0, 8)]);
        const sealed = fragment.subarray(8);
        return { type, plaintext: open(name, key, nonce, additionalData(seq, type, sealed.length - TAG_LENGTH), sealed) };
      }
      return { type, plaintext: open(name, key, xorNonce(iv, seq), additionalData(seq, type, fragment.length - TAG_LENGTH), fragment) };
    },
  };
}
