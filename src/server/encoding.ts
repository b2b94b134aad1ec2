/**
 * Compression of /metrics. Prometheus asks for gzip on every scrape (`Accept-Encoding: gzip`), and
 * the text compresses about twentyfold: at 10,000 addresses 32 MiB become ~1.9 MiB for ~45 ms of
 * CPU at gzip's fastest level, spent on libuv's thread pool rather than the event loop. On
 * loopback that makes a scrape slower (docs/performance.md); over a network it is far faster.
 */
import { constants, createGzip, type Gzip } from 'node:zlib';

/**
 * Whether an Accept-Encoding header (RFC 9110 §12.5.3) accepts gzip: `gzip` or `*` listed with a
 * quality above 0. No header means no compression.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | null = null;
  let any: number | null = null;
  for (const item of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding = '', ...params] = item.split(';').map((part) => part.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    if (!Number.isFinite(quality)) continue;
    if (coding === 'gzip' || coding === 'x-gzip') gzip = quality;
    else if (coding === '*') any = quality;
  }
  return (gzip ?? any ?? 0) > 0;
}

/**
 * What goes into zlib at a time. Fed 64 K text chunks one by one it spent ~1.6× the time on
 * thread-pool round trips; fed a new Buffer per group, those Buffers (35 MB per scrape at 10,000
 * addresses, outside V8's heap) raised the peak RSS by 20–30 MiB until V8 collected them. So the
 * text is encoded into two Buffers used in turn: one is compressed while the other fills.
 */
const GZIP_INPUT_BYTES = 1024 * 1024;

/** `chunks` as one gzip stream. An error thrown by `chunks` ends the stream with that error. */
export function gzipped(chunks: Iterable<string>): Gzip {
  const gzip = createGzip({ level: constants.Z_BEST_SPEED, chunkSize: 256 * 1024 });
  void feed(chunks, gzip).then(
    () => {
      if (!gzip.destroyed) gzip.end();
    },
    (error: unknown) => gzip.destroy(error instanceof Error ? error : new Error(String(error))),
  );
  return gzip;
}

async function feed(chunks: Iterable<string>, gzip: Gzip): Promise<void> {
  const buffers = [Buffer.allocUnsafe(GZIP_INPUT_BYTES), Buffer.allocUnsafe(GZIP_INPUT_BYTES)];
  /** Settles when zlib has taken the bytes of buffers[i]; until then that Buffer must not change. */
  const inFlight: Array<Promise<void> | null> = [null, null];
  let current = 0;
  let used = 0;

  const write = (bytes: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      gzip.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  const flush = async (): Promise<void> => {
    if (used === 0) return;
    const written = write(buffers[current]!.subarray(0, used));
    written.catch(() => undefined); // awaited below or at the end; a reader gone meanwhile is no unhandled rejection
    inFlight[current] = written;
    current = 1 - current;
    used = 0;
    // The other Buffer must be free before it is filled.
    await inFlight[current];
    inFlight[current] = null;
  };

  for (const chunk of chunks) {
    if (gzip.destroyed) return;
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit.
    if (used + chunk.length * 3 > GZIP_INPUT_BYTES) await flush();
    if (chunk.length * 3 > GZIP_INPUT_BYTES) {
      await write(Buffer.from(chunk, 'utf8')); // a chunk larger than a Buffer (hostile label values)
      continue;
    }
    used += buffers[current]!.write(chunk, used, 'utf8');
  }
  await flush();
  await Promise.all(inFlight);
}
