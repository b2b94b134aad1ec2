/**
 * `http_server_config.headers` values are checked at load against what HTTP (RFC 9110 §5.5) and
 * Node can send: a CR/LF used to pass `--config.check` and then make every endpoint answer 500.
 */
import { validateHeaderValue } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseWebConfig, WebConfigError } from '../../src/server/webconfig.js';

const FILE = '/nonexistent/web.yml';

function headersConfig(name: string, value: string): string {
  return `http_server_config:\n  headers:\n    ${JSON.stringify(name)}: ${JSON.stringify(value)}\n`;
}

function problemOf(text: string): WebConfigError {
  try {
    parseWebConfig(text, FILE);
  } catch (error) {
    return error as WebConfigError;
  }
  throw new Error('expected the web config to be refused');
}

describe('web config header values', () => {
  it.each([
    ['CRLF injection', 'max-age=1\r\nSet-Cookie: a=b', 'the value contains a line break (\\x0d); a header value must be one line (RFC 9110 §5.5)'],
    ['a bare LF', 'max-age=1\nX: y', 'the value contains a line break (\\x0a); a header value must be one line (RFC 9110 §5.5)'],
    ['a NUL', 'max-age=1\0', 'the value contains the control character \\x00; only visible characters, spaces and tabs are allowed (RFC 9110 §5.5)'],
    ['ESC', 'max-age=1\x1b[2J', 'the value contains the control character \\x1b; only visible characters, spaces and tabs are allowed (RFC 9110 §5.5)'],
    ['DEL', 'max-age=1\x7f', 'the value contains the control character \\x7f; only visible characters, spaces and tabs are allowed (RFC 9110 §5.5)'],
    ['a character beyond Latin-1', 'max-age=1 ✓', 'the value contains U+2713, which cannot be sent in an HTTP header; use ASCII (RFC 9110 §5.5)'],
  ])('refuses %s, naming the header', (_name, value, message) => {
    const error = problemOf(headersConfig('Strict-Transport-Security', value));
    expect(error.code).toBe('ERR_WEB_CONFIG_INVALID');
    expect(error.message).toBe(`${FILE}:3: http_server_config.headers.Strict-Transport-Security: ${message}`);
  });

  it('a CR/LF in a value with a fixed list is refused for the line break, not as an unknown value', () => {
    const error = problemOf(headersConfig('X-Frame-Options', 'deny\r\nX-Evil: 1'));
    expect(error.message).toContain('http_server_config.headers.X-Frame-Options: the value contains a line break (\\x0d)');
  });

  it('accepts tabs, spaces and visible characters', () => {
    const policy = "default-src 'self';\tscript-src 'none' https://cdn.example.com";
    const config = parseWebConfig(headersConfig('Content-Security-Policy', policy), FILE);
    expect(config.headers).toEqual({ 'Content-Security-Policy': policy });
  });

  it('accepts exactly the values Node can send', () => {
    // Every BMP code unit below U+0300 and a few beyond, alone inside a value.
    const codes = [...Array.from({ length: 0x300 }, (_, i) => i), 0x2028, 0x202e, 0xfeff, 0xfffd];
    for (const code of codes) {
      const value = `max-age=1${String.fromCharCode(code)}0`;
      let nodeSends = true;
      try {
        validateHeaderValue('Strict-Transport-Security', value);
      } catch {
        nodeSends = false;
      }
      let loads = true;
      try {
        parseWebConfig(headersConfig('Strict-Transport-Security', value), FILE);
      } catch {
        loads = false;
      }
      expect(loads, `U+${code.toString(16).padStart(4, '0')}`).toBe(nodeSends);
    }
  });

  it('header names outside the allowed list, malformed ones included, are refused', () => {
    for (const name of ['X-Frame-Options\r\nX-Evil', 'Bad Name', 'X-Frame-Options:', '']) {
      const error = problemOf(headersConfig(name, 'deny'));
      expect(error.code, JSON.stringify(name)).toBe('ERR_WEB_CONFIG_INVALID');
      expect(error.message).toContain('http_server_config.headers: unknown key');
    }
  });
});
