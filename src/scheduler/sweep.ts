import { describeError } from '../app/infra-error';
import type { Logger, Timers } from '../app/ports';
import { MAX_TIMER_MS } from './scheduler';

export type SweepDeps = {
  readonly timers: Timers;
  readonly logger: Logger;
  /** Pause between the end of one run and the start of the next; 0 turns the periodic runs off. */
  readonly intervalMs: number;
  /** What to name in log lines, e.g. `reconciliation`. */
  readonly name: string;
  /** The run-once job; what it returns is logged when it reports failures. */
  readonly run: () => Promise<{ readonly failed: number }>;
};

export type Sweep = {
  /** Runs once now (start-up), or waits for the run already in progress; never throws. */
  runNow(): Promise<void>;
  /** Arms the periodic timer (nothing when the interval is 0). */
  start(): void;
  /** Disarms the timer; a run in progress finishes (await `idle()`). */
  stop(): void;
  /** Resolves when no run is in progress. */
  idle(): Promise<void>;
};

/**
 * A periodic job on the injected timers. The next run is armed only when the previous one has
 * finished, so runs never overlap; a run that throws or reports failures is logged, and the next
 * interval is its retry. Tests move a fake clock instead of waiting.
 */
export function createSweep(deps: SweepDeps): Sweep {
  let handle: unknown;
  let running: Promise<void> | undefined;
  let stopped = true;

  const arm = (): void => {
    if (handle !== undefined) deps.timers.clearTimeout(handle);
    handle = undefined;
    if (stopped || deps.intervalMs <= 0) return;
    handle = deps.timers.setTimeout(fire, Math.min(deps.intervalMs, MAX_TIMER_MS));
  };

  const runOnce = async (): Promise<void> => {
    try {
      const result = await deps.run();
      if (result.failed > 0) {
        deps.logger.warn(
          { ...result, sweep: deps.name },
          `${deps.name} did not finish everything; retrying next interval`,
        );
      }
    } catch (error) {
      deps.logger.error(
        { sweep: deps.name, err: describeError(error) },
        `${deps.name} failed; retrying next interval`,
      );
    }
  };

  const launch = (): Promise<void> => {
    running ??= runOnce().finally(() => {
      running = undefined;
      arm();
    });
    return running;
  };

  function fire(): void {
    handle = undefined;
    void launch();
  }

  return {
    runNow: launch,
    start() {
      stopped = false;
      if (running === undefined) arm();
    },
    stop() {
      stopped = true;
      if (handle !== undefined) deps.timers.clearTimeout(handle);
      handle = undefined;
    },
    async idle() {
      while (running !== undefined) await running;
    },
  };
}
