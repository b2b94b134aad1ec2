import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { acceptsGzip, gzipped } from '../../src/server/encoding.js';

describe('acceptsGzip', () => {
  it('reads Accept-Encoding as RFC 9110 says: codings, wildcard and qualities', () => {
    for (const header of ['gzip', 'gzip, deflate', 'deflate, gzip;q=0.5', 'GZIP', 'x-gzip', '*', 'br;q=1, *;q=0.1', ['deflate', 'gzip']]) {
      expect(acceptsGzip(header), String(header)).toBe(true);
    }
    for (const header of [undefined, '', 'identity', 'deflate, br', 'gzip;q=0', 'gzip;q=0.000, *', '*;q=0', 'gzip;q=abc', 'gzipx']) {
      expect(acceptsGzip(header), String(header)).toBe(false);
    }
  });
});

describe('gzipped', () => {
  it('streams the body gzipped, and fails the stream when the body fails', async () => {
    // More than one 1 MiB group, with non-ASCII text.
    const chunks = ['# HELP a x\n', ...Array.from({ length: 40 }, (_, i) => `a{b="c${i}é"} 1\n`.repeat(4000))];
    const out: Buffer[] = [];
    for await (const chunk of gzipped(chunks)) out.push(chunk as Buffer);
    expect(gunzipSync(Buffer.concat(out)).toString()).toBe(chunks.join(''));

    // A chunk larger than the encoding Buffers (a hostile label value), between ordinary ones.
    const huge = ['a 1\n', `b{v="${'ü'.repeat(600_000)}"} 1\n`, 'c 1\n'];
    const hugeOut: Buffer[] = [];
    for await (const chunk of gzipped(huge)) hugeOut.push(chunk as Buffer);
    expect(gunzipSync(Buffer.concat(hugeOut)).toString()).toBe(huge.join(''));

    const failing = (function* () {
      yield 'a 1\n';
      throw new Error('render failed');
    })();
    await expect(async () => {
      for await (const _ of gzipped(failing)) void _;
    }).rejects.toThrow('render failed');
  });

  it('stops reading the text when the reader goes away', async () => {
    let produced = 0;
    const endless = (function* () {
      for (;;) {
        produced++;
        yield `x{i="${produced}"} 1\n`.repeat(2000);
      }
    })();
    const stream = gzipped(endless);
    for await (const _ of stream) break; // the client disconnects after the first bytes
    const after = produced;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stream.destroyed).toBe(true);
    expect(produced - after).toBeLessThanOrEqual(1);
  });
});
