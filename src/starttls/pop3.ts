/**
 * POP3 (RFC 2595 §4, capabilities RFC 2449): greeting `+OK`, CAPA (when the server knows it, STLS
 * must be listed), `STLS` → `+OK`.
 */
import { quoteAnswer, StarttlsError } from './errors.js';
import type { PlaintextChannel } from './lines.js';

export async function pop3Starttls(channel: PlaintextChannel): Promise<void> {
  const greeting = await channel.readLine();
  if (!greeting.startsWith('+OK')) throw new StarttlsError('ERR_STARTTLS_REFUSED', `the POP3 server did not greet with +OK: ${quoteAnswer(greeting)}`);
  channel.write('CAPA\r\n');
  const capa = await channel.readLine();
  if (capa.startsWith('+OK')) {
    // A multi-line response, ended by a line holding a single "." (RFC 1939 §3).
    const capabilities: string[] = [];
    for (let line = await channel.readLine(); line !== '.'; line = await channel.readLine()) capabilities.push(line);
    if (!capabilities.some((line) => /^STLS\b/i.test(line))) {
      throw new StarttlsError('ERR_STARTTLS_NOT_OFFERED', `the POP3 server does not list STLS among its capabilities: ${quoteAnswer(capabilities.join('\n'))}`);
    }
  } else if (!capa.startsWith('-ERR')) {
    throw new StarttlsError('ERR_STARTTLS_PROTOCOL', `not a POP3 response to CAPA: ${quoteAnswer(capa)}`);
  }
  // -ERR: a server without CAPA (RFC 1939 only) may still know STLS; ask.
  channel.write('STLS\r\n');
  const answer = await channel.readLine();
  if (!answer.startsWith('+OK')) throw new StarttlsError('ERR_STARTTLS_REFUSED', `the POP3 server refused STLS: ${quoteAnswer(answer)}`);
}
