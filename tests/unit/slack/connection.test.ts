import { backoffDelayMs, createRetrier, SLACK_BACKOFF } from '../../../src/adapters/slack/connection';
import { FakeClock } from '../../support/fake-clock';

/** Lets the attempt's promise chain run (no real time passes). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('backoff of the connection to Slack', () => {
  it.each([
    [1, 500, 1_000],
    [2, 1_000, 2_000],
    [3, 2_000, 4_000],
    [6, 16_000, 32_000],
    [7, 30_000, 60_000],
    [50, 30_000, 60_000],
  ])(
    'waits between half and all of a ceiling doubling from 1 s to 60 s: after failure %i, %i–%i ms',
    (attempt, low, high) => {
      expect(backoffDelayMs(attempt, SLACK_BACKOFF, () => 0)).toBe(low);
      expect(backoffDelayMs(attempt, SLACK_BACKOFF, () => 1)).toBe(high);
      const jittered = backoffDelayMs(attempt, SLACK_BACKOFF);
      expect(jittered).toBeGreaterThanOrEqual(low);
      expect(jittered).toBeLessThanOrEqual(high);
    },
  );
});

describe('the retrier', () => {
  const rejections: unknown[] = [];
  const record = (reason: unknown): void => {
    rejections.push(reason);
  };
  beforeEach(() => {
    rejections.length = 0;
    process.on('unhandledRejection', record);
  });
  afterEach(() => {
    process.off('unhandledRejection', record);
  });

  function setUp(outcomes: ('fail' | 'ok')[]) {
    const clock = new FakeClock();
    const failures: { attempt: number; retryInMs: number; error: unknown }[] = [];
    const successes: number[] = [];
    let calls = 0;
    const retrier = createRetrier({
      attempt: async () => {
        const outcome = outcomes[calls] ?? 'ok';
        calls += 1;
        if (outcome === 'fail') throw new Error(`failure ${calls}`);
      },
      onFailure: (error, attempt, retryInMs) => failures.push({ attempt, retryInMs, error }),
      onSuccess: (attempts) => successes.push(attempts),
      timers: clock,
      backoff: { initialMs: 1_000, maxMs: 4_000 },
      random: () => 1,
    });
    return { clock, retrier, failures, successes, calls: () => calls };
  }

  it('tries at once, then after each failure with a growing, capped delay, until an attempt succeeds', async () => {
    const t = setUp(['fail', 'fail', 'fail', 'fail', 'ok']);
    t.retrier.run();
    await t.retrier.idle();
    expect(t.failures.map((f) => [f.attempt, f.retryInMs])).toEqual([[1, 1_000]]);
    for (const wait of [1_000, 2_000, 4_000, 4_000]) {
      t.clock.advance(wait - 1);
      await flush();
      const before = t.calls();
      t.clock.advance(1);
      await t.retrier.idle();
      expect(t.calls()).toBe(before + 1);
    }
    expect(t.failures.map((f) => [f.attempt, f.retryInMs])).toEqual([
      [1, 1_000],
      [2, 2_000],
      [3, 4_000],
      [4, 4_000],
    ]);
    expect(t.successes).toEqual([5]);
    // Done: nothing left armed.
    expect(t.clock.nextTimerAt()).toBeUndefined();
    expect(rejections).toEqual([]);
  });

  it('does nothing more when run again while trying', async () => {
    const t = setUp(['fail', 'ok']);
    t.retrier.run();
    t.retrier.run();
    await t.retrier.idle();
    expect(t.calls()).toBe(1);
    t.clock.advance(1_000);
    await t.retrier.idle();
    expect(t.successes).toEqual([2]);
  });

  it('waits the first delay before its first attempt when delayed (a lost connection)', async () => {
    const t = setUp(['ok']);
    t.retrier.run({ delayed: true });
    await flush();
    expect(t.calls()).toBe(0);
    t.clock.advance(1_000);
    await t.retrier.idle();
    expect(t.successes).toEqual([1]);
  });

  it('cancels the waiting retry on stop and ignores the outcome of an attempt in progress', async () => {
    const t = setUp(['fail', 'fail']);
    t.retrier.run();
    await t.retrier.idle();
    expect(t.clock.nextTimerAt()).toBeDefined();
    t.retrier.stop();
    expect(t.clock.nextTimerAt()).toBeUndefined();
    t.clock.advance(60_000);
    await flush();
    expect(t.calls()).toBe(1);

    const u = setUp(['fail']);
    u.retrier.run();
    u.retrier.stop();
    await u.retrier.idle();
    expect(u.failures).toEqual([]);
    expect(u.clock.nextTimerAt()).toBeUndefined();
  });

  it('never leaves a rejection behind, even when a reporter throws', async () => {
    const clock = new FakeClock();
    const retrier = createRetrier({
      attempt: () => Promise.reject(new Error('down')),
      onFailure: () => {
        throw new Error('a reporter that throws');
      },
      onSuccess: () => undefined,
      timers: clock,
      backoff: { initialMs: 1_000, maxMs: 1_000 },
    });
    retrier.run();
    await retrier.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejections).toEqual([]);
    // Still retried.
    expect(clock.nextTimerAt()).toBeDefined();
    retrier.stop();
  });
});
