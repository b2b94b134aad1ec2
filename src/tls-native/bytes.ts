/**
 * Reading and writing the TLS presentation language (RFC 8446 §3): big-endian integers and
 * length-prefixed vectors. A `Reader` never reads past its buffer: every overrun is a
 * `TlsDecodeError`, which the engine turns into a failed probe (alert `decode_error`).
 */

import { TlsDecodeError } from './errors.js';

export { TlsDecodeError };

export class Reader {
  private offset = 0;

  constructor(
    private readonly buffer: Buffer,
    /** What is being read, for error messages ("ServerHello"). */
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  private take(length: number): Buffer {
    if (length > this.remaining) throw new TlsDecodeError(`${this.what}: truncated (wanted ${length} bytes, ${this.remaining} left)`);
    const slice = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u16(): number {
    return this.take(2).readUInt16BE(0);
  }

  u24(): number {
    const b = this.take(3);
    return (b[0]! << 16) | (b[1]! << 8) | b[2]!;
  }

  bytes(length: number): Buffer {
    return this.take(length);
  }

  /** A vector with a 1-, 2- or 3-byte length prefix. */
  vector(lengthBytes: 1 | 2 | 3, min = 0): Buffer {
    const length = lengthBytes === 1 ? this.u8() : lengthBytes === 2 ? this.u16() : this.u24();
    if (length < min) throw new TlsDecodeError(`${this.what}: vector of ${length} bytes, at least ${min} required`);
    return this.take(length);
  }

  /** Throws unless everything was read: trailing bytes mean a malformed message. */
  end(): void {
    if (this.remaining !== 0) throw new TlsDecodeError(`${this.what}: ${this.remaining} unexpected trailing bytes`);
  }
}

export function u8(value: number): Buffer {
  return Buffer.from([value & 0xff]);
}

export function u16(value: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(value, 0);
  return b;
}

export function u24(value: number): Buffer {
  return Buffer.from([(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff]);
}

/** `data` prefixed with its length in 1, 2 or 3 bytes. */
export function vector(lengthBytes: 1 | 2 | 3, ...data: Buffer[]): Buffer {
  const body = data.length === 1 ? data[0]! : Buffer.concat(data);
  const prefix = lengthBytes === 1 ? u8(body.length) : lengthBytes === 2 ? u16(body.length) : u24(body.length);
  return Buffer.concat([prefix, body]);
}

/** A handshake message: type, 24-bit length, body (RFC 8446 §4). */
export function handshakeMessage(type: number, body: Buffer): Buffer {
  return Buffer.concat([u8(type), u24(body.length), body]);
}
