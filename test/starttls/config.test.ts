/** Module key `starttls` and `check --starttls`: accepted values, the error listing them, the default. */
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { parseCheckArgs } from '../../src/commands/check.js';
import { UsageError } from '../../src/commands/io.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { STARTTLS_PROTOCOLS } from '../../src/starttls/protocols.js';

const parse = (text: string) => parseConfig(text, 'c.yaml', { readFile: () => '' });

describe('module key starttls', () => {
  it.each(STARTTLS_PROTOCOLS)('accepts %s', (protocol) => {
    expect(parse(`modules:\n  m:\n    starttls: ${protocol}\n`).modules['m']!.starttls).toBe(protocol);
  });

  it('is unset by default: TLS from the first byte', () => {
    const config = parse('modules:\n  m:\n    timeout: 5s\n');
    expect(config.modules['m']!.starttls ?? null).toBeNull();
    expect(config.modules['default']!.starttls ?? null).toBeNull();
  });

  it('refuses an unknown protocol, listing the valid ones', () => {
    expect(() => parse('modules:\n  m:\n    starttls: smtps\n')).toThrow(ConfigError);
    expect(() => parse('modules:\n  m:\n    starttls: smtps\n')).toThrow(
      'c.yaml:3: modules.m.starttls: unknown starttls protocol "smtps" (use smtp, imap, pop3, ftp, ldap, xmpp, postgres, mysql)',
    );
  });

  it('refuses a non-string value', () => {
    expect(() => parse('modules:\n  m:\n    starttls: true\n')).toThrow(/modules\.m\.starttls/);
  });
});

describe('check --starttls', () => {
  it('sets the protocol on the chosen module', () => {
    const options = parseCheckArgs({ starttls: 'imap' }, ['127.0.0.1:143']);
    expect(options.config.modules[options.module]!.starttls).toBe('imap');
  });

  it('refuses an unknown protocol with the valid ones', () => {
    expect(() => parseCheckArgs({ starttls: 'telnet' }, ['127.0.0.1:23'])).toThrow(UsageError);
    expect(() => parseCheckArgs({ starttls: 'telnet' }, ['127.0.0.1:23'])).toThrow(
      'check: unknown --starttls protocol "telnet" (use smtp, imap, pop3, ftp, ldap, xmpp, postgres, mysql)',
    );
  });
});

describe('the command line takes --starttls', () => {
  it('passes it to check, whose usage error names the valid protocols', async () => {
    let err = '';
    const io = { stdout: () => {}, stderr: (text: string) => void (err += text) };
    expect(await main(['check', '127.0.0.1:25', '--starttls', 'smtps'], io)).toBe(2);
    expect(err).toContain('check: unknown --starttls protocol "smtps" (use smtp, imap, pop3, ftp, ldap, xmpp, postgres, mysql)');
    expect(err).toContain('[--starttls smtp|imap|pop3|ftp|ldap|xmpp|postgres|mysql]');
  });
});
