/** Waiting with a deadline: what every wait of the exporter needs and no promise gives by itself. */

/** The promise's value, or null when `deadlineMs` (Unix ms) passes first; the timer is cleared either way. */
export async function withDeadline<T>(promise: Promise<T>, deadlineMs: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), Math.max(0, deadlineMs - Date.now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
