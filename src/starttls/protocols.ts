/**
 * The application protocols whose STARTTLS-style upgrade the probe can speak (module key
 * `starttls`). Kept apart from the dialogues so the config layer can name them without importing
 * any socket code.
 */
export const STARTTLS_PROTOCOLS = ['smtp', 'imap', 'pop3', 'ftp', 'ldap', 'xmpp', 'postgres', 'mysql'] as const;

export type StarttlsProtocol = (typeof STARTTLS_PROTOCOLS)[number];

export function isStarttlsProtocol(value: string): value is StarttlsProtocol {
  return (STARTTLS_PROTOCOLS as readonly string[]).includes(value);
}
