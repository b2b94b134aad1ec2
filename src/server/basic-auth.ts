/**
 * HTTP basic auth (RFC 7617) against the web config's bcrypt hashes. bcrypt is slow on purpose
 * (~80 ms of CPU at cost 10 in pure JS), so, like exporter-toolkit, successful checks are cached: a
 * Prometheus scraping every 15 s pays for one comparison, not one per scrape, and cached
 * credentials never wait for a comparison. The cache is keyed by an HMAC of user and password under
 * a per-process random key, so neither the lookup's timing nor the memory holds anything an
 * attacker can use. Pairs that failed are remembered the same way, so a repeated guess is refused
 * without bcrypt, and concurrent checks of one pair share one comparison. The comparisons
 * themselves go through a {@link BcryptQueue}: one at a time, so a password-guessing flood costs
 * one core at most, fairly across client addresses, with clients that got in before served first.
 * bcryptjs' async compare runs on the main thread in slices of at most 100 ms (at cost 10 one
 * comparison is one ~80 ms slice), so sockets keep being served between comparisons.
 */
import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { formatIpAddress, networkOf, parseIpAddress, withoutZone } from '../net/ip.js';
import { BoundedCache } from '../util/cache.js';

/** Used for the unknown-user comparison when no user is configured at all (the cost htpasswd suggests). */
const DEFAULT_BCRYPT_COST = 10;

/** bcrypt reads at most 72 bytes; longer passwords would match on their prefix alone, so they are refused. */
const BCRYPT_MAX_PASSWORD_BYTES = 72;

/**
 * A hash nobody knows a password for, compared against when the user does not exist, so an unknown
 * user takes as long to refuse as a wrong password (no user enumeration by timing). Its cost is the
 * highest of the configured hashes' (a fixed cost-10 dummy told unknown users apart from cost-4 or
 * cost-12 ones). bcrypt's work depends on the cost and the salt only, so a random salt and a random
 * digest make a valid hash without paying for generating one: no password yields that digest.
 */
export function unknownUserHash(hashes: Iterable<string>): string {
  let cost = 0;
  for (const hash of hashes) cost = Math.max(cost, bcrypt.getRounds(hash));
  if (cost === 0) cost = DEFAULT_BCRYPT_COST;
  const salt = bcrypt.encodeBase64(randomBytes(16), 16);
  const digest = bcrypt.encodeBase64(randomBytes(23), 23);
  return `$2b$${String(cost).padStart(2, '0')}$${salt}${digest}`;
}

/**
 * Whom a request is counted against in the comparison queue: its client address, an IPv6 client by
 * its /64 (one subscriber's or host's usual allocation, RFC 6177), so rotating addresses inside one
 * network does not buy more queue places. Anything that is no IP address counts as itself.
 */
export function sourceOf(ip: string | undefined): string {
  if (!ip) return '';
  const address = parseIpAddress(withoutZone(ip));
  if (!address) return ip;
  return address.family === 4 ? formatIpAddress(address) : `${formatIpAddress(networkOf(address, 64))}/64`;
}

export type BasicAuthOutcome =
  | { ok: true; user: string; cached: boolean }
  | { ok: false; status: 401; reason: string }
  | { ok: false; status: 429; reason: string };

export interface BasicAuthStats {
  /** bcrypt comparisons actually run. */
  bcryptComparisons: number;
  /** Requests accepted from the cache without bcrypt. */
  cacheHits: number;
  /** Requests refused as a repeat of a pair that already failed, without bcrypt. */
  failedPairHits: number;
  /** Requests refused with 429: the queue was full, or their source already had a different pair waiting. */
  queueRejections: number;
}

export interface BcryptQueueOptions {
  /** Comparisons allowed to wait behind the running one before 429; default 64. */
  maxQueued?: number;
  /** Sources remembered as having passed, and as having failed, a check (least recent forgotten first); default 4096 each. */
  rememberedSources?: number;
}

export interface BasicAuthOptions extends BcryptQueueOptions {
  /** Successful (user, password) pairs remembered; default 256. */
  cacheSize?: number;
  /** Failed (user, password) pairs remembered, refused again without bcrypt; default 4096. */
  failedPairCacheSize?: number;
}

