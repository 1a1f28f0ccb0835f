import type { Timers } from '../../app/ports';

/** Capped exponential backoff: the ceiling of the first delay, doubled after each failure up to `maxMs`. */
export type Backoff = { readonly initialMs: number; readonly maxMs: number };

/** Connecting to Slack: about 1 s, doubling to a minute. */
export const SLACK_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 60_000 };

/**
 * The delay before attempt `attempt + 1`, after `attempt` (1-based) failures: between half and all of
 * a ceiling that doubles from `initialMs` to `maxMs`. The jitter spreads replicas restarted together;
 * the floor keeps a Slack that is down from being asked again at once.
 */
export function backoffDelayMs(
  attempt: number,
  backoff: Backoff,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export type RetrierOptions = {
  /** One attempt; a rejection is a failure, retried after the backoff. */
  readonly attempt: () => Promise<void>;
  /** Told of each failure once: which attempt (1-based) failed, and when the next one is. Must not throw. */
  readonly onFailure: (error: unknown, attempt: number, retryInMs: number) => void;
  /** Told once when an attempt succeeds, with how many it took. Must not throw. */
  readonly onSuccess: (attempts: number) => void;
  readonly timers: Timers;
  readonly backoff: Backoff;
  readonly random?: () => number;
};

export type Retrier = {
  /**
   * Starts trying — at once, or after the first backoff delay with `delayed` — and keeps trying after
   * each failure until an attempt succeeds or `stop()`. Does nothing while already trying.
   */
  run(opts?: { delayed?: boolean }): void;
  /** Resolves when no attempt is in progress (a retry waiting for its time does not count). Never rejects. */
  idle(): Promise<void>;
  /** Cancels the retry waiting for its time; an attempt in progress finishes and its outcome is ignored. */
  stop(): void;
};

/**
 * Runs `attempt` until it succeeds, with capped exponential backoff and jitter between failures. No
 * failure escapes: each is caught and reported once through `onFailure`, so nothing can reject
 * unhandled; the only timer is the one waiting retry, which `stop()` clears.
 */
export function createRetrier(opts: RetrierOptions): Retrier {
  let trying = false;
  let stopped = false;
  let failures = 0;
  let handle: unknown;
  let inFlight: Promise<void> | undefined;

  const schedule = (ms: number): void => {
    handle = opts.timers.setTimeout(tryOnce, ms);
  };

  function tryOnce(): void {
    handle = undefined;
    if (stopped) return;
    const attempt = failures + 1;
    const run = Promise.resolve()
      .then(opts.attempt)
      .then(
        () => {
          if (stopped) return;
          trying = false;
          failures = 0;
          opts.onSuccess(attempt);
        },
        (error: unknown) => {
          if (stopped) return;
          failures = attempt;
          const delay = backoffDelayMs(attempt, opts.backoff, opts.random);
          schedule(delay);
          opts.onFailure(error, attempt, delay);
        },
      )
      // A reporter that throws despite its contract must not leave a rejection behind either.
      .catch(() => undefined)
      .finally(() => {
        if (inFlight === run) inFlight = undefined;
      });
    inFlight = run;
  }

  return {
    run(runOpts = {}) {
      if (stopped || trying) return;
      trying = true;
      failures = 0;
      if (runOpts.delayed === true) schedule(backoffDelayMs(1, opts.backoff, opts.random));
      else tryOnce();
    },
    async idle() {
      while (inFlight !== undefined) await inFlight;
    },
    stop() {
      stopped = true;
      if (handle !== undefined) opts.timers.clearTimeout(handle);
      handle = undefined;
    },
  };
}
