/**
 * Why a native handshake stopped. `TlsAlertError` is a protocol failure on our side of the
 * conversation (we send that alert to the server before closing); `PeerAlertError` is the alert the
 * server sent; `UnsupportedError` is something the engine does not implement, for which the probe
 * falls back to Node's TLS (counted).
 */

export class TlsAlertError extends Error {
  override readonly name: string = 'TlsAlertError';
  constructor(
    /** The alert we send, by its RFC 8446 §6 name. */
    readonly alert: string,
    message: string,
  ) {
    super(message);
  }
}

export class PeerAlertError extends Error {
  override readonly name = 'PeerAlertError';
  constructor(
    readonly level: number,
    readonly description: number,
    message: string,
  ) {
    super(message);
  }
}

export class UnsupportedError extends Error {
  override readonly name = 'UnsupportedError';
}

/** A malformed message: alert decode_error (RFC 8446 §6.2). */
export class TlsDecodeError extends TlsAlertError {
  override readonly name = 'TlsDecodeError';
  constructor(message: string) {
    super('decode_error', message);
  }
}
