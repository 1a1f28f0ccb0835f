import type { Clock, Timers } from '../src/app/ports';

type Pending = { id: number; due: number; fn: () => void; handle: NodeJS.Timeout };

/** The demo's time: real time plus however far the page skipped ahead, and timers that honour it. */
export type SkipClock = Clock &
  Timers & {
    /** How far ahead of real time the demo is, in ms. */
    offsetMs(): number;
    /** Moves time forward by `ms` (never back): every timer now due fires at once, the others are re-armed. */
    skip(ms: number): void;
    /** Cancels every timer still armed (the demo is stopping). */
    dispose(): void;
  };

/**
 * A clock that runs at real speed and can jump ahead. A timer armed for `ms` is due at `now() + ms` on
 * this clock: it fires after `ms` of real time, or at once when a skip passes its due time. hallpass
 * reads every time through its injected `Clock` and arms every wait on its injected `Timers`, so a skip
 * looks to it like a machine that slept.
 */
export function createSkipClock(): SkipClock {
  let offset = 0;
  let seq = 0;
  const pending = new Map<number, Pending>();
  const now = (): number => Date.now() + offset;
  const arm = (id: number, due: number, fn: () => void): void => {
    const handle = setTimeout(
      () => {
        pending.delete(id);
        fn();
      },
      Math.max(0, due - now()),
    );
    pending.set(id, { id, due, fn, handle });
  };
  return {
    now: () => new Date(now()),
    setTimeout(fn, ms) {
      seq += 1;
      arm(seq, now() + Math.max(0, ms), fn);
      return seq;
    },
    clearTimeout(handle) {
      const p = typeof handle === 'number' ? pending.get(handle) : undefined;
      if (p === undefined) return;
      clearTimeout(p.handle);
      pending.delete(p.id);
    },
    offsetMs: () => offset,
    dispose() {
      for (const p of pending.values()) clearTimeout(p.handle);
      pending.clear();
    },
    skip(ms) {
      offset += Math.max(0, ms);
      // Re-armed against the new time: those already due get a zero delay and fire in due order.
      const all = [...pending.values()].sort((a, b) => a.due - b.due || a.id - b.id);
      for (const p of all) {
        clearTimeout(p.handle);
        pending.delete(p.id);
        arm(p.id, p.due, p.fn);
      }
    },
  };
}
