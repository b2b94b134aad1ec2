/**
 * Prometheus duration strings (`10s`, `1m30s`, `500ms`, `2w`), the syntax every Prometheus user
 * already writes in scrape configs. Same grammar as Prometheus' `model.ParseDuration`: units from
 * largest to smallest, each at most once, integer amounts only, `y` = 365d and `w` = 7d, and a bare
 * `0` allowed. Values are returned in seconds because everything downstream works in seconds.
 */

const UNITS = [
  ['y', 365 * 24 * 3600 * 1000],
  ['w', 7 * 24 * 3600 * 1000],
  ['d', 24 * 3600 * 1000],
  ['h', 3600 * 1000],
  ['m', 60 * 1000],
  ['s', 1000],
  ['ms', 1],
] as const;

// One optional group per unit, in order; the same shape as Prometheus' durationRE.
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Parses a Prometheus duration into seconds. Throws `Error` on anything else. */
export function parseDuration(text: string): number {
  if (typeof text !== 'string') throw new TypeError(`duration must be a string, got ${typeof text}`);
  if (text === '0') return 0;
  const match = text === '' ? null : DURATION.exec(text);
  if (!match) throw new Error(`invalid duration "${text}"`);
  let ms = 0;
  UNITS.forEach(([, unitMs], i) => {
    const amount = match[i + 1];
    if (amount !== undefined) ms += Number(amount) * unitMs;
  });
  // Prometheus keeps durations in int64 nanoseconds; far below that, we only need exact millisecond maths.
  if (!Number.isSafeInteger(ms)) throw new Error(`duration "${text}" is out of range`);
  return ms / 1000;
}

/** Formats seconds as the shortest Prometheus duration (`90` → `1m30s`, `0` → `0s`), rounded to ms. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`cannot format ${seconds} as a duration`);
  let ms = Math.round(seconds * 1000);
  if (ms === 0) return '0s';
  let out = '';
  for (const [unit, unitMs] of UNITS) {
    const amount = Math.floor(ms / unitMs);
    if (amount > 0) {
      out += `${amount}${unit}`;
      ms -= amount * unitMs;
    }
  }
  return out;
}
