import type { RateLimits } from '../../../app/ports';

/**
 * How many keys are kept before the first sweep of those whose window has passed. A key is a person
 * (or an automation) with an admission inside its window, a few hundred bytes: at 10,000 the soak's
 * stream of new requesters held about 2 MB of stale keys between sweeps.
 */
export const SWEEP_FLOOR = 1_000;

/**
 * `RateLimits` in memory, exact for one process (as `RateLimiter`): per key, the admissions inside the
 * window. A refused attempt is not recorded. An admission stamped later than `now` (the clock went
 * backwards) is forgotten, so a clock jump never refuses anyone for longer than a window. Memory stays
 * bounded: a key keeps at most `limit` times, and keys whose window has passed are swept once the map
 * doubles in size since the last sweep (so a sweep costs O(1) per admission, amortized).
 */
export function createLocalRateLimits(): RateLimits & { readonly size: number } {
  const seen = new Map<string, { readonly times: number[]; readonly windowMs: number }>();
  let sweepAt = SWEEP_FLOOR;

  const inWindow = (times: readonly number[], now: number, windowMs: number): number[] =>
    times.filter((t) => t > now - windowMs && t <= now);

  const sweep = (now: number): void => {
    for (const [key, entry] of seen) {
      if (inWindow(entry.times, now, entry.windowMs).length === 0) seen.delete(key);
    }
    sweepAt = Math.max(SWEEP_FLOOR, seen.size * 2);
  };

  return {
    async admit(key, limit, windowMs, now) {
      const at = now.getTime();
      const times = inWindow(seen.get(key)?.times ?? [], at, windowMs);
      const allowed = times.length < limit;
      if (allowed) times.push(at);
      if (times.length === 0) seen.delete(key);
      else seen.set(key, { times, windowMs });
      if (seen.size > sweepAt) sweep(at);
      return allowed;
    },
    /** Keys kept now (tests: the bound). */
    get size() {
      return seen.size;
    },
  };
}
