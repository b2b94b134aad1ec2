/**
 * HTTP basic auth (RFC 7617) against the web config's bcrypt hashes. bcrypt is slow on purpose
 * (~80 ms of CPU at cost 10 in pure JS), so, like exporter-toolkit, successful checks are cached: a
 * Prometheus scraping every 15 s pays for one comparison, not one per scrape. The cache is keyed by
 * an HMAC of user and password under a per-process random key, so neither the lookup's timing nor
 * the memory holds anything an attacker can use. Comparisons run one at a time (exporter-toolkit
 * holds a mutex too) with a bounded queue, so a password-guessing flood costs one core at most and
 * gets 429s beyond the queue, while already-verified scrapers skip the queue.
 */
import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import pLimit from 'p-limit';
import { BoundedCache } from '../util/cache.js';

/**
 * A cost-10 hash of a random string nobody knows, compared against when the user does not exist,
 * so an unknown user takes as long to refuse as a wrong password (no user enumeration by timing).
 */
const UNKNOWN_USER_HASH = '$2y$10$d9rwriV7YgenubOBKoWNy.i2RDZ/ITe2mwBVDMGxGpXzcKyDY9Cm6';

/** bcrypt reads at most 72 bytes; longer passwords would match on their prefix alone, so they are refused. */
const BCRYPT_MAX_PASSWORD_BYTES = 72;

export type BasicAuthOutcome =
  | { ok: true; user: string; cached: boolean }
  | { ok: false; status: 401; reason: string }
  | { ok: false; status: 429; reason: string };

export interface BasicAuthStats {
  /** bcrypt comparisons actually run. */
  bcryptComparisons: number;
  /** Requests accepted from the cache without bcrypt. */
  cacheHits: number;
  /** Requests refused with 429 because the comparison queue was full. */
  queueRejections: number;
}

export interface BasicAuthOptions {
  /** Successful (user, password) pairs remembered; default 256. */
  cacheSize?: number;
  /** Comparisons allowed to wait behind the running one before 429; default 64. */
  maxQueued?: number;
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
  readonly #secret = randomBytes(32);
  /** HMACs of (user, password) pairs that matched, least recently used evicted first. */
  readonly #cache: BoundedCache<string, true>;
  readonly #maxQueued: number;
  readonly #limit = pLimit(1);
  readonly #stats: BasicAuthStats = { bcryptComparisons: 0, cacheHits: 0, queueRejections: 0 };

  constructor(users: Map<string, string>, options: BasicAuthOptions = {}) {
    this.#users = new Map(users);
    this.#cache = new BoundedCache(options.cacheSize ?? 256);
    this.#maxQueued = options.maxQueued ?? 64;
  }

  get enabled(): boolean {
    return this.#users.size > 0;
  }

  get stats(): BasicAuthStats {
    return { ...this.#stats };
  }

  async check(authorization: string | undefined): Promise<BasicAuthOutcome> {
    const credentials = parseBasicAuthorization(authorization);
    if (!credentials) return { ok: false, status: 401, reason: authorization ? 'malformed Authorization header' : 'no credentials' };
    const { user, password } = credentials;
    const hash = this.#users.get(user);
    const key = createHmac('sha256', this.#secret).update(user).update('\u0000').update(password).digest('base64');
    // `get` refreshes the pair's place: the cache evicts the least recently used one.
    if (hash !== undefined && this.#cache.get(key)) {
      this.#stats.cacheHits++;
      return { ok: true, user, cached: true };
    }
    if (this.#limit.pendingCount >= this.#maxQueued) {
      this.#stats.queueRejections++;
      return { ok: false, status: 429, reason: 'too many password checks in progress' };
    }
    const tooLong = Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_PASSWORD_BYTES;
    const matched = await this.#limit(async () => {
      this.#stats.bcryptComparisons++;
      return bcrypt.compare(tooLong ? '' : password, hash ?? UNKNOWN_USER_HASH);
    });
    if (!matched || hash === undefined || tooLong) return { ok: false, status: 401, reason: 'wrong user name or password' };
    this.#cache.set(key, true);
    return { ok: true, user, cached: false };
  }
}
