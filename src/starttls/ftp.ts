/**
 * FTP (RFC 4217 §4): greeting 220, `AUTH TLS` → 234. A multi-line reply starts `ddd-` and ends at
 * the first line `ddd ` with the same code; lines between may say anything (RFC 959 §4.2).
 */
import { quoteAnswer, StarttlsError } from './errors.js';
import type { PlaintextChannel } from './lines.js';

interface FtpReply {
  code: number;
  lines: string[];
}

async function readFtpReply(channel: PlaintextChannel): Promise<FtpReply> {
  const first = await channel.readLine();
  const match = /^(\d{3})([ -]|$)/.exec(first);
  if (!match) throw new StarttlsError('ERR_STARTTLS_PROTOCOL', `not an FTP reply: ${quoteAnswer(first)}`);
  const lines = [first];
  if (match[2] === '-') {
    for (;;) {
      const line = await channel.readLine();
      lines.push(line);
      if (line.startsWith(`${match[1]} `) || line === match[1]) break;
    }
  }
  return { code: Number(match[1]), lines };
}

export async function ftpStarttls(channel: PlaintextChannel): Promise<void> {
  let greeting = await readFtpReply(channel);
  // 120: "service ready in nnn minutes", followed by the 220 (RFC 959 §5.4).
  if (greeting.code === 120) greeting = await readFtpReply(channel);
  if (greeting.code !== 220) throw refused('greeting', greeting);
  channel.write('AUTH TLS\r\n');
  const answer = await readFtpReply(channel);
  if (answer.code !== 234) throw refused('AUTH TLS', answer);
}

function refused(step: string, reply: FtpReply): StarttlsError {
  return new StarttlsError('ERR_STARTTLS_REFUSED', `the FTP server refused at ${step}: ${quoteAnswer(reply.lines.join('\n'))}`);
}
