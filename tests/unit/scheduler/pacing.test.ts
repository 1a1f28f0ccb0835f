import { createPacing } from '../../../src/scheduler/pacing';

/** Pacing on a hand-moved clock: `work` takes `ms` by moving it; rests are recorded, not slept. */
function pacingOnHand(restRatio = 3, maxRestMs = 1_000) {
  let t = 0;
  const rests: number[] = [];
  const pacing = createPacing({
    restRatio,
    maxRestMs,
    now: () => t,
    sleep: async (ms) => {
      rests.push(ms);
    },
  });
  pacing.start();
  const takes =
    (ms: number, fail = false) =>
    async () => {
      t += ms;
      if (fail) throw new Error('group could not be read');
      return ms;
    };
  return { pacing, rests, takes };
}

describe('pacing a sweep', () => {
  it('rests after each piece of work in proportion to how long it took, and returns its value', async () => {
    const { pacing, rests, takes } = pacingOnHand(3);
    expect(await pacing.paced(takes(100))).toBe(100);
    expect(await pacing.paced(takes(20))).toBe(20);
    expect(rests).toEqual([300, 60]);
  });

  it('lets several items run at once before it is started (start-up), one at a time after', () => {
    const pacing = createPacing({ restRatio: 3, maxRestMs: 1_000, unpacedLanes: 4 });
    expect(pacing.lanes()).toBe(4);
    pacing.start();
    expect(pacing.lanes()).toBe(1);
    expect(createPacing({ restRatio: 3, maxRestMs: 1_000 }).lanes()).toBe(1);
  });

  it('never rests longer than the cap, nor at all after work that took no time', async () => {
    const { pacing, rests, takes } = pacingOnHand(3, 1_000);
    await pacing.paced(takes(900));
    await pacing.paced(takes(0));
    expect(rests).toEqual([1_000]);
  });

  it('rests after a failure too, and passes the failure on', async () => {
    const { pacing, rests, takes } = pacingOnHand(3);
    await expect(pacing.paced(takes(50, true))).rejects.toThrow('group could not be read');
    expect(rests).toEqual([150]);
  });

  it('does not rest before it is started (start-up reconciles back to back)', async () => {
    let t = 0;
    const rests: number[] = [];
    const pacing = createPacing({
      restRatio: 3,
      maxRestMs: 1_000,
      now: () => t,
      sleep: async (ms) => rests.push(ms),
    });
    await pacing.paced(async () => {
      t += 100;
    });
    expect(rests).toEqual([]);
    pacing.start();
    await pacing.paced(async () => {
      t += 100;
    });
    expect(rests).toEqual([300]);
  });

  it('once halted, ends the rest in progress and rests no more', async () => {
    let t = 0;
    const signals: AbortSignal[] = [];
    const pacing = createPacing({
      restRatio: 3,
      maxRestMs: 60_000,
      now: () => t,
      // A rest that lasts until it is aborted.
      sleep: (_ms, signal) =>
        new Promise<void>((resolve) => {
          signals.push(signal);
          signal.addEventListener('abort', () => resolve());
        }),
    });
    pacing.start();
    const resting = pacing.paced(async () => {
      t += 10_000;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(signals).toHaveLength(1);
    pacing.halt();
    await resting;
    await pacing.paced(async () => {
      t += 10_000;
    });
    expect(signals).toHaveLength(1);
  });
});