/** What became of a comparison handed to the queue. */
export type QueueVerdict = 'match' | 'mismatch' | 'source_busy' | 'queue_full';

/** Queue classes, served in this order: sources that passed a check, unknown ones, ones that failed one. */
const TRUSTED = 0;
const UNKNOWN = 1;
const SUSPECT = 2;
type SourceClass = typeof TRUSTED | typeof UNKNOWN | typeof SUSPECT;

interface Waiting {
  source: string;
  compare: () => Promise<boolean>;
  settle: (verdict: QueueVerdict) => void;
}

/**
 * bcrypt comparisons, one at a time, fairly across sources: each source (see {@link sourceOf}) has
 * at most one comparison waiting or running, so a flood from many connections of one client holds
 * one place. Sources whose last check passed go first, then sources with no record, then those
 * whose last check failed; each class in arrival order. When the queue is full, a newcomer takes the
 * place of the latest waiting one of a lower class (which gets 429), so a scraper that was let in
 * before still gets in while guessers fill the queue, even just after a reload emptied the
 * credential cache: the records outlive reloads (WebAccess keeps one queue for the process).
 */
export class BcryptQueue {
  readonly #maxQueued: number;
  readonly #waiting: [Waiting[], Waiting[], Waiting[]] = [[], [], []];
  readonly #busySources = new Set<string>();
  readonly #passedSources: BoundedCache<string, true>;
  readonly #failedSources: BoundedCache<string, true>;
  #running = false;

  constructor(options: BcryptQueueOptions = {}) {
    this.#maxQueued = options.maxQueued ?? 64;
    this.#passedSources = new BoundedCache(options.rememberedSources ?? 4096);
    this.#failedSources = new BoundedCache(options.rememberedSources ?? 4096);
  }

  /** Comparisons waiting (not the running one). */
  get waiting(): number {
    return this.#waiting[TRUSTED].length + this.#waiting[UNKNOWN].length + this.#waiting[SUSPECT].length;
  }

  /** The class `source` is queued in. */
  classOf(source: string): 'trusted' | 'unknown' | 'suspect' {
    return (['trusted', 'unknown', 'suspect'] as const)[this.#classOf(source)];
  }

  #classOf(source: string): SourceClass {
    if (this.#failedSources.has(source)) return SUSPECT;
    return this.#passedSources.has(source) ? TRUSTED : UNKNOWN;
  }

  /** Records a failed check of `source` that needed no comparison (a repeated failing pair). */
  noteFailure(source: string): void {
    this.#passedSources.delete(source);
    this.#failedSources.set(source, true);
  }

  #notePass(source: string): void {
    this.#failedSources.delete(source);
    this.#passedSources.set(source, true);
  }

