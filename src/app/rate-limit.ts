import type { Clock } from './ports';

/**
 * A per-user sliding window: at most `limit` admissions in any `windowMs`. In memory on purpose —
 * it protects the process (and Slack's rate limits) from one user flooding `/access`, and a
 * restart forgetting it is harmless.
 */
export class RateLimiter {
  private readonly seen = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Records an attempt and says whether it is allowed; refused attempts do not count. */
  admit(key: string): boolean {
    const now = this.clock.now().getTime();
    const recent = (this.seen.get(key) ?? []).filter((t) => t > now - this.windowMs && t <= now);
    if (recent.length >= this.limit) {
      this.seen.set(key, recent);
      return false;
    }
    recent.push(now);
    this.seen.set(key, recent);
    if (this.seen.size > 10_000) this.prune(now);
    return true;
  }

  private prune(now: number): void {
    for (const [key, times] of this.seen) {
      if (times.every((t) => t <= now - this.windowMs)) this.seen.delete(key);
    }
  }
}

/** `/access` commands one person may send per minute before hallpass answers "slow down". */
export const COMMANDS_PER_MINUTE = 10;
