/**
 * The pool's batching of messages (src/probe/batched-post.ts) over a real MessageChannel, whose
 * structured clone is the one worker threads use: one post per event-loop turn, order kept, and a
 * message that cannot be cloned reported on its own without taking the batch down with it.
 */
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { batchedPost } from '../../src/probe/batched-post.js';

interface Message {
  n: number;
  payload?: unknown;
}

function channel(): { send: (m: Message) => void; posts: () => number; received: Promise<Message[]>; unsendable: { n: number; error: string }[]; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  let posts = 0;
  const unsendable: { n: number; error: string }[] = [];
  const send = batchedPost<Message>(
    (batch) => {
      port1.postMessage(batch);
      posts++;
    },
    (message, error) => unsendable.push({ n: message.n, error: String(error) }),
  );
  const got: Message[] = [];
  const received = new Promise<Message[]>((resolve) => {
    port2.on('message', (batch: Message[]) => {
      got.push(...batch);
      if (got.some((m) => m.n === -1)) resolve(got.filter((m) => m.n !== -1));
    });
  });
  return { send, posts: () => posts, received, unsendable, close: () => (port1.close(), port2.close()) };
}

describe('batchedPost', () => {
  it('posts what one turn sent as one array, in order', async () => {
    const c = channel();
    for (let n = 0; n < 50; n++) c.send({ n });
    c.send({ n: -1 });
    expect(c.posts()).toBe(0); // nothing posted before the turn ends
    const got = await c.received;
    expect(got.map((m) => m.n)).toEqual([...Array(50).keys()]);
    expect(c.posts()).toBe(1);
    c.close();
  });

  it('a later turn is a new batch', async () => {
    const c = channel();
    c.send({ n: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    c.send({ n: 2 });
    c.send({ n: -1 });
    expect((await c.received).map((m) => m.n)).toEqual([1, 2]);
    expect(c.posts()).toBe(2);
    c.close();
  });

  it('an uncloneable message goes to unsendable; the others of its batch still arrive, in order', async () => {
    const c = channel();
    c.send({ n: 1 });
    c.send({ n: 2, payload: () => 'a function cannot be cloned' });
    c.send({ n: 3 });
    c.send({ n: -1 });
    expect((await c.received).map((m) => m.n)).toEqual([1, 3]);
    expect(c.unsendable).toEqual([{ n: 2, error: expect.stringMatching(/could not be cloned/) }]);
    c.close();
  });
});
