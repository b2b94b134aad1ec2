/**
 * The native engine behind the probe's handshake interface: the connection (direct, through a
 * CONNECT proxy, after a STARTTLS dialogue — the same src/net/proxy.ts and src/starttls/ as Node's
 * engine), then `HandshakeClient` over the socket, within the probe's deadline. A completed
 * handshake ends with the client's last flight and a close_notify, so the server logs a clean
 * connection; a failed one sends the alert the failure calls for. What the engine does not speak
 * (the server refuses every suite, group or version offered) comes back as `fallback`, for the
 * caller to run Node's handshake instead.
 */
import * as net from 'node:net';
import { openTunnel } from '../net/proxy.js';
import { endpointOf } from '../net/resolve.js';
import { closeAfterHandshake, deadlineFailure, PHASE_REPORT_GRACE_MS, type ConnectionPhase } from '../net/handshake-connection.js';
import type { ProxyRoute } from '../net/proxy.js';
import type { StarttlsProtocol } from '../starttls/protocols.js';
import { negotiateStarttls, StarttlsError } from '../starttls/index.js';
import { messageOf, messageWithCode } from '../util/errors.js';
import { HandshakeClient } from './client.js';
import type { Version } from './client-hello.js';
import { UnsupportedError } from './errors.js';

/** What a handshake needs; the probe's HandshakeRequest (probe/tls.ts) is one. */
export interface NativeHandshakeRequest {
  /** IP address (or name) to connect to. */
  address: string;
  port: number;
  /** SNI; null sends none. */
  serverName: string | null;
  /** Unix ms by which the handshake must be complete. */
  deadlineMs: number;
  starttls?: { protocol: StarttlsProtocol; name: string } | null;
  proxy?: ProxyRoute | null;
  localAddress?: string | null;
  onStep?: (text: string) => void;
}

/** The probe's HandshakeResult (probe/tls.ts), or a hand-over to Node's engine. */
export type NativeHandshakeResult =
  | { ok: true; staple: Buffer | null; chainDer: Buffer[]; protocol: string; cipher: string }
  | {
      ok: false;
      reason: 'connect' | 'timeout' | 'tls' | 'starttls' | 'proxy';
      error: string;
      /**
       * The TLS client itself refused what the server sent (a record, a message, a signature, an
       * alert in answer): where Node's TLS might judge otherwise. False when the connection failed
       * under it (closed, reset, timed out), which Node's would meet the same way.
       */
      refusedByClient?: boolean;
    }
  | { ok: 'fallback'; why: string };

export interface NativeVersions {
  minVersion: Version;
  maxVersion: Version;
}

