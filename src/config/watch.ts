/**
 * `--config.auto-reload`: noticing that the config file changed, so the caller can reload it as
 * SIGHUP does. The file's content hash is polled at an interval: unlike mtime or inode checks this
 * sees every way a file gets replaced (written in place, an editor's write-to-temp-and-rename, a
 * Kubernetes ConfigMap swapping its `..data` symlink to a new directory) and ignores a touch or a
 * rewrite with the same bytes. An `fs.watch` on the file's directory (which sees the rename and
 * the symlink swap, unlike a watch on the file itself) only makes the check come sooner; where it
 * is unavailable or fails, polling alone does the work. Checks are debounced, so an editor's
 * several writes lead to one reload. Timers are unref'd and `close()` clears them and the watch.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { messageOf } from '../util/errors.js';
import { readFileCapped } from '../util/files.js';
import { MAX_CONFIG_FILE_BYTES } from './walker.js';

export const DEFAULT_AUTO_RELOAD_INTERVAL_SECONDS = 30;
/** Quiet time after a directory event before the file is read: editors and the kubelet write in steps. */
export const DEFAULT_AUTO_RELOAD_DEBOUNCE_MS = 250;

export interface ConfigWatchOptions {
  file: string;
  /** How often the content hash is checked, ms. */
  intervalMs: number;
  /** Default {@link DEFAULT_AUTO_RELOAD_DEBOUNCE_MS}. */
  debounceMs?: number;
  /** Also watch the directory for a sooner check. Default true. */
  watchDirectory?: boolean;
  /** The file's content changed (or it became unreadable and stayed so): reload it now. */
  onChange(): void;
  /** The directory cannot be watched (polling goes on); default: ignored. */
  onWatchError?(message: string): void;
}

export interface ConfigWatcher {
  /** Compares the file with the last one seen now, without waiting for the timer. */
  check(): void;
  close(): void;
}

/** The file's SHA-256 (following symlinks), or `unreadable: <why>`, which also counts as a state. */
function fingerprintOf(file: string): string {
  try {
    return createHash('sha256').update(readFileCapped(file, MAX_CONFIG_FILE_BYTES)).digest('hex');
  } catch (error) {
    return `unreadable: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`;
  }
}

export function watchConfigFile(options: ConfigWatchOptions): ConfigWatcher {
  const { file, intervalMs } = options;
  const debounceMs = options.debounceMs ?? DEFAULT_AUTO_RELOAD_DEBOUNCE_MS;
  let seen = fingerprintOf(file);
  let closed = false;
  // An unreadable file is first looked at again: mid rename-replace the name can be missing for a moment.
  let unreadableSince: string | null = null;

  const check = (): void => {
    if (closed) return;
    const now = fingerprintOf(file);
    if (now === seen) {
      unreadableSince = null;
      return;
    }
    if (now.startsWith('unreadable: ') && unreadableSince !== now) {
      unreadableSince = now;
      soon();
      return;
    }
    unreadableSince = null;
    seen = now;
    // Called from a timer: a throwing listener must neither crash the process nor stop the polling.
    try {
      options.onChange();
    } catch (error) {
      process.emitWarning(`config auto-reload: the change listener failed: ${messageOf(error)}`);
    }
  };

  // One timer per purpose, re-armed with refresh() rather than created anew.
  const poll = setTimeout(function tick() {
    if (!closed) poll.refresh();
    check();
  }, intervalMs).unref();
  let debounce: NodeJS.Timeout | null = null;
  function soon(): void {
    if (closed) return;
    if (debounce) debounce.refresh();
    else {
      debounce = setTimeout(() => {
        debounce = null;
        check();
      }, debounceMs).unref();
    }
  }

  let watcher: FSWatcher | null = null;
  if (options.watchDirectory ?? true) {
    try {
      watcher = watch(dirname(file), { persistent: false }, soon);
      watcher.on('error', (error) => {
        options.onWatchError?.(messageOf(error));
        watcher?.close();
        watcher = null;
      });
    } catch (error) {
      options.onWatchError?.(`cannot watch ${dirname(file)} for changes to ${basename(file)}: ${messageOf(error)}`);
    }
  }

  return {
    check,
    close() {
      closed = true;
      clearTimeout(poll);
      if (debounce) clearTimeout(debounce);
      watcher?.close();
      watcher = null;
    },
  };
}
