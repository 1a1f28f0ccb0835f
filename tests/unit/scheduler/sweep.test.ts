import type { Logger } from '../../../src/app/ports';
import { createSweep } from '../../../src/scheduler/sweep';
import { FakeClock } from '../../support/fake-clock';

class MemoryLogger implements Logger {
  readonly lines: { level: string; msg: string }[] = [];
  info(_fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'info', msg });
  }
  warn(_fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'warn', msg });
  }
  error(_fields: Record<string, unknown>, msg: string) {
    this.lines.push({ level: 'error', msg });
  }
}

const T0 = new Date('2030-01-02T03:04:05.678Z');
const S = 1_000;

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/** A sweep over a fake clock whose run records when it ran and can be held open or made to fail. */
function setup(intervalMs = 60 * S) {
  const clock = new FakeClock(T0);
  const logger = new MemoryLogger();
  const runs: Date[] = [];
  let active = 0;
  let maxActive = 0;
  const state: { hold?: Promise<void>; fail?: 'throw' | 'report' } = {};
  const sweep = createSweep({
    timers: clock,
    logger,
    intervalMs,
    name: 'reconciliation',
    run: async () => {
      runs.push(clock.now());
      active += 1;
      maxActive = Math.max(maxActive, active);
      try {
        await state.hold;
        if (state.fail === 'throw') throw new Error('EC2 is down');
        return { failed: state.fail === 'report' ? 1 : 0 };
      } finally {
        active -= 1;
      }
    },
  });
  /** Moves time and lets the run it started finish. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await sweep.idle();
  };
  return { clock, logger, runs, sweep, state, advance, maxActive: () => maxActive };
}

describe('the periodic sweep', () => {
  it('runs once now and then every interval after the previous run ends', async () => {
    const t = setup();
    await t.sweep.runNow();
    t.sweep.start();
    await t.advance(60 * S - 1);
    expect(t.runs).toHaveLength(1);
    await t.advance(1);
    await t.advance(60 * S);
    expect(t.runs.map((d) => d.getTime() - T0.getTime())).toEqual([0, 60 * S, 120 * S]);
  });

  it('never overlaps itself: a slow run delays the next instead of running beside it', async () => {
    const t = setup();
    const slow = deferred();
    t.state.hold = slow.promise;
    t.sweep.start();
    t.clock.advance(60 * S);
    // Still running at the next interval and the one after: nothing else starts.
    t.clock.advance(5 * 60 * S);
    const asked = t.sweep.runNow();
    expect(t.runs).toHaveLength(1);
    slow.resolve();
    await asked;
    expect(t.runs).toHaveLength(1);
    expect(t.maxActive()).toBe(1);
    // The next one is armed from the end of the slow run.
    expect(t.clock.nextTimerAt()).toEqual(new Date(t.clock.now().getTime() + 60 * S));
  });

  it('logs a failed run and tries again at the next interval', async () => {
    const t = setup();
    t.state.fail = 'throw';
    await t.sweep.runNow();
    t.sweep.start();
    expect(t.logger.lines.some((l) => l.level === 'error' && /reconciliation failed/.test(l.msg))).toBe(true);
    t.state.fail = 'report';
    await t.advance(60 * S);
    expect(t.logger.lines.some((l) => l.level === 'warn' && /did not finish/.test(l.msg))).toBe(true);
    t.state.fail = undefined;
    await t.advance(60 * S);
    expect(t.runs).toHaveLength(3);
  });

  it('with a zero interval runs only when asked (start-up)', async () => {
    const t = setup(0);
    await t.sweep.runNow();
    t.sweep.start();
    await t.advance(24 * 60 * 60 * S);
    expect(t.runs).toHaveLength(1);
    expect(t.clock.nextTimerAt()).toBeUndefined();
  });

  it('stops arming once stopped, even when a run was in progress', async () => {
    const t = setup();
    const slow = deferred();
    t.state.hold = slow.promise;
    t.sweep.start();
    t.clock.advance(60 * S);
    t.sweep.stop();
    slow.resolve();
    await t.sweep.idle();
    expect(t.clock.nextTimerAt()).toBeUndefined();
    await t.advance(10 * 60 * S);
    expect(t.runs).toHaveLength(1);
  });
});