export function nativeHandshake(request: NativeHandshakeRequest, versions: NativeVersions): Promise<NativeHandshakeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let phase: ConnectionPhase = 'connect';
    let socket: net.Socket | undefined;
    const step = request.onStep ?? (() => undefined);

    const finish = (result: NativeHandshakeResult, lastWords: Buffer | null = null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (socket) {
        if (lastWords && socket.writable) closeAfterHandshake(socket, { lastWords });
        else socket.destroy();
      }
      resolve(result);
    };

    const onDeadline = (graceUsed = false): void => {
      const failure = deadlineFailure(phase, graceUsed, request);
      if (failure) finish({ ok: false, ...failure });
      else timer = setTimeout(() => onDeadline(true), PHASE_REPORT_GRACE_MS);
    };
    const remaining = request.deadlineMs - Date.now();
    let timer = setTimeout(() => onDeadline(), Math.max(0, remaining));
    if (remaining <= 0) return;

    const runTls = (connected: net.Socket): void => {
      phase = 'tls';
      let client: HandshakeClient;
      try {
        client = new HandshakeClient({ serverName: request.serverName, ...versions });
      } catch (error) {
        finish({ ok: false, reason: 'tls', error: messageOf(error) });
        return;
      }
      const fail = (error: unknown): void => {
        if (error instanceof UnsupportedError) {
          finish({ ok: 'fallback', why: error.message });
          return;
        }
        finish({ ok: false, reason: 'tls', error: messageOf(error), refusedByClient: true }, client.failureAlert(error));
      };
      connected.on('data', (chunk: Buffer) => {
        if (settled) return;
        try {
          const { send, outcome } = client.receive(chunk);
          if (outcome) {
            step('TLS handshake done'); // version, cipher and engine are in the result, which the log shows
            // The last flight and the close_notify in one write: one segment, one system call.
            finish({ ok: true, staple: outcome.staple, chainDer: outcome.chainDer, protocol: outcome.protocol, cipher: outcome.cipher }, Buffer.concat([...send, client.closeNotify()]));
          } else if (send.length > 0) connected.write(send.length === 1 ? send[0]! : Buffer.concat(send));
        } catch (error) {
          fail(error);
        }
      });
      connected.removeAllListeners('end');
      connected.once('end', () => finish({ ok: false, reason: 'tls', error: 'connection closed during handshake' }));
      connected.write(client.start());
      connected.resume();
    };

    const upgrade = (connected: net.Socket): void => {
      const starttls = request.starttls;
      if (!starttls) {
        runTls(connected);
        return;
      }
      phase = 'starttls';
      negotiateStarttls(connected, starttls.protocol, { serverName: starttls.name, deadlineMs: request.deadlineMs }).then(
        () => {
          if (settled) return;
          step(`STARTTLS (${starttls.protocol}) done: the server agreed to start TLS`);
          runTls(connected);
        },
        (error: unknown) => {
          const timedOut = error instanceof StarttlsError && error.code === 'ERR_STARTTLS_TIMEOUT';
          finish({ ok: false, reason: timedOut ? 'timeout' : 'starttls', error: messageOf(error) });
        },
      );
    };

    const attach = (connected: net.Socket): void => {
      socket = connected;
      connected.on('error', (error: NodeJS.ErrnoException) => {
        finish({ ok: false, reason: phase === 'connect' ? 'connect' : phase === 'proxy' ? 'proxy' : 'tls', error: messageWithCode(error) });
      });
      connected.once('close', () => {
        finish({ ok: false, reason: phase === 'connect' ? 'connect' : 'tls', error: phase === 'connect' ? 'connection closed before it was established' : 'connection closed during handshake' });
      });
    };

    const proxy = request.proxy;
    if (proxy) {
      phase = 'proxy';
      openTunnel({ proxy, host: request.address, port: request.port, deadlineMs: request.deadlineMs, localAddress: request.localAddress }).then(
        (tunnel) => {
          if (settled) {
            tunnel.destroy();
            return;
          }
          step(`tunnel open: proxy ${proxy.shown} (connected from ${endpointOf(tunnel.localAddress, tunnel.localPort)}) answered CONNECT ${endpointOf(request.address, request.port)} with 2xx`);
          attach(tunnel);
          upgrade(tunnel);
          // openTunnel hands the socket over paused (a server's first bytes may already be buffered);
          // its reader is attached now, so nothing is lost.
          tunnel.resume();
        },
        (error: unknown) => finish({ ok: false, reason: 'proxy', error: messageOf(error) }),
      );
      return;
    }
    let plain: net.Socket;
    try {
      const local = request.localAddress ? { localAddress: request.localAddress, family: net.isIP(request.localAddress) } : {};
      plain = net.connect({ host: request.address, port: request.port, ...local });
    } catch (error) {
      finish({ ok: false, reason: 'connect', error: messageWithCode(error) });
      return;
    }
    attach(plain);
    plain.setNoDelay(true);
    plain.once('connect', () => {
      if (settled) return;
      step(`TCP connected to ${endpointOf(plain.remoteAddress, plain.remotePort)} from ${endpointOf(plain.localAddress, plain.localPort)}`);
      upgrade(plain);
    });
  });
}
