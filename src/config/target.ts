/**
 * `host:port` target addresses, as written in the config file and on the command line: a DNS
 * name or IPv4 address and a port (`example.com:443`, `192.0.2.7:8443`), or an IPv6 address in
 * brackets (`[2001:db8::1]:443`, RFC 3986 §3.2.2 style). The usual mistakes — a URL, no port, an
 * unbracketed IPv6 address — get a message that says what to write instead.
 */
import { isIP } from 'node:net';
import { formatHostPort, isValidHostname } from '../net/host.js';
import { CodedError } from '../util/errors.js';

export { formatHostPort, isValidHostname };

export class TargetAddressError extends CodedError<'ERR_TARGET_ADDRESS'> {
  override readonly name = 'TargetAddressError';
  constructor(message: string) {
    super('ERR_TARGET_ADDRESS', message);
  }
}

const EXAMPLE = 'expected host:port, e.g. example.com:443 or [2001:db8::1]:443';

/** Suggests `host:port` for a URL: its own port, else the scheme's TLS port. */
function suggestFromUrl(text: string): string | null {
  try {
    const url = new URL(text);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') return null;
    const port = url.port !== '' ? url.port : url.protocol === 'ldaps:' ? '636' : '443';
    return formatHostPort(host, port);
  } catch {
    return null;
  }
}

function checkPort(text: string, portText: string): number {
  if (portText === '') throw new TargetAddressError(`"${text}" has no port (${EXAMPLE})`);
  if (!/^\d{1,5}$/.test(portText)) throw new TargetAddressError(`"${text}" has a port that is not a number: "${portText}"`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new TargetAddressError(`"${text}" has port ${port}; ports are 1 to 65535`);
  return port;
}

/** Parses `host:port`; throws `TargetAddressError` with a message saying what to write instead. */
export function parseTargetAddress(text: string): { host: string; port: number } {
  if (text === '') throw new TargetAddressError(`empty target (${EXAMPLE})`);
  if (/\s/.test(text)) throw new TargetAddressError(`"${text}" contains whitespace (${EXAMPLE})`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const suggestion = suggestFromUrl(text);
    throw new TargetAddressError(`"${text}" is a URL, not host:port` + (suggestion ? ` (did you mean "${suggestion}"?)` : ` (${EXAMPLE})`));
  }
  if (text.includes('/')) throw new TargetAddressError(`"${text}" contains "/": expected host:port without a path`);

  if (text.startsWith('[')) {
    const match = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    if (!match) throw new TargetAddressError(`"${text}" is not [IPv6 address]:port (${EXAMPLE})`);
    const host = match[1]!;
    if (isIP(host) !== 6) throw new TargetAddressError(`"${text}": only IPv6 addresses go in brackets, and "${host}" is not one`);
    if (match[2] === undefined) throw new TargetAddressError(`"${text}" has no port (did you mean "[${host}]:443"?)`);
    return { host, port: checkPort(text, match[2]) };
  }

  if (isIP(text) === 6) {
    // "2001:db8::1:443" is itself a valid address; most likely it was meant as address and port.
    const colon = text.lastIndexOf(':');
    const meant = /^\d{1,5}$/.test(text.slice(colon + 1)) && isIP(text.slice(0, colon)) === 6 ? `[${text.slice(0, colon)}]:${text.slice(colon + 1)}` : `[${text}]:443`;
    throw new TargetAddressError(`"${text}": IPv6 addresses need brackets and a port (did you mean "${meant}"?)`);
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new TargetAddressError(`"${text}" has no port (did you mean "${text}:443"?)`);
  const host = text.slice(0, colon);
  if (host.includes(':')) {
    throw new TargetAddressError(`"${text}": IPv6 addresses must be in brackets, e.g. [2001:db8::1]:443`);
  }
  if (host === '') throw new TargetAddressError(`"${text}" has no host (${EXAMPLE})`);
  if (isIP(host) !== 4 && !isValidHostname(host)) throw new TargetAddressError(`"${text}": "${host}" is not a valid host name or IPv4 address`);
  return { host, port: checkPort(text, text.slice(colon + 1)) };
}
