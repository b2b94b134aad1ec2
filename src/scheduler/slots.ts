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
  deadlineMs: number;
  start: () => void;
  timer: NodeJS.Timeout | null;
}

function validConcurrency(value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`probe slots: concurrency must be a positive integer, got ${String(value)}`);
  return value;
}

export function createProbeSlots(concurrency: number, now: () => number = Date.now): ProbeSlots {
  let limit = validConcurrency(concurrency);
  let active = 0;
  // A Set keeps insertion order (FIFO) and lets a waiter whose deadline passed leave in O(1).
  const waiting = new Set<Waiter>();

  /** Hands free slots to the oldest waiters. */
  function startWaiters(): void {
    for (const waiter of waiting) {
      if (active >= limit) return;
      waiting.delete(waiter);
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.start();
    }
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
        running.then(resolve, reject).finally(() => {
          active--;
          startWaiters();
        });
      };
      if (active < limit && waiting.size === 0) {
        start();
        return;
      }
      const waiter: Waiter = { deadlineMs, start, timer: null };
      if (Number.isFinite(deadlineMs)) {
        waiter.timer = setTimeout(() => {
          waiting.delete(waiter);
          resolve(null);
        }, Math.max(0, deadlineMs - now()));
      }
      waiting.add(waiter);
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
      return waiting.size;
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
