import { describe, expect, it } from 'vitest';
import { createProbeSlots, nestedSlots } from '../../src/scheduler/slots.js';

/** A task the test finishes by calling `release`. */
function heldTask() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  let started = false;
  return {
    task: async () => {
      started = true;
      await done;
      return 'ran';
    },
    release: () => release(),
    get started() {
      return started;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createProbeSlots', () => {
  it('answers a waiter at its deadline while every slot stays busy, without running it', async () => {
    const slots = createProbeSlots(1);
    const holder = heldTask();
    const holding = slots.run(holder.task, Infinity);
    const waiter = heldTask();
    const started = Date.now();
    const answer = await slots.run(waiter.task, started + 150);
    const elapsedMs = Date.now() - started;
    expect(answer).toBeNull();
    expect(waiter.started).toBe(false);
    expect(elapsedMs).toBeGreaterThanOrEqual(140);
    expect(elapsedMs).toBeLessThan(600);
    expect(slots.pendingCount).toBe(0); // it left the queue
    holder.release();
    expect(await holding).toBe('ran');
  });

  it('runs at most `concurrency` tasks, the rest in arrival order', async () => {
    const slots = createProbeSlots(2);
    const tasks = Array.from({ length: 5 }, () => heldTask());
    const order: number[] = [];
    const runs = tasks.map((t, i) => slots.run(async () => (order.push(i), t.task()), Infinity));
    await tick();
    expect([slots.activeCount, slots.pendingCount]).toEqual([2, 3]);
    for (const t of tasks) {
      t.release();
      await tick();
      expect(slots.activeCount).toBeLessThanOrEqual(2);
    }
    expect(await Promise.all(runs)).toEqual(['ran', 'ran', 'ran', 'ran', 'ran']);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('does not start a task whose deadline has passed when its slot frees up', async () => {
    let clock = 1_000;
    const slots = createProbeSlots(1, () => clock);
    const holder = heldTask();
    const holding = slots.run(holder.task, Infinity);
    const waiter = heldTask();
    const answer = slots.run(waiter.task, 60_000); // far away on the real timer
    clock = 60_000;
    holder.release();
    expect(await answer).toBeNull();
    expect(waiter.started).toBe(false);
    await holding;
  });

  it('starts waiters when the concurrency is raised, and rejects a bad one', async () => {
    const slots = createProbeSlots(1);
    const tasks = [heldTask(), heldTask()];
    const runs = tasks.map((t) => slots.run(t.task, Infinity));
    await tick();
    expect(tasks[1]!.started).toBe(false);
    slots.concurrency = 2;
    await tick();
    expect(tasks[1]!.started).toBe(true);
    for (const t of tasks) t.release();
    await Promise.all(runs);
    expect(() => (slots.concurrency = 0)).toThrow(RangeError);
    expect(() => createProbeSlots(1.5)).toThrow(/positive integer/);
  });

  it('frees the slot of a task that throws or rejects, and passes the error on', async () => {
    const slots = createProbeSlots(1);
    await expect(slots.run(() => Promise.reject(new Error('rejected')), Infinity)).rejects.toThrow('rejected');
    await expect(
      slots.run(() => {
        throw new Error('thrown');
      }, Infinity),
    ).rejects.toThrow('thrown');
    expect(slots.activeCount).toBe(0);
    expect(await slots.run(async () => 'next', Infinity)).toBe('next');
  });
});

describe('nestedSlots', () => {
  it('needs a slot of both, and gives up on either at the deadline', async () => {
    const share = createProbeSlots(1);
    const all = createProbeSlots(2);
    const nested = nestedSlots(share, all);
    const first = heldTask();
    const running = nested.run(first.task, Infinity);
    await tick();
    expect([share.activeCount, all.activeCount]).toEqual([1, 1]);
    // The share is full: the next waits there, and leaves at its deadline.
    const second = heldTask();
    expect(await nested.run(second.task, Date.now() + 50)).toBeNull();
    expect(second.started).toBe(false);
    // The other slot of `all` stays free for its other users.
    expect(await all.run(async () => 'sweep', Infinity)).toBe('sweep');
    first.release();
    expect(await running).toBe('ran');
  });
});

describe('createProbeSlots under many waiters', () => {
  it('keeps arrival order and the counts right when some waiters leave at their deadline', async () => {
    const slots = createProbeSlots(1);
    const holder = heldTask();
    const holding = slots.run(holder.task, Infinity);
    const order: number[] = [];
    const soon = Date.now() + 50;
    const runs = Array.from({ length: 3000 }, (_, i) =>
      slots.run(async () => {
        order.push(i);
        return i;
      }, i % 3 === 0 ? soon : Infinity),
    );
    expect(slots.pendingCount).toBe(3000);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(slots.pendingCount).toBe(2000);
    holder.release();
    const answers = await Promise.all(runs);
    await holding;
    expect(answers.filter((a) => a === null)).toHaveLength(1000);
    expect(order).toEqual(Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 3 !== 0));
    expect([slots.activeCount, slots.pendingCount]).toEqual([0, 0]);
  });
});
