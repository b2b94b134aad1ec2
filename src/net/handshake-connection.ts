/**
 * The connection around a TLS handshake, shared by both engines (probe/tls.ts, Node's; and
 * tls-native/engine.ts): what the probe's deadline means in each phase, and how a completed
 * handshake's connection is closed.
 */
import type * as net from 'node:net';

/** Where a handshake's connection stands. */
export type ConnectionPhase = 'proxy' | 'connect' | 'starttls' | 'tls';

/**
 * How long past the deadline the STARTTLS dialogue or the proxy's CONNECT gets to report its own
 * timeout (it says where it stood) before the probe's.
 */
export const PHASE_REPORT_GRACE_MS = 250;

/**
 * How long a completed handshake's connection may take to close after our last bytes before it is
 * cut. The probe's result does not wait for it.
 */
export const CLOSE_GRACE_MS = 1000;

/**
 * The failure a deadline means in `phase`, or null when the phase first gets its grace
 * ({@link PHASE_REPORT_GRACE_MS}) to report the timeout in its own words.
 */
export function deadlineFailure(
  phase: ConnectionPhase,
  graceUsed: boolean,
  request: { proxy?: { shown: string } | null; starttls?: { protocol: string } | null },
): { reason: 'proxy' | 'timeout'; error: string } | null {
  if ((phase === 'starttls' || phase === 'proxy') && !graceUsed) return null;
  if (phase === 'proxy') return { reason: 'proxy', error: `proxy ${request.proxy?.shown}: no answer to CONNECT within the probe's budget` };
  const error = { connect: 'TCP connect timed out', starttls: `${request.starttls?.protocol} STARTTLS dialogue timed out`, tls: 'TLS handshake timed out' }[phase];
  return { reason: 'timeout', error };
}

/**
 * Ends a completed handshake as a client should: what is still queued (TLS 1.3's client Finished,
 * which Node writes just before it reports the handshake done, or the native engine's last flight
 * in `lastWords`) goes out, then the connection ends with a close_notify from the TLS layer or in
 * `lastWords` (RFC 8446 §6.1). Destroying the socket at once drops them, and servers log every probe
 * as a failed handshake (Postfix: "SSL_accept error … lost connection"). Bounded: the socket (and
 * the `underlying` one a TLS socket runs over) is destroyed after CLOSE_GRACE_MS whatever the peer
 * does. The peer's answer is discarded, not buffered.
 */
export function closeAfterHandshake(socket: net.Socket, options: { lastWords?: Buffer; underlying?: net.Socket } = {}): void {
  const { lastWords, underlying } = options;
  const cut = setTimeout(() => {
    socket.destroy();
    underlying?.destroy();
  }, CLOSE_GRACE_MS);
  cut.unref();
  socket.once('close', () => {
    clearTimeout(cut);
    underlying?.destroy();
  });
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
  if (lastWords) socket.end(lastWords);
  else socket.end();
}
