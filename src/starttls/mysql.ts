/**
 * MySQL and MariaDB (client/server protocol, "SSL handshake"): read the server's initial handshake
 * packet (protocol version 10), which must carry CLIENT_SSL in its capability flags, then send the
 * SSLRequest packet (sequence id 1, 32-byte payload: capability flags, max packet size, character
 * set, 23 zero bytes) and start TLS. A packet is a 3-byte little-endian length and a sequence id.
 */
import { quoteAnswer, StarttlsError } from './errors.js';
import type { PlaintextChannel } from './lines.js';

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
/** utf8_general_ci, which every server knows. */
const CHARSET_UTF8 = 33;
const MAX_PACKET = 16 * 1024 * 1024;

export function sslRequestPacket(sequenceId: number): Buffer {
  const packet = Buffer.alloc(4 + 32);
  packet.writeUIntLE(32, 0, 3);
  packet[3] = sequenceId & 0xff;
  packet.writeUInt32LE(CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION, 4);
  packet.writeUInt32LE(MAX_PACKET, 8);
  packet[12] = CHARSET_UTF8;
  // 23 reserved zero bytes follow (Buffer.alloc).
  return packet;
}

function protocolError(what: string): StarttlsError {
  return new StarttlsError('ERR_STARTTLS_PROTOCOL', `not a MySQL handshake: ${what}`);
}

export async function mysqlStarttls(channel: PlaintextChannel): Promise<void> {
  const header = await channel.readBytes(4);
  const length = header.readUIntLE(0, 3);
  const payload = await channel.readBytes(length);
  if (payload[0] === 0xff) {
    // ERR_Packet: 0xff, error code (2), then "#" and a 5-character SQL state (protocol 4.1), then the message.
    const code = payload.length >= 3 ? payload.readUInt16LE(1) : 0;
    const message = payload.subarray(payload[3] === 0x23 ? 9 : 3).toString('utf8');
    throw new StarttlsError('ERR_STARTTLS_REFUSED', `the MySQL server refused the connection: error ${code}: ${quoteAnswer(message)}`);
  }
  if (payload[0] !== 10) throw protocolError(`protocol version ${payload[0] ?? 'missing'}, not 10`);
  const versionEnd = payload.indexOf(0, 1);
  // version, NUL, connection id (4), auth-plugin-data part 1 (8), filler (1), capability flags (lower 2).
  if (versionEnd < 0 || payload.length < versionEnd + 1 + 4 + 8 + 1 + 2) throw protocolError(`a ${payload.length}-byte handshake packet is too short`);
  const version = payload.toString('latin1', 1, versionEnd);
  const capabilities = payload.readUInt16LE(versionEnd + 1 + 4 + 8 + 1);
  if ((capabilities & CLIENT_SSL) === 0) {
    throw new StarttlsError('ERR_STARTTLS_NOT_OFFERED', `the MySQL server ${quoteAnswer(version)} does not offer SSL (no CLIENT_SSL in capability flags 0x${capabilities.toString(16)})`);
  }
  channel.write(sslRequestPacket(header[3]! + 1));
}
