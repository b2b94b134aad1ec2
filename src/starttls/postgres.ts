/**
 * PostgreSQL (protocol 3, "SSL Session Encryption"): SSLRequest = int32 length 8, int32 80877103;
 * the server answers one byte, `S` to go on with TLS, `N` when it will not; an old server may
 * send an ErrorResponse (`E`) instead.
 */
import { quoteAnswer, StarttlsError } from './errors.js';
import type { PlaintextChannel } from './lines.js';

export const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
/** An ErrorResponse longer than this is not one a server sends before authentication. */
const MAX_ERROR_BYTES = 8 * 1024;

export async function postgresStarttls(channel: PlaintextChannel): Promise<void> {
  channel.write(SSL_REQUEST);
  const [answer] = await channel.readBytes(1);
  if (answer === 0x53 /* S */) return;
  if (answer === 0x4e /* N */) throw new StarttlsError('ERR_STARTTLS_NOT_OFFERED', 'the PostgreSQL server does not accept SSL (answered "N" to SSLRequest)');
  if (answer === 0x45 /* E */) {
    const length = (await channel.readBytes(4)).readUInt32BE(0);
    if (length < 4 || length > MAX_ERROR_BYTES) throw new StarttlsError('ERR_STARTTLS_PROTOCOL', `the PostgreSQL server answered an ErrorResponse of ${length} bytes`);
    const fields = (await channel.readBytes(length - 4)).toString('utf8').split('\0');
    const message = fields.find((field) => field.startsWith('M'))?.slice(1) ?? fields.join(' ');
    throw new StarttlsError('ERR_STARTTLS_REFUSED', `the PostgreSQL server refused SSLRequest: ${quoteAnswer(message)}`);
  }
  throw new StarttlsError('ERR_STARTTLS_PROTOCOL', `not a PostgreSQL answer to SSLRequest: byte 0x${answer!.toString(16).padStart(2, '0')}`);
}
