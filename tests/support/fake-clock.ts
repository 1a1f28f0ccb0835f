import type { Clock, Timers } from '../../src/app/ports';

type Pending = { id: number; at: number; fn: () => void };

/**
 * A clock that moves only when told, and the timers that go with it: `advance` fires every timer
 * that comes due on the way, in order, with `now()` set to each timer's due time. `set` may move
 * time backwards (a clock correction) without firing anything.
 */
export class FakeClock implements Clock, Timers {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start: Date | string = '2026-11-25T12:00:00.000Z') {
    this.t = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.push({ id, at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const next = this.pending.filter((p) => p.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (next === undefined) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = target;
  }

  /** Jumps to a moment (forwards fires timers; backwards fires nothing). */
  set(to: Date | string): void {
    const target = new Date(to).getTime();
    if (target >= this.t) this.advance(target - this.t);
    else this.t = target;
  }

  /** When every armed timer will fire, earliest first. */
  timersAt(): Date[] {
    return this.pending
      .map((p) => p.at)
      .sort((a, b) => a - b)
      .map((at) => new Date(at));
  }

  /** When the earliest armed timer will fire, if any. */
  nextTimerAt(): Date | undefined {
    const at = Math.min(...this.pending.map((p) => p.at));
    return Number.isFinite(at) ? new Date(at) : undefined;
  }
}
