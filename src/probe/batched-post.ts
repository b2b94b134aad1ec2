/**
 * Messages between the pool and its workers travel in batches: everything one side posts during an
 * event-loop turn goes as one array, in one structured clone, waking the other thread once. Probes
 * finish in bursts (one poll of the sockets completes several handshakes), and each postMessage
 * costs a wake-up of the receiving thread and a message event there besides the clone.
 */

/** What to do with a message the batch could not carry (a clone failure): report it, never lose it silently. */
export type Unsendable<T> = (message: T, error: unknown) => void;

/**
 * A `send(message)` that queues and posts the queue as one array at the end of this turn
 * (setImmediate). If the array cannot be cloned, each message is posted alone, and the ones that
 * still fail go to `unsendable`; order is kept.
 */
export function batchedPost<T>(post: (batch: T[]) => void, unsendable: Unsendable<T>): (message: T) => void {
  let queue: T[] = [];
  const flush = (): void => {
    const batch = queue;
    queue = [];
    try {
      post(batch);
    } catch {
      for (const message of batch) {
        try {
          post([message]);
        } catch (error) {
          unsendable(message, error);
        }
      }
    }
  };
  return (message) => {
    if (queue.push(message) === 1) setImmediate(flush);
  };
}
