import { describe, expect, it } from 'vitest';
import { formatHostPort, parseTargetAddress, TargetAddressError } from '../../src/config/target.js';

describe('parseTargetAddress', () => {
  it.each([
    ['example.com:443', 'example.com', 443],
    ['WWW.Example.COM:8443', 'WWW.Example.COM', 8443],
    ['example.com.:443', 'example.com.', 443],
    ['localhost:1', 'localhost', 1],
    ['192.0.2.7:65535', '192.0.2.7', 65535],
    ['[::1]:443', '::1', 443],
    ['[2001:db8::1]:443', '2001:db8::1', 443],
    ['[::ffff:192.0.2.1]:443', '::ffff:192.0.2.1', 443],
    ['_dmarc.example.com:443', '_dmarc.example.com', 443],
  ])('%s', (text, host, port) => {
    expect(parseTargetAddress(text)).toEqual({ host, port });
  });

  it.each([
    ['', 'empty target (expected host:port, e.g. example.com:443 or [2001:db8::1]:443)'],
    ['example.com', '"example.com" has no port (did you mean "example.com:443"?)'],
    ['example.com:', '"example.com:" has no port (expected host:port, e.g. example.com:443 or [2001:db8::1]:443)'],
    ['example.com:0', '"example.com:0" has port 0; ports are 1 to 65535'],
    ['example.com:65536', '"example.com:65536" has port 65536; ports are 1 to 65535'],
    ['example.com:-1', '"example.com:-1" has a port that is not a number: "-1"'],
    ['example.com:123456', '"example.com:123456" has a port that is not a number: "123456"'],
    ['https://example.com', '"https://example.com" is a URL, not host:port (did you mean "example.com:443"?)'],
    ['https://example.com:8443/path', '"https://example.com:8443/path" is a URL, not host:port (did you mean "example.com:8443"?)'],
    ['https://[2001:db8::1]/', '"https://[2001:db8::1]/" is a URL, not host:port (did you mean "[2001:db8::1]:443"?)'],
    ['example.com:443/path', '"example.com:443/path" contains "/": expected host:port without a path'],
    ['exa mple.com:443', '"exa mple.com:443" contains whitespace (expected host:port, e.g. example.com:443 or [2001:db8::1]:443)'],
    ['::1', '"::1": IPv6 addresses need brackets and a port (did you mean "[::1]:443"?)'],
    ['2001:db8::1:443', '"2001:db8::1:443": IPv6 addresses need brackets and a port (did you mean "[2001:db8::1]:443"?)'],
    ['[::1]', '"[::1]" has no port (did you mean "[::1]:443"?)'],
    ['[example.com]:443', '"[example.com]:443": only IPv6 addresses go in brackets, and "example.com" is not one'],
    ['[::1]443', '"[::1]443" is not [IPv6 address]:port (expected host:port, e.g. example.com:443 or [2001:db8::1]:443)'],
    ['-bad-.example:443', '"-bad-.example:443": "-bad-.example" is not a valid host name or IPv4 address'],
    ['a..b:443', '"a..b:443": "a..b" is not a valid host name or IPv4 address'],
  ])('rejects %j', (text, message) => {
    expect(() => parseTargetAddress(text)).toThrow(TargetAddressError);
    expect(() => parseTargetAddress(text)).toThrow(message);
    try {
      parseTargetAddress(text);
    } catch (error) {
      expect((error as TargetAddressError).code).toBe('ERR_TARGET_ADDRESS');
      expect((error as Error).message).toBe(message);
    }
  });

  it('formatHostPort brackets IPv6 only', () => {
    expect(formatHostPort('::1', 443)).toBe('[::1]:443');
    expect(formatHostPort('192.0.2.1', 443)).toBe('192.0.2.1:443');
    expect(formatHostPort('example.com', '8443')).toBe('example.com:8443');
  });
});
