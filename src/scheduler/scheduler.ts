import { describeError } from '../app/infra-error';
import type { Clock, Logger, Timers, Wakeup } from '../app/ports';

/** Node timers overflow past 2^31−1 ms and then fire at once: never arm longer than this. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export type SchedulerDeps = {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
  /**
   * The next moment something is due (a grant's `expires_at`, a request's deadline), read from the
   * database: one date, or the next date of each kind of work. Given per kind, a kind whose work failed
   * and waits for the backoff does not hide the others' due times.
   */
  readonly nextDue: () => Promise<Date | undefined | readonly (Date | undefined)[]>;
  /**
   * The run-once job; returns the ids whose work failed and must be retried, or `busy` when another
   * replica is running it right now (looked at again after `busyRetryMs`, not counted as a failure).
   */
  readonly run: (now: Date) => Promise<{ readonly failed: readonly string[]; readonly busy?: boolean }>;
  /** After a `busy` run: when to look again (default 250 ms). */
  readonly busyRetryMs?: number;
  /**
   * With nothing due sooner, look again after this long anyway (several replicas: a change another
   * replica made and whose notification was lost, or work a dead replica held). Absent: only wake-ups.
   */
  readonly pollMs?: number;
  /** Backoff for failed work: first delay, cap. */
  readonly retry?: { readonly baseMs: number; readonly maxMs: number; readonly random?: () => number };
};

export type Scheduler = Wakeup & {
  /** Catches up on everything that came due while hallpass was down, then arms the timer. */
  start(): Promise<void>;
  stop(): void;
  /** Resolves when no run is in progress or pending (tests await this after moving the clock). */
  idle(): Promise<void>;
};

/**
 * One timer, armed for the next due time read from the database, re-armed whenever something
 * changes (`wake`). Not a polling loop: a grant closes at its `expires_at` to the timer's precision.
 * Runs never overlap; a wake during a run is answered when it ends, by re-arming from fresh due
 * times (something already due fires at once). Failed or throwing runs back off with jitter.
 */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const retry = { baseMs: 1_000, maxMs: 60_000, random: Math.random, ...deps.retry };
  let handle: unknown;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;
  /** Consecutive failed or throwing runs; a clean run resets it. */
  let failures = 0;
  /** When failed work is retried; set only while backing off. */
  let retryAt: number | undefined;
  /** The `now` of the run that failed: due times up to it are that run's failed work and wait for `retryAt`. */
  let failedAt: number | undefined;

  /** Delay before retry number `attempt` (1-based): between half and all of a ceiling that doubles, capped. */
  const backoffMs = (attempt: number): number => {
    const ceiling = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(attempt - 1, 20));
    // Full jitter, but never less than half the ceiling, so a flapping AWS is not hammered.
    return ceiling / 2 + (retry.random() * ceiling) / 2;
  };

  const readDue = async (now: number): Promise<number | undefined> => {
    try {
      const raw = await deps.nextDue();
      const times = (Array.isArray(raw) ? raw : [raw])
        .filter((d): d is Date => d instanceof Date)
        .map((d) => d.getTime())
        // While backing off, a due time up to the failed run's `now` is that run's failed work and
        // waits for `retryAt` (else it would pull the timer back to "now" after every run: a hot loop
        // that ignores the backoff). Due times of other kinds of work are still armed for on time.
        .filter((t) => failedAt === undefined || t > failedAt);
      return times.length === 0 ? undefined : Math.min(...times);
    } catch (error) {
      // The database is unreachable: look again later rather than lose the timer (or throw into a
      // timer callback, which would take the process down).
      deps.logger.error({ err: describeError(error) }, 'reading the next due time failed');
      return now + backoffMs(Math.max(failures, 1));
    }
  };

  /** Counts arms: a read of the due times that a later arm (or a run) overtook arms nothing. */
  let armSeq = 0;
  /** The read of the due times in progress, if any (`idle` waits for it). */
  let arming: Promise<void> | undefined;
  /** A wake came while a read was in progress: read once more when it ends. */
  let rearm = false;

  const arm = (): void => {
    if (stopped) return;
    // Wakes come in bursts (each change on every replica is one): while a read is in progress, they
    // are answered by one more read when it ends, not by a read each — the timer it set stays armed
    // meanwhile, so nothing due waits for the coalescing.
    if (arming !== undefined) {
      rearm = true;
      return;
    }
    if (handle !== undefined) deps.timers.clearTimeout(handle);
    handle = undefined;
    armSeq += 1;
    const seq = armSeq;
    const read = (async () => {
      const now = deps.clock.now().getTime();
      const due = await readDue(now);
      if (seq !== armSeq || stopped || running !== undefined) return;
      const poll = deps.pollMs === undefined ? Number.POSITIVE_INFINITY : now + deps.pollMs;
      const next = Math.min(due ?? Number.POSITIVE_INFINITY, retryAt ?? Number.POSITIVE_INFINITY, poll);
      if (next === Number.POSITIVE_INFINITY) return;
      // A clamped timer fires early; the run then finds nothing due and arms again for the rest.
      const delay = Math.min(Math.max(0, next - deps.clock.now().getTime()), MAX_TIMER_MS);
      if (handle !== undefined) deps.timers.clearTimeout(handle);
      handle = deps.timers.setTimeout(fire, delay);
    })();
    arming = read;
    void read.finally(() => {
      if (arming !== read) return;
      arming = undefined;
      if (rearm) {
        rearm = false;
        if (running === undefined) arm();
      }
    });
  };

  const runOnce = async (): Promise<void> => {
    do {
      again = false;
      const now = deps.clock.now();
      let failed: boolean;
      let busy = false;
      try {
        const result = await deps.run(now);
        failed = result.failed.length > 0;
        busy = result.busy === true;
      } catch (error) {
        failed = true;
        deps.logger.error({ err: describeError(error) }, 'scheduled run failed');
      }
      if (busy) {
        // Another replica is at it: what is due now is theirs; look again shortly in case they die.
        failedAt = now.getTime();
        retryAt = deps.clock.now().getTime() + (deps.busyRetryMs ?? 250);
      } else if (failed) {
        failures += 1;
        failedAt = now.getTime();
        retryAt = deps.clock.now().getTime() + backoffMs(failures);
      } else {
        failures = 0;
        failedAt = undefined;
        retryAt = undefined;
      }
    } while (again && !stopped);
  };

  const fire = (): void => {
    handle = undefined;
    armSeq += 1;
    if (running !== undefined) {
      again = true;
      return;
    }
    running = runOnce().finally(() => {
      running = undefined;
      arm();
    });
  };

  return {
    async start() {
      stopped = false;
      fire();
      await this.idle();
    },
    stop() {
      stopped = true;
      if (handle !== undefined) deps.timers.clearTimeout(handle);
      handle = undefined;
    },
    wake() {
      if (running !== undefined) {
        // The run in progress re-reads due times when it finishes.
        return;
      }
      arm();
    },
    async idle() {
      while (running !== undefined || arming !== undefined) {
        await running;
        await arming;
      }
    },
  };
}
