/**
 * Free loopback ports for lab servers. A port is found by listening on 127.0.0.1:0 and closing
 * again; another process may grab it before our server binds (several test files and other
 * projects' tests run at once), so starters detect "address in use" and `withFreePorts` retries
 * the whole start with fresh ports.
 */
import net from 'node:net';
import { LabError } from './errors.js';

export const LOOPBACK = '127.0.0.1';

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Messages servers print when their listening address is taken. */
const IN_USE = /address already in use|EADDRINUSE|cannot bind socket|could not bind to address|\(98[:)]/i;

/** True when a server's output says it could not bind because the port is taken. */
export function saysAddressInUse(text: string): boolean {
  return IN_USE.test(text);
}

export interface PortChoice {
  /** Use exactly these ports (no retry): for tests that need a known or an occupied port. */
  fixed?: readonly number[];
  /** Attempts with fresh ports before giving up (default 5). */
  attempts?: number;
}

/**
 * Runs `start` with `count` fresh ports, retrying with new ones when it fails with
 * LAB_PORT_IN_USE. Any other error is rethrown at once. With `fixed`, runs once on those ports.
 */
export async function withFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>, choice: PortChoice = {}): Promise<T> {
  if (choice.fixed) {
    if (choice.fixed.length !== count) throw new TypeError(`${count} ports needed, ${choice.fixed.length} given`);
    return start([...choice.fixed]);
  }
  const attempts = choice.attempts ?? 5;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const ports = await freePorts(count);
    try {
      return await start(ports);
    } catch (error) {
      if (!(error instanceof LabError && error.code === 'LAB_PORT_IN_USE')) throw error;
      lastError = error;
    }
  }
  throw lastError;
}
