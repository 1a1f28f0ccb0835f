import type { Clock } from '../src/app/ports';

/**
 * The system clock, which can be held still while a batch of grants is opened (so they all get the
 * same `expires_at`) and then let go shifted by a constant, so that instant arrives a moment later
 * in real time. Between `pin` and `release` time stands still; otherwise it runs at the real rate.
 * Timers stay real: only the origin of time moves, never its speed, so lateness measured against
 * this clock is lateness in real milliseconds.
 */
export class BenchClock implements Clock {
  private pinned: number | undefined;
  private offsetMs = 0;

  now(): Date {
    return new Date(this.pinned ?? Date.now() + this.offsetMs);
  }

  /** Holds the clock at its current reading. */
  pin(): Date {
    const at = this.now().getTime();
    this.pinned = at;
    return new Date(at);
  }

  /** Lets the clock run again, shifted so that it reads `at` in `inMs` real milliseconds. */
  release(at: Date, inMs: number): void {
    this.offsetMs = at.getTime() - (Date.now() + inMs);
    this.pinned = undefined;
  }

  /** The real (`Date.now()`) moment at which this clock reads `at`, for the current shift. */
  realTimeOf(at: Date): number {
    return at.getTime() - this.offsetMs;
  }
}
