/**
 * Addresses to probe for a target: the literal when the host is an IP, otherwise the system
 * resolver's answers (getaddrinfo, so /etc/hosts applies), filtered by the module's ip_protocol.
 * With `all`, every address, so each node behind a load balancer gets its own result.
 */
import * as dns from 'node:dns';
import { isIP } from 'node:net';
import { CodedError } from '../util/errors.js';
import { formatHostPort } from './host.js';

/** Which address families a module probes (`ip_protocol`). */
export type IpProtocol = 'ip4' | 'ip6' | 'any';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Same shape as the part of `dns.promises.lookup` we use; injectable for tests. */
export type LookupFn = (host: string, options: { all: true; family: 0 | 4 | 6 }) => Promise<{ address: string; family: number }[]>;

export const systemLookup: LookupFn = (host, options) => dns.promises.lookup(host, { ...options, verbatim: true });

export class ResolveError extends CodedError<'ERR_DNS' | 'ERR_DNS_TIMEOUT'> {
  override readonly name = 'ResolveError';
}

export async function resolveAddresses(
  host: string,
  ipProtocol: IpProtocol,
  all: boolean,
  deadlineMs: number,
  lookup: LookupFn = systemLookup,
): Promise<ResolvedAddress[]> {
  const literal = isIP(host);
  if (literal) {
    if ((ipProtocol === 'ip4' && literal !== 4) || (ipProtocol === 'ip6' && literal !== 6)) {
      throw new ResolveError('ERR_DNS', `${host} is not an ${ipProtocol} address`);
    }
    return [{ address: host, family: literal as 4 | 6 }];
  }
  const family = ipProtocol === 'ip4' ? 4 : ipProtocol === 'ip6' ? 6 : 0;
  let timer: NodeJS.Timeout | undefined;
  // getaddrinfo cannot be cancelled; we stop waiting for it at the deadline.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ResolveError('ERR_DNS_TIMEOUT', `resolving ${host} timed out`)),
      Math.max(0, deadlineMs - Date.now()),
    );
  });
  try {
    const answers = await Promise.race([lookup(host, { all: true, family }), timeout]);
    const unique = new Map<string, ResolvedAddress>();
    for (const a of answers) {
      if (a.family === 4 || a.family === 6) unique.set(a.address, { address: a.address, family: a.family });
    }
    const addresses = [...unique.values()];
    if (addresses.length === 0) throw new ResolveError('ERR_DNS', `${host} has no ${ipProtocol === 'any' ? 'IP' : ipProtocol} address`);
    return all ? addresses : addresses.slice(0, 1);
  } catch (error) {
    if (error instanceof ResolveError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ResolveError('ERR_DNS', `resolving ${host} failed: ${code}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/** `ip:port`, with brackets for IPv6. */
export const formatAddress: (address: string, port: number) => string = formatHostPort;

/** `address:port` (`[v6]:port`) of a socket end, for the probe's log; both engines write the same steps. */
export function endpointOf(address: string | undefined, port: number | undefined): string {
  const host = address === undefined ? '?' : address.includes(':') ? `[${address}]` : address;
  return `${host}:${port ?? '?'}`;
}
