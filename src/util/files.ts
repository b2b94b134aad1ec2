/**
 * Reading the small files the exporter is pointed at (config, web config, CA bundles, keys,
 * responses given to `inspect`): one capped reader and one wording of file-system errors, so every
 * caller reports "no such file" the same way and none can be made to read without bound.
 */
import { closeSync, openSync, readSync } from 'node:fs';
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

/**
 * The file's bytes, at most `maxBytes`: it reads until the end and stops one chunk past the cap
 * with {@link FileTooLargeError}, so the cap holds whatever the file's size claims to be.
 */
export function readFileCapped(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1));
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      total += read;
      if (total > maxBytes) throw new FileTooLargeError(maxBytes);
      chunks.push(Buffer.from(chunk.subarray(0, read)));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
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
    default:
      return messageOf(error);
  }
}
