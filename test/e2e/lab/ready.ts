/**
 * Readiness of a freshly spawned server: poll a real probe (a TLS handshake, an OCSP request)
 * until it succeeds, the process dies, or the deadline passes. A server that died saying its
 * address is taken becomes LAB_PORT_IN_USE (the caller retries on other ports); anything else is
 * LAB_NOT_READY carrying the server's output and error log.
 */
import { LabError } from './errors.js';
import { saysAddressInUse } from './ports.js';
import type { ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

export async function awaitReady(proc: ManagedProcess, probe: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  try {
    await waitFor(probe, timeoutMs, {
      what,
      intervalMs: 25,
      abortIf: () => (proc.exitInfo ? `${proc.name} exited` : null),
    });
  } catch (error) {
    await proc.stop(1000);
    const diagnostics = proc.diagnostics();
    if (saysAddressInUse(diagnostics)) {
      throw new LabError('LAB_PORT_IN_USE', `${proc.name}: port taken\n${diagnostics}`, { cause: error });
    }
    throw new LabError('LAB_NOT_READY', `${proc.name} not ready (${(error as Error).message.split('\n')[0]})\n${diagnostics}`, { cause: error });
  }
}
