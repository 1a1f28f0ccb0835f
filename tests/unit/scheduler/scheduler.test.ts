import type { Logger } from '../../../src/app/ports';
import {
  createScheduler,
  MAX_TIMER_MS,
  type Scheduler,
  type SchedulerDeps,
} from '../../../src/scheduler/scheduler';
import { FakeClock } from '../../support/fake-clock';

const T0 = new Date('2030-01-02T03:04:05.678Z');
const S = 1_000;
const MIN = 60 * S;
const DAY = 24 * 60 * MIN;

type Outcome = { readonly failed: readonly string[] };
type Deferred = { promise: Promise<void>; resolve: () => void };

function deferred(): Deferred {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/**
 * A scheduler over a fake clock and a tiny model of the database: `due` holds the due times
 * (ms); a run "closes" every item due at its `now`, unless `work` is replaced.
 */
function harness(options: { due?: readonly Date[]; retry?: SchedulerDeps['retry'] } = {}) {
  const clock = new FakeClock(T0);
  const due = new Set<number>((options.due ?? []).map((d) => d.getTime()));
  const runs: Date[] = [];
  let active = 0;
  let maxActive = 0;
  const closeDue = async (now: Date): Promise<Outcome> => {
    for (const at of [...due]) if (at <= now.getTime()) due.delete(at);
    return { failed: [] };
  };
  const state = { work: closeDue, nextDueOverride: undefined as (() => Date | undefined) | undefined };
  const logger: Logger & { error: jest.Mock } = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
  const scheduler: Scheduler = createScheduler({
    clock,
    timers: clock,
    logger,
    nextDue: async () => {
      if (state.nextDueOverride !== undefined) return state.nextDueOverride();
      return due.size === 0 ? undefined : new Date(Math.min(...due));
    },
    run: async (now) => {
      runs.push(now);
      active += 1;
      maxActive = Math.max(maxActive, active);
      try {
        return await state.work(now);
      } finally {
        active -= 1;
      }
    },
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });

  return {
    clock,
    scheduler,
    runs,
    due,
    logger,
    state,
    closeDue,
    maxActive: () => maxActive,
    /** Moves time and waits until the run it may have started is over (and the timer re-armed). */
    advance: async (ms: number): Promise<void> => {
      clock.advance(ms);
      await scheduler.idle();
    },
    /** Milliseconds from now to the armed timer, or undefined when none is armed. */
    armedIn: (): number | undefined => {
      const at = clock.nextTimerAt();
      return at === undefined ? undefined : at.getTime() - clock.now().getTime();
    },
  };
}

const at = (ms: number): Date => new Date(T0.getTime() + ms);

describe('scheduler', () => {
  describe('start', () => {
    it('runs the job once at once to catch up, then arms the timer for the next due time', async () => {
      const h = harness({ due: [at(-5 * MIN), at(30 * MIN)] });

      await h.scheduler.start();

      expect(h.runs).toEqual([T0]);
      expect(h.clock.nextTimerAt()).toEqual(at(30 * MIN));
    });

    it('arms no timer when nothing is due', async () => {
      const h = harness();

      await h.scheduler.start();
      await h.advance(365 * DAY);

      expect(h.runs).toEqual([T0]);
      expect(h.clock.nextTimerAt()).toBeUndefined();
    });
  });

  describe('timing', () => {
    it('runs the job exactly at the due time, not a millisecond before, with now = the due time', async () => {
      const h = harness({ due: [at(30 * MIN)] });
      await h.scheduler.start();

      await h.advance(30 * MIN - 1);
      expect(h.runs).toEqual([T0]);

      await h.advance(1);
      expect(h.runs).toEqual([T0, at(30 * MIN)]);
    });

    it('runs once per due time when several come due one after another', async () => {
      const h = harness({ due: [at(10 * MIN), at(20 * MIN), at(20 * MIN + 1)] });
      await h.scheduler.start();

      for (const step of [10 * MIN, 10 * MIN, 1]) await h.advance(step);

      expect(h.runs).toEqual([T0, at(10 * MIN), at(20 * MIN), at(20 * MIN + 1)]);
      expect(h.clock.nextTimerAt()).toBeUndefined();
    });

    it('re-arms for an earlier due time on wake', async () => {
      const h = harness({ due: [at(30 * MIN)] });
      await h.scheduler.start();

      h.due.add(at(10 * MIN).getTime());
      h.scheduler.wake();
      await h.scheduler.idle();

      expect(h.clock.nextTimerAt()).toEqual(at(10 * MIN));
      await h.advance(10 * MIN);
      expect(h.runs).toEqual([T0, at(10 * MIN)]);
      expect(h.clock.nextTimerAt()).toEqual(at(30 * MIN));
    });

    it('re-arms for a later due time on wake, and does not run at the old one', async () => {
      const h = harness({ due: [at(10 * MIN)] });
      await h.scheduler.start();

      h.due.clear();
      h.due.add(at(30 * MIN).getTime());
      h.scheduler.wake();
      await h.scheduler.idle();
      await h.advance(10 * MIN);

      expect(h.runs).toEqual([T0]);
      expect(h.clock.nextTimerAt()).toEqual(at(30 * MIN));
    });

    it('disarms on wake when nothing is due any more (a revoked grant)', async () => {
      const h = harness({ due: [at(10 * MIN)] });
      await h.scheduler.start();

      h.due.clear();
      h.scheduler.wake();
      await h.scheduler.idle();

      expect(h.clock.nextTimerAt()).toBeUndefined();
    });

    it('keeps one timer however often it is woken', async () => {
      const h = harness({ due: [at(10 * MIN)] });
      await h.scheduler.start();

      for (let i = 0; i < 5; i++) h.scheduler.wake();
      await h.scheduler.idle();
      await h.advance(10 * MIN);

      expect(h.runs).toEqual([T0, at(10 * MIN)]);
    });
  });

  describe('long delays', () => {
    it('never arms a timer further than MAX_TIMER_MS (2^31−1 ms) ahead', async () => {
      const h = harness({ due: [at(365 * DAY)] });

      await h.scheduler.start();

      expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
      expect(h.armedIn()).toBe(MAX_TIMER_MS);
    });

    it('wakes at the clamp, finds nothing due, re-arms, and runs the job at the real due time', async () => {
      const due = at(365 * DAY);
      const h = harness({ due: [due] });
      await h.scheduler.start();

      await h.advance(MAX_TIMER_MS);
      // The clamped timer fired well before the due time: a run that finds nothing due, then a new timer.
      expect(h.runs).toEqual([T0, at(MAX_TIMER_MS)]);
      expect(h.due.has(due.getTime())).toBe(true);
      const armedIn = h.armedIn();
      expect(armedIn).toBeDefined();
      expect(armedIn).toBeLessThanOrEqual(MAX_TIMER_MS);

      for (let guard = 0; guard < 20 && h.due.size > 0; guard++) await h.advance(h.armedIn() ?? 0);

      expect(h.runs.at(-1)).toEqual(due);
      expect(h.runs.every((r) => r.getTime() <= due.getTime())).toBe(true);
      expect(h.clock.nextTimerAt()).toBeUndefined();
    });
  });

  describe('failures', () => {
    it.each([
      ['the top of the jitter range', () => 1, [1 * S, 2 * S, 4 * S, 8 * S, 10 * S, 10 * S]],
      [
        'the bottom of the jitter range (never under half the ceiling)',
        () => 0,
        [0.5 * S, 1 * S, 2 * S, 4 * S, 5 * S, 5 * S],
      ],
      ['the middle of the jitter range', () => 0.5, [0.75 * S, 1.5 * S, 3 * S, 6 * S, 7.5 * S, 7.5 * S]],
    ])(
      'retries failed work with a backoff that grows and is capped, at %s',
      async (_name, random, delays) => {
        const h = harness({ retry: { baseMs: S, maxMs: 10 * S, random } });
        h.state.work = async () => ({ failed: ['grt_1'] });
        await h.scheduler.start();

        const seen: Array<number | undefined> = [];
        for (const _ of delays) {
          const delay = h.armedIn();
          seen.push(delay);
          await h.advance((delay ?? 0) - 1);
          const before = h.runs.length;
          await h.advance(1);
          expect(h.runs.length).toBe(before + 1);
        }

        expect(seen).toEqual(delays);
      },
    );

    it('does not retry before the backoff even while the failed work is still due (no hot loop)', async () => {
      const overdue = at(-MIN);
      const h = harness({ retry: { baseMs: S, maxMs: 10 * S, random: () => 1 } });
      // The grant whose close failed is still active and overdue, so the database keeps reporting it due.
      h.state.nextDueOverride = () => overdue;
      h.state.work = async () => ({ failed: ['grt_1'] });

      await h.scheduler.start();
      expect(h.armedIn()).toBe(S);
      await h.advance(0);
      expect(h.runs).toHaveLength(1);

      await h.advance(S);
      expect(h.runs).toHaveLength(2);
      expect(h.armedIn()).toBe(2 * S);
    });

    it('still runs at once for work that came due after the failed run, during the backoff', async () => {
      const h = harness({ retry: { baseMs: 10 * S, maxMs: 60 * S, random: () => 1 } });
      h.state.work = async () => ({ failed: ['grt_1'] });
      await h.scheduler.start();
      expect(h.armedIn()).toBe(10 * S);

      h.state.work = h.closeDue;
      h.due.add(at(2 * S).getTime());
      h.scheduler.wake();
      await h.scheduler.idle();

      expect(h.armedIn()).toBe(2 * S);
      await h.advance(2 * S);
      expect(h.runs).toEqual([T0, at(2 * S)]);
    });

    it('keeps arming other kinds of work on time while one kind waits for its backoff', async () => {
      // Due times per kind: a deny-policy prune that failed (still overdue), and a grant expiring in 2 s.
      const h = harness({ retry: { baseMs: 30 * S, maxMs: 60 * S, random: () => 1 } });
      const failedPrune = at(-MIN);
      let grantDue: Date | undefined = at(2 * S);
      h.state.nextDueOverride = undefined;
      const kinds = (): (Date | undefined)[] => [failedPrune, grantDue];
      const scheduler = createScheduler({
        clock: h.clock,
        timers: h.clock,
        logger: h.logger,
        nextDue: async () => kinds(),
        retry: { baseMs: 30 * S, maxMs: 60 * S, random: () => 1 },
        run: async (now) => {
          h.runs.push(now);
          if (grantDue !== undefined && grantDue <= now) grantDue = undefined;
          return { failed: ['prune'] };
        },
      });
      await scheduler.start();
      // Not the 30 s backoff: the grant's expiry, which the failed prune must not hide.
      expect(h.armedIn()).toBe(2 * S);
      h.clock.advance(2 * S);
      await scheduler.idle();
      expect(h.runs).toEqual([T0, at(2 * S)]);
      scheduler.stop();
    });

    it('starts the backoff over after a clean run', async () => {
      const h = harness({ retry: { baseMs: S, maxMs: 60 * S, random: () => 1 } });
      h.state.work = async () => ({ failed: ['grt_1'] });
      await h.scheduler.start();
      await h.advance(S);
      await h.advance(2 * S);
      expect(h.armedIn()).toBe(4 * S);

      h.state.work = h.closeDue;
      await h.advance(4 * S);
      expect(h.clock.nextTimerAt()).toBeUndefined();

      h.state.work = async () => ({ failed: ['grt_2'] });
      h.due.add(at(MIN).getTime());
      h.scheduler.wake();
      await h.scheduler.idle();
      await h.advance(h.armedIn() ?? 0);
      expect(h.armedIn()).toBe(S);
    });

    it('retries a run that throws, logs it once per failure, and backs off the same way', async () => {
      const h = harness({ retry: { baseMs: S, maxMs: 60 * S, random: () => 1 } });
      h.state.work = async () => {
        throw new Error('database is locked');
      };

      await h.scheduler.start();
      expect(h.logger.error).toHaveBeenCalledTimes(1);
      expect(h.logger.error).toHaveBeenCalledWith(
        { err: 'Error: database is locked' },
        'scheduled run failed',
      );
      expect(h.armedIn()).toBe(S);

      await h.advance(S);
      expect(h.armedIn()).toBe(2 * S);

      h.state.work = h.closeDue;
      await h.advance(2 * S);
      expect(h.runs).toEqual([T0, at(S), at(3 * S)]);
      expect(h.logger.error).toHaveBeenCalledTimes(2);
      expect(h.clock.nextTimerAt()).toBeUndefined();
    });

    it('keeps a timer when reading the next due time throws, and recovers', async () => {
      const h = harness({ due: [at(10 * MIN)], retry: { baseMs: S, maxMs: 60 * S, random: () => 1 } });
      await h.scheduler.start();

      h.state.nextDueOverride = () => {
        throw new Error('SQLITE_BUSY');
      };
      expect(() => h.scheduler.wake()).not.toThrow();
      await h.scheduler.idle();
      expect(h.logger.error).toHaveBeenCalledWith(
        { err: 'Error: SQLITE_BUSY' },
        'reading the next due time failed',
      );
      expect(h.armedIn()).toBe(S);

      h.state.nextDueOverride = undefined;
      await h.advance(S);
      expect(h.clock.nextTimerAt()).toEqual(at(10 * MIN));
    });
  });

  describe('overlap', () => {
    it('never overlaps runs: a wake during a slow run leads to exactly one more run after it', async () => {
      const h = harness({ due: [at(MIN)] });
      await h.scheduler.start();
      const gate = deferred();
      h.state.work = async (now) => {
        await gate.promise;
        return h.closeDue(now);
      };

      h.clock.advance(MIN);
      expect(h.runs).toEqual([T0, at(MIN)]);

      // While the run is stuck, something else comes due and the scheduler is woken twice.
      h.clock.advance(S);
      h.due.add(at(MIN + S).getTime());
      h.scheduler.wake();
      h.scheduler.wake();
      h.clock.advance(S);
      expect(h.runs).toHaveLength(2);

      h.state.work = h.closeDue;
      gate.resolve();
      await h.scheduler.idle();
      await h.advance(0);

      expect(h.runs).toEqual([T0, at(MIN), at(MIN + 2 * S)]);
      expect(h.maxActive()).toBe(1);
      expect(h.due.size).toBe(0);
      expect(h.clock.nextTimerAt()).toBeUndefined();
    });

    it('does not run again after a slow run when the wake brought nothing due yet', async () => {
      const h = harness({ due: [at(MIN)] });
      await h.scheduler.start();
      const gate = deferred();
      h.state.work = async (now) => {
        await gate.promise;
        return h.closeDue(now);
      };
      h.clock.advance(MIN);

      h.due.add(at(30 * MIN).getTime());
      h.scheduler.wake();
      h.state.work = h.closeDue;
      gate.resolve();
      await h.advance(0);

      expect(h.runs).toEqual([T0, at(MIN)]);
      expect(h.clock.nextTimerAt()).toEqual(at(30 * MIN));
    });

    it('makes start() wait for a catch-up run that is slow', async () => {
      const gate = deferred();
      const h = harness();
      h.state.work = async (now) => {
        await gate.promise;
        return h.closeDue(now);
      };
      let started = false;
      const starting = h.scheduler.start().then(() => {
        started = true;
      });

      await Promise.resolve();
      expect(started).toBe(false);
      gate.resolve();
      await starting;
      expect(started).toBe(true);
    });
  });

  describe('stop', () => {
    it('disarms the timer', async () => {
      const h = harness({ due: [at(10 * MIN)] });
      await h.scheduler.start();

      h.scheduler.stop();
      await h.advance(10 * MIN);

      expect(h.runs).toEqual([T0]);
      expect(h.clock.nextTimerAt()).toBeUndefined();
    });

    it('does not re-arm after a run that was in progress, nor on wake', async () => {
      const h = harness({ due: [at(MIN), at(10 * MIN)] });
      await h.scheduler.start();
      const gate = deferred();
      h.state.work = async (now) => {
        await gate.promise;
        return h.closeDue(now);
      };
      h.clock.advance(MIN);

      h.scheduler.stop();
      gate.resolve();
      await h.scheduler.idle();
      h.scheduler.wake();
      await h.scheduler.idle();
      await h.advance(10 * MIN);

      expect(h.runs).toEqual([T0, at(MIN)]);
      expect(h.clock.nextTimerAt()).toBeUndefined();
    });
  });

  describe('a clock that goes backwards', () => {
    it('does not fire early, and still runs when time reaches the due moment', async () => {
      const due = at(30 * MIN);
      const h = harness({ due: [due] });
      await h.scheduler.start();

      // A clock correction: an hour back.
      h.clock.set(at(-60 * MIN));
      await h.advance(90 * MIN - 1);
      expect(h.runs).toEqual([T0]);

      await h.advance(1);
      expect(h.runs).toEqual([T0, due]);
    });

    it('re-arms from the corrected time on wake, still for the due moment', async () => {
      const due = at(30 * MIN);
      const h = harness({ due: [due] });
      await h.scheduler.start();

      h.clock.set(at(-60 * MIN));
      h.scheduler.wake();
      await h.scheduler.idle();

      expect(h.clock.nextTimerAt()).toEqual(due);
      await h.advance(90 * MIN - 1);
      expect(h.runs).toEqual([T0]);
      await h.advance(1);
      expect(h.runs).toEqual([T0, due]);
    });
  });
});

describe('scheduler wake-ups in a burst', () => {
  it('answers wakes that come during a read of the due times with one more read, which arms for what changed', async () => {
    const clock = new FakeClock(T0);
    let due: Date | undefined;
    let reads = 0;
    let gate: Deferred | undefined;
    const scheduler = createScheduler({
      clock,
      timers: clock,
      logger: { info: jest.fn(), warn: jest.fn(), error: jest.fn() },
      nextDue: async () => {
        reads += 1;
        const seen = due;
        if (gate !== undefined) await gate.promise;
        return seen;
      },
      run: async () => {
        due = undefined;
        return { failed: [] };
      },
    });
    await scheduler.start();
    const before = reads;

    gate = deferred();
    scheduler.wake();
    // A grant opened while the first read is in progress: its due time is not in that read.
    due = new Date(T0.getTime() + 5 * MIN);
    for (let i = 0; i < 20; i++) scheduler.wake();
    expect(reads - before).toBe(1);

    const held = gate;
    gate = undefined;
    held.resolve();
    await scheduler.idle();
    // Twenty wakes, two reads: the one in progress and one after it, which saw the new due time.
    expect(reads - before).toBe(2);
    expect(clock.nextTimerAt()).toEqual(due);
    scheduler.stop();
  });
});
