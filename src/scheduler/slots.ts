/**
 * Probe slots: at most `concurrency` tasks at once, the rest waiting in arrival order, like p-limit,
 * with one difference the exporter needs: a waiter has a deadline, and when it passes the waiter
 * leaves the queue and is answered at once, without ever having run. With p-limit the deadline could
 * only be checked once a slot had freed up, so a queue full of slow probes (a flood of `/probe`
 * requests at a target that never answers) made `/metrics` answer long after Prometheus gave up.
 */

export interface ProbeSlots {
  /** Tasks run at once. Raising it starts waiters at once; lowering it lets running tasks finish. */
  concurrency: number;
  /** Tasks running now. */
  readonly activeCount: number;
  /** Tasks waiting for a slot. */
  readonly pendingCount: number;
  /**
   * `task`'s value once a slot is free, or null when `deadlineMs` (Unix ms by the clock the slots
   * were made with; `Infinity`: no deadline) passes first, in which case `task` never runs.
   */
  run<T>(task: () => Promise<T>, deadlineMs: number): Promise<T | null>;
}

/** What a caller that only queues needs of slots. */
export type SlotRunner = Pick<ProbeSlots, 'run'>;

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout | null;
  /** Left the queue at its deadline; skipped when its turn comes. */
  gone: boolean;
}

function validConcurrency(value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`probe slots: concurrency must be a positive integer, got ${String(value)}`);
  return value;
}

export function createProbeSlots(concurrency: number, now: () => number = Date.now): ProbeSlots {
  let limit = validConcurrency(concurrency);
  let active = 0;
  // FIFO as an array and a head index; a waiter leaving at its deadline is only marked (`gone`),
  // so both ends are O(1). (A Set's iteration walks past every deleted entry: 2x slower at 50,000.)
  let queue: Waiter[] = [];
  let head = 0;
  let pending = 0;

  /** Hands free slots to the oldest waiters. */
  function startWaiters(): void {
    while (active < limit && head < queue.length) {
      const waiter = queue[head++]!;
      if (waiter.gone) continue;
      pending--;
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.start();
    }
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  }

  function release(): void {
    active--;
    if (pending > 0) startWaiters();
  }

  function run<T>(task: () => Promise<T>, deadlineMs: number): Promise<T | null> {
    return new Promise<T | null>((resolve, reject) => {
      const start = (): void => {
        // The deadline may have passed on a clock the timer does not follow (or at the same tick).
        if (now() >= deadlineMs) {
          resolve(null);
          return;
        }
        active++;
        let running: Promise<T>;
        try {
          running = task();
        } catch (error) {
          running = Promise.reject(error);
        }
        running.then(
          (value) => {
            release();
            resolve(value);
          },
          (error: unknown) => {
            release();
            reject(error);
          },
        );
      };
      if (active < limit && pending === 0) {
        start();
        return;
      }
      const waiter: Waiter = { start, timer: null, gone: false };
      if (Number.isFinite(deadlineMs)) {
        waiter.timer = setTimeout(() => {
          waiter.gone = true;
          pending--;
          if (pending === 0) {
            // Everything still queued has left: drop it rather than keep it until a slot frees up.
            queue = [];
            head = 0;
          }
          resolve(null);
        }, Math.max(0, deadlineMs - now()));
      }
      queue.push(waiter);
      pending++;
    });
  }

  return {
    get concurrency() {
      return limit;
    },
    set concurrency(value: number) {
      limit = validConcurrency(value);
      startWaiters();
    },
    get activeCount() {
      return active;
    },
    get pendingCount() {
      return pending;
    },
    run,
  };
}

/**
 * Slots that need a slot of `outer` and then one of `inner` (`/probe`: its own share, then the
 * exporter-wide limit). A task waiting for `inner` holds its `outer` slot, never the reverse, so
 * the two cannot deadlock; the deadline bounds both waits.
 */
export function nestedSlots(outer: SlotRunner, inner: SlotRunner): SlotRunner {
  return {
    async run<T>(task: () => Promise<T>, deadlineMs: number): Promise<T | null> {
      const started = await outer.run(async () => ({ value: await inner.run(task, deadlineMs) }), deadlineMs);
      return started === null ? null : started.value;
    },
  };
}
