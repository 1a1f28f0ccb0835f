import type { HomeViewers, RateLimits } from '../../src/app/ports';

/**
 * What every `RateLimits` and `HomeViewers` must do, in-process or on PostgreSQL: the unit tests run
 * these against the local implementations, the PostgreSQL suite against the database ones. Call them
 * inside a `describe`; `make` is called once per test.
 */

const T0 = 1_800_000_000_000;
const at = (ms: number): Date => new Date(T0 + ms);

let keys = 0;
/** A key no other test (nor an earlier run on the same database) has used. */
const freshKey = (): string => `U${process.pid}_${Date.now()}_${++keys}`;

export function rateLimitsConformance(make: () => Promise<RateLimits>): void {
  it('admits up to the limit within a window, then refuses', async () => {
    const limits = await make();
    const key = freshKey();
    const answers = [];
    for (const ms of [0, 10, 20, 30]) answers.push(await limits.admit(key, 3, 1_000, at(ms)));
    expect(answers).toEqual([true, true, true, false]);
  });

  it('admits again once the oldest admission has left the window', async () => {
    const limits = await make();
    const key = freshKey();
    expect(await limits.admit(key, 2, 1_000, at(0))).toBe(true);
    expect(await limits.admit(key, 2, 1_000, at(400))).toBe(true);
    expect(await limits.admit(key, 2, 1_000, at(999))).toBe(false);
    expect(await limits.admit(key, 2, 1_000, at(1_000))).toBe(true);
    expect(await limits.admit(key, 2, 1_000, at(1_001))).toBe(false);
  });

  it('does not count a refused attempt', async () => {
    const limits = await make();
    const key = freshKey();
    await limits.admit(key, 2, 1_000, at(0));
    await limits.admit(key, 2, 1_000, at(100));
    expect(await limits.admit(key, 2, 1_000, at(500))).toBe(false);
    // Had the refusal at 500 counted, (0, 1000] would still hold two.
    expect(await limits.admit(key, 2, 1_000, at(1_000))).toBe(true);
  });

  it('keeps keys apart', async () => {
    const limits = await make();
    const [a, b] = [freshKey(), freshKey()];
    expect(await limits.admit(a, 1, 1_000, at(0))).toBe(true);
    expect(await limits.admit(a, 1, 1_000, at(1))).toBe(false);
    expect(await limits.admit(b, 1, 1_000, at(1))).toBe(true);
  });

  it('refuses no one for long after the clock goes back by more than a window', async () => {
    const limits = await make();
    const key = freshKey();
    for (const ms of [10_000, 10_001]) await limits.admit(key, 2, 1_000, at(ms));
    expect(await limits.admit(key, 2, 1_000, at(10_002))).toBe(false);
    expect(await limits.admit(key, 2, 1_000, at(5_000))).toBe(true);
    expect(await limits.admit(key, 2, 1_000, at(5_001))).toBe(true);
    expect(await limits.admit(key, 2, 1_000, at(5_002))).toBe(false);
  });
}

/** `make(max)` must give viewers that remember no one yet. */
export function homeViewersConformance(make: (max: number) => Promise<HomeViewers>): void {
  it('lists the most recent first, people seen at the same moment in user-id order', async () => {
    const viewers = await make(10);
    await viewers.remember('U2', at(100));
    await viewers.remember('U1', at(300));
    await viewers.remember('U4', at(200));
    await viewers.remember('U3', at(200));
    expect(await viewers.recent(10)).toEqual(['U1', 'U3', 'U4', 'U2']);
    expect(await viewers.recent(2)).toEqual(['U1', 'U3']);
    expect(await viewers.recent(0)).toEqual([]);
  });

  it('moves someone who opens the tab again to the front, and never back for an earlier time', async () => {
    const viewers = await make(10);
    await viewers.remember('U1', at(100));
    await viewers.remember('U2', at(200));
    await viewers.remember('U1', at(300));
    expect(await viewers.recent(10)).toEqual(['U1', 'U2']);
    await viewers.remember('U1', at(50));
    expect(await viewers.recent(10)).toEqual(['U1', 'U2']);
  });

  it('keeps the most recent `max` and forgets the rest', async () => {
    const viewers = await make(3);
    for (let i = 1; i <= 6; i++) await viewers.remember(`U${i}`, at(i * 10));
    expect(await viewers.recent(10)).toEqual(['U6', 'U5', 'U4']);
    await viewers.remember('U1', at(100));
    expect(await viewers.recent(10)).toEqual(['U1', 'U6', 'U5']);
  });
}
