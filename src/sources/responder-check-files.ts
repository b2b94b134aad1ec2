/**
 * The certificate files `responder_checks` names, read with the staple files' reader
 * (src/files/read.ts: regular files only, capped, stamped by device, inode, size and mtime, read
 * again when rewritten during the read) and bundle decoder (src/files/certificates.ts: only CERTIFICATE
 * blocks are decoded, a private key in the bundle is skipped unread). Each file is kept until its
 * stamp changes, so a certificate rotated on disk is picked up at the next scrape and an unchanged
 * one costs one stat.
 */
import { MAX_CERTIFICATE_FILE_BYTES } from '../config/responder-checks.js';
import { certificatesOf } from '../files/certificates.js';
import { readStampedFile, stampFile, STAPLE_FILE_ERROR_REASONS, type FileProblem } from '../files/read.js';

/**
 * Values of the `reason` label of `ocsp_responder_check_certificate_error`: the staple files'
 * reasons (the certificate file's own problem), and `issuer_unreadable` for the `issuer:` file.
 */
export const CERTIFICATE_FILE_REASONS = [...STAPLE_FILE_ERROR_REASONS, 'issuer_unreadable'] as const;
export type CertificateFileReason = (typeof CERTIFICATE_FILE_REASONS)[number];

export type CertificateFileRead =
  | { ok: true; /** DER, the checked certificate first. */ certificates: readonly Uint8Array[] }
  | { ok: false; problem: FileProblem };

/** Reads and decodes the bundle at `path` now, with the stamp of what was read (null on failure). */
export function readCertificateFile(path: string): { read: CertificateFileRead; stampKey: string | null } {
  const file = readStampedFile(path, MAX_CERTIFICATE_FILE_BYTES);
  if (!file.ok) return { read: file, stampKey: null };
  const decoded = certificatesOf(file.bytes, path);
  // The bundle may hold a private key: do not leave its bytes in memory longer than the decoding.
  file.bytes.fill(0);
  return { read: decoded, stampKey: file.stamp.key };
}

/**
 * Certificate files by path, each kept until its stamp changes. Paths not read in a whole round
 * ({@link CertificateFiles.endRound}) are forgotten, so a glob's past matches do not pile up.
 */
export class CertificateFiles {
  #entries = new Map<string, { stampKey: string; read: CertificateFileRead }>();
  #seen = new Set<string>();

  /** The file's certificates, read again when its stamp changed since the last read. */
  read(path: string): CertificateFileRead {
    this.#seen.add(path);
    const known = this.#entries.get(path);
    if (known) {
      const stamp = stampFile(path);
      if (stamp.ok && stamp.stamp.key === known.stampKey) return known.read;
    }
    const { read, stampKey } = readCertificateFile(path);
    if (stampKey === null) this.#entries.delete(path);
    else this.#entries.set(path, { stampKey, read });
    return read;
  }

  /** Forgets the files not read since the last call. */
  endRound(): void {
    for (const path of this.#entries.keys()) if (!this.#seen.has(path)) this.#entries.delete(path);
    this.#seen = new Set();
  }

  /** Files kept (for tests). */
  get size(): number {
    return this.#entries.size;
  }
}