  run(source: string, compare: () => Promise<boolean>): Promise<QueueVerdict> {
    if (this.#busySources.has(source)) return Promise.resolve('source_busy');
    const sourceClass = this.#classOf(source);
    if (this.waiting >= this.#maxQueued) {
      let displaced: Waiting | undefined;
      for (let lower = SUSPECT; lower > sourceClass && !displaced; lower--) displaced = this.#waiting[lower]!.pop();
      if (!displaced) return Promise.resolve('queue_full');
      this.#busySources.delete(displaced.source);
      displaced.settle('queue_full');
    }
    return new Promise<QueueVerdict>((settle) => {
      this.#waiting[sourceClass].push({ source, compare, settle });
      this.#busySources.add(source);
      this.#next();
    });
  }

  #next(): void {
    if (this.#running) return;
    const job = this.#waiting[TRUSTED].shift() ?? this.#waiting[UNKNOWN].shift() ?? this.#waiting[SUSPECT].shift();
    if (!job) return;
    this.#running = true;
    // Hashes are validated at load, so compare does not throw; if it did, the check fails closed.
    job
      .compare()
      .catch(() => false)
      .then((matched) => {
        this.#running = false;
        this.#busySources.delete(job.source);
        if (matched) this.#notePass(job.source);
        else this.noteFailure(job.source);
        job.settle(matched ? 'match' : 'mismatch');
        this.#next();
      });
  }
}

/** `Basic base64(user:password)` → its parts; null when absent or malformed (RFC 7617 §2). */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | null {
  if (!header) return null;
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export class BasicAuthChecker {
  readonly #users: Map<string, string>;
  readonly #unknownUserHash: string;
  readonly #secret = randomBytes(32);
  /** HMACs of (user, password) pairs that matched, least recently used evicted first. */
  readonly #cache: BoundedCache<string, true>;
  /**
   * HMACs of pairs that did not match. A new checker is made for every loaded web config, so a
   * pair refused here can only start matching with a new file, which starts with an empty record.
   */
  readonly #failedPairs: BoundedCache<string, true>;
  /** Comparisons under way by pair: concurrent requests with the same credentials wait for one. */
  readonly #inFlight = new Map<string, Promise<QueueVerdict>>();
  readonly #queue: BcryptQueue;
  readonly #stats: BasicAuthStats = { bcryptComparisons: 0, cacheHits: 0, failedPairHits: 0, queueRejections: 0 };

  /** `queue`: shared across reloads by WebAccess; by default one of the checker's own. */
  constructor(users: Map<string, string>, options: BasicAuthOptions = {}, queue: BcryptQueue = new BcryptQueue(options)) {
    this.#users = new Map(users);
    this.#unknownUserHash = unknownUserHash(this.#users.values());
    this.#cache = new BoundedCache(options.cacheSize ?? 256);
    this.#failedPairs = new BoundedCache(options.failedPairCacheSize ?? 4096);
    this.#queue = queue;
  }

  get enabled(): boolean {
    return this.#users.size > 0;
  }

  get stats(): BasicAuthStats {
    return { ...this.#stats };
  }

  /** The cost of the hash unknown users are compared against (the highest configured cost). */
  get unknownUserHashCost(): number {
    return bcrypt.getRounds(this.#unknownUserHash);
  }

  /** `clientIp`: the request's client address, for fair queueing (see {@link sourceOf}). */
  async check(authorization: string | undefined, clientIp?: string): Promise<BasicAuthOutcome> {
    const credentials = parseBasicAuthorization(authorization);
    if (!credentials) return { ok: false, status: 401, reason: authorization ? 'malformed Authorization header' : 'no credentials' };
    const { user, password } = credentials;
    const hash = this.#users.get(user);
    const key = createHmac('sha256', this.#secret).update(user).update('\u0000').update(password).digest('base64');
    const source = sourceOf(clientIp);
    // `get` refreshes the pair's place: the cache evicts the least recently used one.
    if (hash !== undefined && this.#cache.get(key)) {
      this.#stats.cacheHits++;
      return { ok: true, user, cached: true };
    }
    const refused = { ok: false, status: 401, reason: 'wrong user name or password' } as const;
    if (this.#failedPairs.get(key)) {
      this.#stats.failedPairHits++;
      this.#queue.noteFailure(source);
      return refused;
    }
    let verdict = this.#inFlight.get(key);
    if (!verdict) {
      const tooLong = Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_PASSWORD_BYTES;
      verdict = this.#queue.run(source, async () => {
        this.#stats.bcryptComparisons++;
        const matched = await bcrypt.compare(tooLong ? '' : password, hash ?? this.#unknownUserHash);
        return matched && hash !== undefined && !tooLong;
      });
      this.#inFlight.set(key, verdict);
      void verdict.finally(() => this.#inFlight.delete(key));
    }
    switch (await verdict) {
      case 'match':
        this.#cache.set(key, true);
        return { ok: true, user, cached: false };
      case 'mismatch':
        this.#failedPairs.set(key, true);
        return refused;
      case 'source_busy':
        this.#stats.queueRejections++;
        return { ok: false, status: 429, reason: 'a password check from this client is already in progress' };
      case 'queue_full':
        this.#stats.queueRejections++;
        return { ok: false, status: 429, reason: 'too many password checks in progress' };
    }
  }
}
