import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Pacing } from '../app/ports';

export type PacingOptions = {
  /** Rest this many times as long as the work took (3: the sweep gets at most a quarter of the time). */
  readonly restRatio: number;
  /** Never rest longer than this (ms) after one piece of work. */
  readonly maxRestMs: number;
  /** Real time in ms (`performance.now`); injected in tests. */
  readonly now?: () => number;
  /** Rests `ms` of real time, or less when `signal` aborts; injected in tests. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
};

/** Pacing a process can stop: `halt` ends a rest in progress and skips those after it (shutdown). */
export type StoppablePacing = Pacing & { halt(): void };

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
  return {
    async paced(work) {
      const started = now();
      try {
        return await work();
      } finally {
        const rest = Math.min(options.maxRestMs, (now() - started) * options.restRatio);
        if (rest >= 1 && !halted.signal.aborted) await sleep(rest, halted.signal);
      }
    },
    halt: () => halted.abort(),
  };
}
