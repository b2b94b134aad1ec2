/**
 * SMTP (RFC 3207; also message submission on 587, RFC 6409): greeting 220, EHLO, STARTTLS listed
 * among the EHLO keywords, STARTTLS → 220. Replies may span lines (`250-…` continues, `250 …`
 * ends, RFC 5321 §4.2.1).
 */
import { quoteAnswer, StarttlsError } from './errors.js';
import type { PlaintextChannel } from './lines.js';

/** The name the probe introduces itself with: a syntactically valid domain that names no host (RFC 2606). */
export const EHLO_NAME = 'ocsp-stapling-exporter.invalid';

export interface SmtpReply {
  code: number;
  lines: string[];
}

/** One reply: every line `ddd-text` but the last, `ddd text` (or bare `ddd`), with the same code. */
export async function readSmtpReply(channel: PlaintextChannel): Promise<SmtpReply> {
  const lines: string[] = [];
  for (;;) {
    const line = await channel.readLine();
    const match = /^(\d{3})([ -]|$)/.exec(line);
    if (!match || (lines.length > 0 && Number(match[1]) !== Number(lines[0]!.slice(0, 3)))) {
      throw new StarttlsError('ERR_STARTTLS_PROTOCOL', `not an SMTP reply: ${quoteAnswer([...lines, line].join('\n'))}`);
    }
    lines.push(line);
    if (match[2] !== '-') return { code: Number(match[1]), lines };
  }
}

export async function smtpStarttls(channel: PlaintextChannel): Promise<void> {
  const greeting = await readSmtpReply(channel);
  if (greeting.code !== 220) throw refused('greeting', greeting);
  channel.write(`EHLO ${EHLO_NAME}\r\n`);
  const ehlo = await readSmtpReply(channel);
  if (ehlo.code !== 250) throw refused('EHLO', ehlo);
  // The first line is the server's name; each further line starts with a keyword (RFC 5321 §4.1.1.1).
  const offered = ehlo.lines.slice(1).some((line) => /^STARTTLS$/i.test(line.slice(4).trim().split(/\s+/)[0] ?? ''));
  if (!offered) {
    throw new StarttlsError('ERR_STARTTLS_NOT_OFFERED', `the SMTP server does not offer STARTTLS; EHLO answered ${quoteAnswer(ehlo.lines.join('\n'))}`);
  }
  channel.write('STARTTLS\r\n');
  const answer = await readSmtpReply(channel);
  if (answer.code !== 220) throw refused('STARTTLS', answer);
}

function refused(step: string, reply: SmtpReply): StarttlsError {
  return new StarttlsError('ERR_STARTTLS_REFUSED', `the SMTP server refused at ${step}: ${quoteAnswer(reply.lines.join('\n'))}`);
}
