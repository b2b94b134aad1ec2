/**
 * The basic auth checker's defences in isolation: the unknown-user comparison costs what a real
 * user's does, the comparison queue serves sources in their order (passed, unknown, failed) with one
 * place per source, and concurrent or repeated checks of one pair share or skip bcrypt.
 */
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { BasicAuthChecker, BcryptQueue, sourceOf, unknownUserHash, type QueueVerdict } from '../../src/server/basic-auth.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
/** A syntactically valid bcrypt hash of the given cost (nothing is compared against it here). */
const hashOfCost = (cost: number) => `$2y$${String(cost).padStart(2, '0')}$${'a'.repeat(53)}`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('the unknown-user comparison', () => {
  it('has the cost of the configured hashes (the highest of them), 10 with none', () => {
    const cost4 = bcrypt.hashSync('alice-secret', 4);
    expect(new BasicAuthChecker(new Map([['alice', cost4]])).unknownUserHashCost).toBe(4);
    expect(new BasicAuthChecker(new Map([['alice', hashOfCost(12)]])).unknownUserHashCost).toBe(12);
    expect(new BasicAuthChecker(new Map([['a', cost4], ['b', hashOfCost(6)]])).unknownUserHashCost).toBe(6);
    expect(new BasicAuthChecker(new Map()).unknownUserHashCost).toBe(10);
  });

  it('is a well-formed bcrypt hash, fresh each time, that no password matches', async () => {
    const hash = unknownUserHash([hashOfCost(5)]);
    expect(hash).toMatch(/^\$2b\$05\$[./A-Za-z0-9]{53}$/);
    expect(unknownUserHash([hashOfCost(5)])).not.toBe(hash);
    expect(await bcrypt.compare('', hash)).toBe(false);
  });

  it('with cost-4 users, an unknown user is refused about as fast as a wrong password (no enumeration by timing)', async () => {
    const checker = new BasicAuthChecker(new Map([['alice', bcrypt.hashSync('alice-secret', 4)]]));
    const timed = async (user: string, i: number) => {
      const started = performance.now();
      expect(await checker.check(basic(user, `guess-${i}`), '192.0.2.1')).toMatchObject({ ok: false, status: 401 });
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 15; i++) {
      known.push(await timed('alice', i));
      unknown.push(await timed('mallory', i));
    }
    console.info(`cost 4: wrong password ${median(known).toFixed(1)} ms, unknown user ${median(unknown).toFixed(1)} ms (medians)`);
    // A cost-10 dummy took ~80 ms here against ~1 ms for the cost-4 user.
    expect(median(unknown)).toBeLessThan(median(known) * 3 + 10);
    expect(checker.stats.bcryptComparisons).toBe(30);
  });
});

