/**
 * The configuration in use, and what happened at the last reload. A reload (SIGHUP or
 * `POST /-/reload`) swaps the config only when the whole new file loaded; otherwise the last good
 * config stays in use and `lastReloadSuccessful` drops to false, which the metrics module exports
 * as `ocsp_exporter_config_last_reload_successful` (the blackbox_exporter behaviour). The swap is a
 * single reference assignment, so a scrape in progress keeps the config object it started with.
 */
import { ConfigError } from './errors.js';
import type { Config } from './schema.js';
import { messageOf } from '../util/errors.js';

export type ReloadResult = { ok: true } | { ok: false; error: ConfigError | Error };

/** A reload that failed: when, and why (the whole message; whoever shows it bounds it). */
export interface ReloadFailure {
  /** Unix seconds. */
  atSeconds: number;
  message: string;
}

export interface ConfigStoreOptions {
  /** Clock, Unix ms. Default `Date.now`. */
  now?: () => number;
  /** Where an exception thrown by an `onChange` listener goes. Default: `process.emitWarning`. */
  onListenerError?: (error: unknown) => void;
}

export class ConfigStore {
  private config: Config;
  private readonly listeners = new Set<(config: Config) => void>();
  private readonly now: () => number;
  private readonly onListenerError: (error: unknown) => void;
  private successful = true;
  private successAtSeconds: number;
  private failure: ReloadFailure | null = null;

  /** `initial` is a config already loaded (start-up fails before a store exists when it cannot be). */
  constructor(
    initial: Config,
    private readonly loader: () => Config,
    options: ConfigStoreOptions = {},
  ) {
    this.config = initial;
    this.now = options.now ?? Date.now;
    this.onListenerError =
      options.onListenerError ??
      ((error) => process.emitWarning(`config onChange listener failed: ${messageOf(error)}`));
    this.successAtSeconds = this.now() / 1000;
  }

  get current(): Config {
    return this.config;
  }

  get lastReloadSuccessful(): boolean {
    return this.successful;
  }

  /** Unix seconds of the last successful load (construction counts as one). */
  get lastReloadSuccessTimestampSeconds(): number {
    return this.successAtSeconds;
  }

  /** The most recent failed reload, kept after later successful ones (its time tells which came last); null when none failed. */
  get lastReloadFailure(): ReloadFailure | null {
    return this.failure;
  }

  /** Loads the config again; on any failure keeps the current one and reports why. Never throws. */
  reload(): ReloadResult {
    let next: Config;
    try {
      next = this.loader();
    } catch (error) {
      this.successful = false;
      this.failure = { atSeconds: this.now() / 1000, message: messageOf(error) };
      return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
    }
    this.config = next;
    this.successful = true;
    this.successAtSeconds = this.now() / 1000;
    for (const listener of [...this.listeners]) {
      // One failing listener must not stop the others nor turn a good reload into a failed one.
      try {
        listener(next);
      } catch (error) {
        this.onListenerError(error);
      }
    }
    return { ok: true };
  }

  /** Called with the new config after each successful reload. Returns an unsubscribe function. */
  onChange(listener: (config: Config) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
