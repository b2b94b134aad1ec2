/**
 * Reading the files of `staple_files` at scrape time: each file is stamped (device, inode, size and
 * mtime in nanoseconds) so it is read again only when the stamp changes, every read is capped in
 * bytes, only regular files are opened (O_NONBLOCK + fstat, util/files.ts: a FIFO or /dev/zero
 * never blocks or floods a scrape), and a file rewritten in place while it is read (its stamp moved
 * between the fstat before and after) is read again, a few times, before it is reported. Every
 * failure is a reason from {@link STAPLE_FILE_ERROR_REASONS} and a message naming the file; nothing
 * here throws.
 */
import { closeSync, fstatSync, statSync, type BigIntStats } from 'node:fs';
import { describeFileError, FileTooLargeError, NotRegularFileError, openRegularFile, readDescriptorCapped } from '../util/files.js';

/** Values of the `reason` label of `ocsp_staple_file_error`, always all of them. */
export const STAPLE_FILE_ERROR_REASONS = [
  'missing',
  'not_regular',
  'too_large',
  'unreadable',
  'changing',
  'bad_certificate',
  'too_many_certificates',
  'too_many_files',
] as const;

export type StapleFileErrorReason = (typeof STAPLE_FILE_ERROR_REASONS)[number];

export interface FileProblem {
  readonly reason: StapleFileErrorReason;
  /** Names the file; never any of its content. */
  readonly message: string;
}

/** What identifies one version of a file: equal stamps, same content (for writers that move mtime). */
export interface FileStamp {
  readonly key: string;
  /** mtime, Unix ms (sub-millisecond part kept as a fraction). */
  readonly mtimeMs: number;
}

export type StampResult = { ok: true; stamp: FileStamp; size: number } | { ok: false; problem: FileProblem };

export type ReadResult = { ok: true; bytes: Buffer; stamp: FileStamp } | { ok: false; problem: FileProblem };

/** Reads of a file that keeps changing under us before it is reported as `changing`. */
export const READ_ATTEMPTS = 3;

function stampFrom(stats: BigIntStats): FileStamp {
  return {
    key: `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`,
    mtimeMs: Number(stats.mtimeNs / 1000n) / 1000,
  };
}

function problemOf(path: string, error: unknown): FileProblem {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = `${path}: ${describeFileError(error)}`;
  if (error instanceof NotRegularFileError || code === 'ENXIO') return { reason: 'not_regular', message };
  if (error instanceof FileTooLargeError) return { reason: 'too_large', message };
  if (code === 'ENOENT' || code === 'ENOTDIR') return { reason: 'missing', message };
  return { reason: 'unreadable', message };
}

/** The file's stamp (symbolic links followed, as the server reading it follows them). */
export function stampFile(path: string): StampResult {
  try {
    const stats = statSync(path, { bigint: true });
    if (!stats.isFile()) {
      const kind = stats.isDirectory() ? 'a directory' : stats.isFIFO() ? 'a FIFO' : stats.isCharacterDevice() ? 'a character device' : stats.isSocket() ? 'a socket' : 'not a file';
      return { ok: false, problem: problemOf(path, new NotRegularFileError(kind)) };
    }
    return { ok: true, stamp: stampFrom(stats), size: Number(stats.size) };
  } catch (error) {
    return { ok: false, problem: problemOf(path, error) };
  }
}

export interface ReadHooks {
  /** Runs after the bytes were read and before the second fstat (tests rewrite the file here). */
  afterRead?: (attempt: number) => void;
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes`, with the stamp they belong to. A
 * file claiming more than `maxBytes` is refused before any byte is read.
 */
export function readStampedFile(path: string, maxBytes: number, hooks: ReadHooks = {}): ReadResult {
  for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
    let fd: number;
    try {
      fd = openRegularFile(path);
    } catch (error) {
      return { ok: false, problem: problemOf(path, error) };
    }
    try {
      const before = fstatSync(fd, { bigint: true });
      if (before.size > BigInt(maxBytes)) throw new FileTooLargeError(maxBytes);
      const bytes = readDescriptorCapped(fd, maxBytes);
      hooks.afterRead?.(attempt);
      const after = fstatSync(fd, { bigint: true });
      const stamp = stampFrom(before);
      // A writer truncating and rewriting in place: what was read may mix two versions.
      if (stampFrom(after).key === stamp.key && BigInt(bytes.length) === after.size) return { ok: true, bytes, stamp };
    } catch (error) {
      return { ok: false, problem: problemOf(path, error) };
    } finally {
      closeSync(fd);
    }
  }
  return { ok: false, problem: { reason: 'changing', message: `${path}: changed while being read, ${READ_ATTEMPTS} times in a row (write a new file and rename it over the old one)` } };
}