describe('sources', () => {
  it('are client addresses, IPv6 ones by their /64', () => {
    expect(sourceOf('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceOf('2001:db8:1:2::1')).toBe(sourceOf('2001:db8:1:2:ffff::9'));
    expect(sourceOf('2001:db8:1:2::1')).not.toBe(sourceOf('2001:db8:1:3::1'));
    expect(sourceOf('fe80::1%eth0')).toBe(sourceOf('fe80::2'));
    expect(sourceOf(undefined)).toBe('');
    expect(sourceOf('not an address')).toBe('not an address');
  });
});

/** A comparison that finishes when told to, with the given result. */
function gate(): { compare: () => Promise<boolean>; finish: (matched: boolean) => void; started: () => boolean } {
  let finish!: (matched: boolean) => void;
  let started = false;
  const done = new Promise<boolean>((resolve) => (finish = resolve));
  return {
    compare: () => {
      started = true;
      return done;
    },
    finish: (matched) => finish(matched),
    started: () => started,
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the comparison queue', () => {
  it('runs one comparison at a time: sources that passed first, then unknown ones, then those that failed', async () => {
    const queue = new BcryptQueue();
    // Give 'good' a pass and 'bad' a failure on record.
    const recordPass = gate();
    const passed = queue.run('good', recordPass.compare);
    recordPass.finish(true);
    expect(await passed).toBe('match');
    const recordFail = gate();
    const failed = queue.run('bad', recordFail.compare);
    recordFail.finish(false);
    expect(await failed).toBe('mismatch');
    expect([queue.classOf('good'), queue.classOf('new'), queue.classOf('bad')]).toEqual(['trusted', 'unknown', 'suspect']);

    const order: string[] = [];
    const blocker = gate();
    const running = queue.run('first', blocker.compare);
    const jobs = ['bad', 'new', 'good'].map((source) => queue.run(source, async () => (order.push(source), false)));
    await tick();
    expect(queue.waiting).toBe(3);
    blocker.finish(false);
    await Promise.all([running, ...jobs]);
    expect(order).toEqual(['good', 'new', 'bad']);
  });

  it('gives a source one place: a second pair from it while one waits is 429', async () => {
    const queue = new BcryptQueue();
    const blocker = gate();
    const first = queue.run('10.0.0.1', blocker.compare);
    expect(await queue.run('10.0.0.1', async () => true)).toBe<QueueVerdict>('source_busy');
    blocker.finish(false);
    expect(await first).toBe('mismatch');
    // Its place is free again once the comparison is over.
    expect(await queue.run('10.0.0.1', async () => true)).toBe('match');
  });

  it('when full, a newcomer displaces the latest waiting one of a lower class, never one of its own or a higher', async () => {
    const queue = new BcryptQueue({ maxQueued: 2 });
    const fail = gate();
    const failing = queue.run('bad', fail.compare);
    fail.finish(false);
    await failing;
    const pass = gate();
    const passing = queue.run('good', pass.compare);
    pass.finish(true);
    await passing;

    const blocker = gate();
    const running = queue.run('x', blocker.compare);
    const suspect = queue.run('bad', async () => false);
    const unknown = queue.run('new1', async () => false);
    // Full: another unknown source has no lower-class entry to displace but the suspect one.
    const unknown2 = queue.run('new2', async () => false);
    expect(await suspect).toBe('queue_full');
    // Full of unknown ones: a further unknown source is turned away, a trusted one displaces the latest.
    expect(await queue.run('new3', async () => false)).toBe('queue_full');
    const trusted = queue.run('good', async () => true);
    expect(await unknown2).toBe('queue_full');
    blocker.finish(false);
    expect(await Promise.all([running, unknown, trusted])).toEqual(['mismatch', 'mismatch', 'match']);
  });
});

describe('the checker', () => {
  it('checks concurrent requests with one pair with one comparison (a Prometheus fanning out /probe after a reload)', async () => {
    const checker = new BasicAuthChecker(new Map([['prometheus', bcrypt.hashSync('scrape-secret', 4)]]));
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => checker.check(basic('prometheus', 'scrape-secret'), '192.0.2.10')));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(checker.stats.bcryptComparisons).toBe(1);
  });

  it('refuses a repeated failing pair without bcrypt, and a new checker (a reload) forgets it', async () => {
    const users = new Map([['alice', bcrypt.hashSync('alice-secret', 4)]]);
    const checker = new BasicAuthChecker(users);
    for (let i = 0; i < 50; i++) expect(await checker.check(basic('alice', 'guess'), '10.0.0.1')).toMatchObject({ ok: false, status: 401 });
    for (let i = 0; i < 5; i++) expect(await checker.check(basic('mallory', 'guess'), '10.0.0.1')).toMatchObject({ ok: false, status: 401 });
    expect(checker.stats).toMatchObject({ bcryptComparisons: 2, failedPairHits: 53 });
    const reloaded = new BasicAuthChecker(users);
    expect(await reloaded.check(basic('alice', 'guess'), '10.0.0.1')).toMatchObject({ ok: false, status: 401 });
    expect(reloaded.stats.bcryptComparisons).toBe(1);
  });
});
