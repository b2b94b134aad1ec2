/**
 * The plaintext phase of a STARTTLS probe: reads from the TCP socket bounded in bytes (the whole
 * dialogue, and each line of a line protocol) and in time (the probe's deadline), so a server that
 * trickles, floods or never finishes a line costs at most the bound and the deadline. Everything the
 * server sends is kept (at most `maxBytes`) until the dialogue is over; nothing is read past what a
 * dialogue asks for, and {@link PlaintextChannel.release} refuses to hand the socket to TLS while
 * unread bytes remain (they would be lost to the handshake, or be injected plaintext: CVE-2011-0411).
 */
import type * as net from 'node:net';
import { messageWithCode } from '../util/errors.js';
import { quoteAnswer, StarttlsError } from './errors.js';

export interface DialogueLimits {
  /** Bytes the server may send in the whole dialogue. */
  maxBytes: number;
  /** Bytes one line may have, its CRLF included (line protocols only). */
  maxLineBytes: number;
}

/** 64 KiB for a whole dialogue and 8 KiB a line: real greetings and capability lists are far below 4 KiB. */
export const DEFAULT_LIMITS: DialogueLimits = { maxBytes: 64 * 1024, maxLineBytes: 8 * 1024 };

export class PlaintextChannel {
  private data = Buffer.alloc(0);
  /** Bytes of `data` received so far. */
  private end = 0;
  /** Bytes of `data` a dialogue has consumed. */
  private start = 0;
  /** Where the next search for a line feed begins (bytes before it hold none). */
  private scanned = 0;
  private failure: StarttlsError | null = null;
  private wake: (() => void) | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly onData = (chunk: Buffer): void => this.received(chunk);
  private readonly onEnd = (): void => this.fail(new StarttlsError('ERR_STARTTLS_CLOSED', `the server closed the connection during the ${this.what} dialogue${this.lastWords()}`));
  private readonly onError = (error: Error): void =>
    this.fail(new StarttlsError('ERR_STARTTLS_CLOSED', `connection failed during the ${this.what} dialogue: ${messageWithCode(error)}${this.lastWords()}`));

  constructor(
    private readonly socket: net.Socket,
    /** The protocol's name in messages, e.g. `SMTP`. */
    readonly what: string,
    deadlineMs: number,
    private readonly limits: DialogueLimits = DEFAULT_LIMITS,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    this.timer = setTimeout(
      () => this.fail(new StarttlsError('ERR_STARTTLS_TIMEOUT', `timed out during the ${this.what} STARTTLS dialogue (${this.end} bytes received)${this.lastWords()}`)),
      Math.max(0, deadlineMs - Date.now()),
    );
  }

  write(text: string | Uint8Array): void {
    if (!this.failure) this.socket.write(text);
  }

  /** The next line without its CRLF (a bare LF also ends it), as Latin-1 text. */
  async readLine(): Promise<string> {
    for (;;) {
      const lf = this.data.subarray(this.scanned, this.end).indexOf(0x0a);
      if (lf >= 0) {
        const lineEnd = this.scanned + lf + 1;
        this.checkLineLength(lineEnd - this.start);
        const line = this.data.toString('latin1', this.start, lineEnd).replace(/\r?\n$/, '');
        this.start = this.scanned = lineEnd;
        return line;
      }
      this.scanned = this.end;
      this.checkLineLength(this.end - this.start);
      await this.more();
    }
  }

  /** Exactly `count` bytes (binary protocols). */
  async readBytes(count: number): Promise<Buffer> {
    if (count > this.limits.maxBytes) {
      throw new StarttlsError('ERR_STARTTLS_TOO_LARGE', `the server announced ${count} bytes in the ${this.what} dialogue, more than the ${this.limits.maxBytes} allowed`);
    }
    while (this.end - this.start < count) await this.more();
    const bytes = Buffer.from(this.data.subarray(this.start, this.start + count));
    this.start = this.scanned = this.start + count;
    return bytes;
  }

  /**
   * Text up to and including the first match of `pattern` in what is unread (XMPP, which has no
   * lines). `pattern` must not be global; the search restarts on each arrival, bounded by maxBytes.
   */
  async readThrough(pattern: RegExp): Promise<{ text: string; match: RegExpExecArray }> {
    for (;;) {
      const unread = this.data.toString('latin1', this.start, this.end);
      const match = pattern.exec(unread);
      if (match) {
        const consumed = match.index + match[0].length;
        this.start = this.scanned = this.start + consumed;
        return { text: unread.slice(0, consumed), match };
      }
      await this.more();
    }
  }

  /**
   * Detaches from the socket so TLS can take it over. With `expectNothingUnread`, bytes the server
   * sent after its go-ahead are a protocol error: the TLS client would never see them.
   */
  release(expectNothingUnread: boolean): void {
    clearTimeout(this.timer);
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    const unread = this.end - this.start;
    if (expectNothingUnread && unread > 0 && !this.failure) {
      throw new StarttlsError(
        'ERR_STARTTLS_PROTOCOL',
        `the server sent ${unread} bytes after its ${this.what} STARTTLS go-ahead, before the TLS handshake: ${quoteAnswer(this.data.toString('latin1', this.start, this.end))}`,
      );
    }
  }

  private received(chunk: Buffer): void {
    if (this.failure) return;
    if (this.end + chunk.length > this.limits.maxBytes) {
      this.fail(new StarttlsError('ERR_STARTTLS_TOO_LARGE', `the server sent more than ${this.limits.maxBytes} bytes in the ${this.what} dialogue${this.lastWords()}`));
      return;
    }
    if (this.end + chunk.length > this.data.length) {
      const grown = Buffer.alloc(Math.min(this.limits.maxBytes, Math.max(4096, this.data.length * 2, this.end + chunk.length)));
      this.data.copy(grown, 0, 0, this.end);
      this.data = grown;
    }
    chunk.copy(this.data, this.end);
    this.end += chunk.length;
    this.notify();
  }

  private fail(error: StarttlsError): void {
    if (this.failure) return;
    this.failure = error;
    clearTimeout(this.timer);
    // Stop reading: a flooding server must not fill memory while the probe reports it.
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Waits for more bytes; throws the dialogue's failure (close, bound, deadline) instead. */
  private async more(): Promise<void> {
    if (!this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure) throw this.failure;
  }

  private checkLineLength(length: number): void {
    if (length > this.limits.maxLineBytes) {
      throw new StarttlsError(
        'ERR_STARTTLS_TOO_LARGE',
        `the server sent a line longer than ${this.limits.maxLineBytes} bytes in the ${this.what} dialogue: ${quoteAnswer(this.data.toString('latin1', this.start, this.start + 200))}`,
      );
    }
  }

  /** The tail of what the server sent, for a message about a failure. */
  private lastWords(): string {
    if (this.end === 0) return '';
    const from = Math.max(0, this.end - 200);
    return `; last received: ${quoteAnswer(this.data.toString('latin1', from, this.end))}`;
  }
}
