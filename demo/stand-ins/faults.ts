/**
 * The EC2 stand-in's account-wide limits, kept apart from its rules: an API rate limit (EC2 meters
 * calls per account and region with a token bucket, and answers a call beyond it with
 * `RequestLimitExceeded`, HTTP 503) and a fixed latency per call. Real time throughout: a rate is
 * something the server measures, whatever clock the caller was given.
 */

/** EC2's request rate limit, as a token bucket. */
export type RateLimit = {
  /** Calls per second the account may make (the bucket's refill rate). */
  readonly perSecond: number;
  /** Calls that may arrive at once after a quiet spell (the bucket's size); default `perSecond`. */
  readonly burst?: number;
  /**
   * Calls per second other tools in the account make meanwhile (they share the budget): the bucket
   * refills at `perSecond − background` for hallpass. Default 0.
   */
  readonly background?: number;
};

/** A call the rate limit refused. */
export type RefusedCall = {
  readonly action: string;
  /** Real time of arrival (`Date.now()`). */
  readonly at: number;
};

/** The limits and what they refused; `admit` is asked once per call, at its arrival. */
export type Ec2Limits = {
  setRateLimit(limit: RateLimit | undefined): void;
  setLatency(ms: number): void;
  /** Milliseconds each answer is held back. */
  latencyMs(): number;
  /** False when the call is beyond the rate limit (and is then recorded as refused). */
  admit(action: string): boolean;
  /** Calls refused with `RequestLimitExceeded` so far. */
  throttledCount(): number;
  /** The calls refused so far, oldest first. */
  refused(): RefusedCall[];
};

export function createEc2Limits(now: () => number = Date.now): Ec2Limits {
  let limit: { rate: number; burst: number } | undefined;
  let tokens = 0;
  let filledAt = 0;
  let latency = 0;
  const refusedCalls: RefusedCall[] = [];

  return {
    setRateLimit(next) {
      if (next === undefined) {
        limit = undefined;
        return;
      }
      const burst = next.burst ?? next.perSecond;
      limit = { rate: Math.max(0, next.perSecond - (next.background ?? 0)), burst };
      // A new limit starts full, as after a quiet spell.
      tokens = burst;
      filledAt = now();
    },
    setLatency(ms) {
      latency = Math.max(0, ms);
    },
    latencyMs: () => latency,
    admit(action) {
      if (limit === undefined) return true;
      const at = now();
      tokens = Math.min(limit.burst, tokens + ((at - filledAt) / 1000) * limit.rate);
      filledAt = at;
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      refusedCalls.push({ action, at });
      return false;
    },
    throttledCount: () => refusedCalls.length,
    refused: () => refusedCalls.map((c) => ({ ...c })),
  };
}
