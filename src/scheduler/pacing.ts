import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Pacing } from '../app/ports';

export type PacingOptions = {
  /** Rest this many times as long as the work took (3: the sweep gets at most a quarter of the time). */
  readonly restRatio: number;
  /** Never rest longer than this (ms) after one piece of work. */
  readonly maxRestMs: number;
  /** Real time in ms (`performance.now`); injected in tests. */
  readonly now?: () => number;
  /** Items worked on at once before `start` (start-up's pass); one after it. Default 1. */
  readonly unpacedLanes?: number;
  /** Rests `ms` of real time, or less when `signal` aborts; injected in tests. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
};

/**
 * Pacing a process turns on and off: it rests only after `start` (start-up's own pass has no due closes
 * beside it to make room for, and a start must be quick), and `halt` ends a rest in progress and skips
 * those after it (shutdown).
 */
export type StoppablePacing = Pacing & { start(): void; halt(): void };

/**
 * Real-time pacing: each piece of work is timed, then followed by a rest of `restRatio` times its
 * duration (at most `maxRestMs`), also after a failure. Real time, not the app's clock: the point is
 * the CPU and the AWS calls of this process, which a fake clock in tests does not slow.
 */
export function createPacing(options: PacingOptions): StoppablePacing {
  const now = options.now ?? (() => performance.now());
  const sleep =
    options.sleep ??
    ((ms: number, signal: AbortSignal) => sleepFor(ms, undefined, { ref: false, signal }).catch(() => {}));
  const halted = new AbortController();
  let started = false;
  return {
    async paced(work) {
      const from = now();
      try {
        return await work();
      } finally {
        const rest = Math.min(options.maxRestMs, (now() - from) * options.restRatio);
        if (rest >= 1 && started && !halted.signal.aborted) await sleep(rest, halted.signal);
      }
    },
    lanes: () => (started ? 1 : Math.max(1, options.unpacedLanes ?? 1)),
    start: () => {
      started = true;
    },
    halt: () => halted.abort(),
  };
}
