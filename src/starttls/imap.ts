/**
 * IMAP (RFC 9051 §6.2.1, RFC 3501 §6.2.1): greeting `* OK`, STARTTLS among the capabilities (the
 * greeting's `[CAPABILITY …]` code, else a CAPABILITY command), `a2 STARTTLS` → `a2 OK`. A
 * `* PREAUTH` greeting leaves no place for STARTTLS, and `* BYE` is a refusal.
 */
import { quoteAnswer, StarttlsError } from './errors.js';
import type { PlaintextChannel } from './lines.js';

function capabilitiesIn(text: string): string[] | null {
  const match = /(?:^\* CAPABILITY |\[CAPABILITY )([^\]]*)/i.exec(text);
  return match ? match[1]!.trim().toUpperCase().split(/\s+/) : null;
}

/** Untagged lines up to the tagged completion of `tag`. */
async function readTagged(channel: PlaintextChannel, tag: string): Promise<{ status: string; untagged: string[]; completion: string }> {
  const untagged: string[] = [];
  for (;;) {
    const line = await channel.readLine();
    if (line.startsWith(`${tag} `)) return { status: line.slice(tag.length + 1).split(' ')[0]!.toUpperCase(), untagged, completion: line };
    if (!line.startsWith('* ') && !line.startsWith('+')) throw new StarttlsError('ERR_STARTTLS_PROTOCOL', `not an IMAP response: ${quoteAnswer(line)}`);
    untagged.push(line);
  }
}

export async function imapStarttls(channel: PlaintextChannel): Promise<void> {
  const greeting = await channel.readLine();
  if (!/^\* OK\b/i.test(greeting)) {
    const code = /^\* PREAUTH\b/i.test(greeting) ? 'ERR_STARTTLS_NOT_OFFERED' : /^\* BYE\b/i.test(greeting) ? 'ERR_STARTTLS_REFUSED' : 'ERR_STARTTLS_PROTOCOL';
    throw new StarttlsError(code, `the IMAP server did not greet with "* OK": ${quoteAnswer(greeting)}`);
  }
  let capabilities = capabilitiesIn(greeting);
  let seen = greeting;
  if (!capabilities?.includes('STARTTLS')) {
    channel.write('a1 CAPABILITY\r\n');
    const reply = await readTagged(channel, 'a1');
    seen = [...reply.untagged, reply.completion].join('\n');
    capabilities = reply.untagged.map(capabilitiesIn).find((found) => found !== null) ?? capabilities;
  }
  if (!capabilities?.includes('STARTTLS')) {
    throw new StarttlsError('ERR_STARTTLS_NOT_OFFERED', `the IMAP server does not list STARTTLS among its capabilities: ${quoteAnswer(seen)}`);
  }
  channel.write('a2 STARTTLS\r\n');
  const reply = await readTagged(channel, 'a2');
  if (reply.status !== 'OK') throw new StarttlsError('ERR_STARTTLS_REFUSED', `the IMAP server refused STARTTLS: ${quoteAnswer(reply.completion)}`);
}
