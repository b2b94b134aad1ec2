/** Host names and `host:port` text, as the config, the allowlist and the probe write and check them. */
import { isIP } from 'node:net';

/** RFC 1123 host names (letters, digits, hyphens per label; `_` tolerated as DNS allows it), optional final dot. */
const HOSTNAME = /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

export function isValidHostname(text: string): boolean {
  return HOSTNAME.test(text);
}

/** `host:port`, with brackets for IPv6 (RFC 3986 §3.2.2). */
export function formatHostPort(host: string, port: number | string): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
