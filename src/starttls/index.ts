/**
 * STARTTLS: the plaintext dialogue that turns a fresh TCP connection into one where the next
 * bytes are a TLS ClientHello, for each protocol of module key `starttls`. Pure of metrics and of
 * TLS: the probe (src/probe/tls.ts) connects, calls {@link negotiateStarttls}, then runs its usual
 * handshake over the same socket. Every read is bounded (lines.ts); a refusal, a missing
 * capability or anything unexpected is a {@link StarttlsError} quoting the server's answer.
 */
import type * as net from 'node:net';
import { ftpStarttls } from './ftp.js';
import { imapStarttls } from './imap.js';
import { ldapStarttls } from './ldap.js';
import { DEFAULT_LIMITS, PlaintextChannel, type DialogueLimits } from './lines.js';
import { mysqlStarttls } from './mysql.js';
import { pop3Starttls } from './pop3.js';
import { postgresStarttls } from './postgres.js';
import type { StarttlsProtocol } from './protocols.js';
import { smtpStarttls } from './smtp.js';
import { xmppStarttls } from './xmpp.js';

export { STARTTLS_PROTOCOLS, isStarttlsProtocol, type StarttlsProtocol } from './protocols.js';
export { StarttlsError, quoteAnswer, type StarttlsErrorCode } from './errors.js';
export { DEFAULT_LIMITS, type DialogueLimits } from './lines.js';

export interface StarttlsOptions {
  /** The server's name: XMPP's stream `to` (the module's server_name, else the target's host). */
  serverName: string;
  /** Unix ms by which the dialogue must be over. */
  deadlineMs: number;
  limits?: DialogueLimits;
}

const NAMES: Record<StarttlsProtocol, string> = {
  smtp: 'SMTP',
  imap: 'IMAP',
  pop3: 'POP3',
  ftp: 'FTP',
  ldap: 'LDAP',
  xmpp: 'XMPP',
  postgres: 'PostgreSQL',
  mysql: 'MySQL',
};

/**
 * Runs `protocol`'s upgrade dialogue on a connected socket. Resolves once the server has agreed
 * to TLS and said nothing more, with the socket paused and free of our listeners; rejects with a
 * StarttlsError otherwise (the caller destroys the socket).
 */
export async function negotiateStarttls(socket: net.Socket, protocol: StarttlsProtocol, options: StarttlsOptions): Promise<void> {
  const channel = new PlaintextChannel(socket, NAMES[protocol], options.deadlineMs, options.limits ?? DEFAULT_LIMITS);
  try {
    await dialogue(channel, protocol, options.serverName);
  } catch (error) {
    channel.release(false);
    throw error;
  }
  channel.release(true);
}

function dialogue(channel: PlaintextChannel, protocol: StarttlsProtocol, serverName: string): Promise<void> {
  switch (protocol) {
    case 'smtp':
      return smtpStarttls(channel);
    case 'imap':
      return imapStarttls(channel);
    case 'pop3':
      return pop3Starttls(channel);
    case 'ftp':
      return ftpStarttls(channel);
    case 'ldap':
      return ldapStarttls(channel);
    case 'xmpp':
      return xmppStarttls(channel, serverName);
    case 'postgres':
      return postgresStarttls(channel);
    case 'mysql':
      return mysqlStarttls(channel);
  }
}
