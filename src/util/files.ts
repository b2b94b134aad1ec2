/**
 * Reading the small files the exporter is pointed at (config, web config, CA bundles, keys,
 * responses given to `inspect`): one capped reader and one wording of file-system errors, so every
 * caller reports "no such file" the same way and none can be made to read without bound.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { CodedError, messageOf } from './errors.js';

export class FileTooLargeError extends CodedError<'ERR_FILE_TOO_LARGE'> {
  override readonly name = 'FileTooLargeError';
  constructor(readonly maxBytes: number) {
    super('ERR_FILE_TOO_LARGE', `larger than ${formatSize(maxBytes)}`);
  }
}

function formatSize(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MiB` : bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

/** A path that is (after following symbolic links) a device, FIFO, socket or directory, not a file. */
export class NotRegularFileError extends CodedError<'ERR_NOT_REGULAR_FILE'> {
  override readonly name = 'NotRegularFileError';
  constructor(readonly kind: string) {
    // A directory keeps the wording of EISDIR that users already see.
    super('ERR_NOT_REGULAR_FILE', kind === 'a directory' ? 'is a directory' : `not a regular file (${kind})`);
  }
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * Opens `path` for reading only if it is a regular file. O_NONBLOCK so that opening a FIFO with no
 * writer returns at once instead of blocking the event loop (POSIX open(2)); it changes nothing
 * for a regular file. The type is checked with fstat on the opened descriptor, after symbolic
 * links are followed, so a link to /dev/zero or a FIFO swapped in after a stat cannot get past it.
 */
export function openRegularFile(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new NotRegularFileError(kindOf(stats));
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Waits without spinning; only for a descriptor the caller chose to read synchronously (stdin). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Reads `fd` to its end, at most `maxBytes`: it stops one chunk past the cap with
 * {@link FileTooLargeError}, so the cap holds whatever the file's size claims to be.
 */
export function readDescriptorCapped(fd: number, maxBytes: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1));
  for (;;) {
    let read: number;
    try {
      read = readSync(fd, chunk, 0, chunk.length, null);
    } catch (error) {
      // A non-blocking pipe (stdin as Node may leave it) with nothing buffered yet.
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
        pause(10);
        continue;
      }
      throw error;
    }
    if (read === 0) break;
    total += read;
    if (total > maxBytes) throw new FileTooLargeError(maxBytes);
    chunks.push(Buffer.from(chunk.subarray(0, read)));
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  // The file may be a key (client keys, PEM bundles with their key): no copy outlives the result.
  chunk.fill(0);
  if (chunks.length > 1) for (const part of chunks) part.fill(0);
  return bytes;
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes`. Devices, FIFOs, sockets and
 * directories are refused with {@link NotRegularFileError} before anything is read: /dev/zero
 * never ends and a FIFO can block forever, so the size cap alone would not do.
 */
export function readFileCapped(path: string, maxBytes: number): Buffer {
  const fd = openRegularFile(path);
  try {
    return readDescriptorCapped(fd, maxBytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * Standard input to its end, at most `maxBytes`. Any kind of input is accepted (a pipe is the usual
 * one); only the cap applies. It blocks until the writer closes, which is what `-` on a command line
 * asks for.
 */
export function readStdinCapped(maxBytes: number): Buffer {
  return readDescriptorCapped(0, maxBytes);
}

/** {@link readFileCapped} as UTF-8 text. */
export function readTextFileCapped(path: string, maxBytes: number): string {
  return readFileCapped(path, maxBytes).toString('utf8');
}

/** The part of a file-system error a user needs: "no such file", not a stack of syscall details. */
export function describeFileError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENXIO':
      // open(2) with O_NONBLOCK on a socket file, or a FIFO opened for writing with no reader.
      return 'not a regular file (a socket or special file)';
    default:
      return messageOf(error);
  }
}
