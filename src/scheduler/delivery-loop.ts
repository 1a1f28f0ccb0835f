import { describeError } from '../app/infra-error';
import type { Clock, Logger, Timers, Wakeup } from '../app/ports';
import { MAX_TIMER_MS } from './scheduler';

export type DeliveryLoopDeps = {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
  /** When the next waiting delivery is due (the outbox), read from the database. */
  readonly nextDue: () => Promise<Date | undefined>;
  /** The run-once job: sends what is ready (see `deliverOutbox`). */
  readonly run: () => Promise<unknown>;
  /** Pause after a run that threw (the database, not Slack: Slack failures are the outbox's to retry). */
  readonly errorPauseMs?: number;
  /**
   * Resolves when more urgent work is done: the loop waits for it before each run, so a burst of
   * closes reaches AWS before the process spends its time on their notices (the scheduler's `idle`).
   */
  readonly yieldTo?: () => Promise<void>;
  /** What the job does, for its error line (default: delivering queued Slack messages). */
  readonly name?: string;
  /**
   * With nothing waiting, look again after this long anyway: deliveries another process queued (the
   * audit CLI publishing a head) are sent within it. Absent: only `wake` and due times run the job.
   */
  readonly pollMs?: number;
};

export type DeliveryLoop = Wakeup & {
  start(): void;
  stop(): void;
  /** Resolves when no run is in progress (tests; shutdown). */
  idle(): Promise<void>;
};

/**
 * The outbox dispatcher's loop, apart from the scheduler so that Slack — however slow — never holds up
 * anything due in AWS. A delivery queued now is sent at once (`wake`); one waiting for a retry is sent
 * when its time comes, on one timer armed from the database. Runs never overlap.
 */
export function createDeliveryLoop(deps: DeliveryLoopDeps): DeliveryLoop {
  const errorPauseMs = deps.errorPauseMs ?? 5_000;
  let handle: unknown;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;

  const disarm = (): void => {
    if (handle !== undefined) deps.timers.clearTimeout(handle);
    handle = undefined;
  };

  const armIn = (ms: number): void => {
    disarm();
    handle = deps.timers.setTimeout(
      () => {
        handle = undefined;
        kick();
      },
      Math.min(Math.max(0, ms), MAX_TIMER_MS),
    );
  };

  /** After a run: at once if more is ready, else when the next delivery is due. */
  /** Counts arms: a read of the next due time that a later arm or a wake overtook arms nothing. */
  let armSeq = 0;
  /** The read of the next due time in progress, if any (`idle` waits for it). */
  let arming: Promise<void> | undefined;

  const arm = (threw: boolean): void => {
    disarm();
    if (stopped) return;
    if (threw) {
      armIn(errorPauseMs);
      return;
    }
    armSeq += 1;
    const seq = armSeq;
    const read = (async () => {
      let due: number | undefined;
      try {
        due = (await deps.nextDue())?.getTime();
      } catch (error) {
        if (seq !== armSeq || stopped) return;
        deps.logger.error({ err: describeError(error) }, 'reading the next delivery time failed');
        armIn(errorPauseMs);
        return;
      }
      // A wake or a later arm overtook this read: theirs is the one that counts.
      if (seq !== armSeq || stopped || running !== undefined) return;
      if (due === undefined) {
        if (deps.pollMs !== undefined) armIn(deps.pollMs);
        return;
      }
      const delay = due - deps.clock.now().getTime();
      if (delay <= 0) kick();
      else armIn(delay);
    })();
    arming = read;
    void read.finally(() => {
      if (arming === read) arming = undefined;
    });
  };

  function kick(): void {
    if (stopped) return;
    armSeq += 1;
    if (running !== undefined) {
      again = true;
      return;
    }
    disarm();
    let threw = false;
    running = (async () => {
      // Let the caller finish its own work (a transaction, a reply) before Slack is called.
      await new Promise<void>((resolve) => setImmediate(resolve));
      do {
        again = false;
        try {
          await deps.yieldTo?.();
          await deps.run();
        } catch (error) {
          threw = true;
          deps.logger.error(
            { err: describeError(error) },
            `${deps.name ?? 'delivering queued slack messages'} failed`,
          );
        }
      } while (again && !stopped && !threw);
    })().finally(() => {
      running = undefined;
      arm(threw);
    });
  }

  return {
    wake: kick,
    start() {
      stopped = false;
      kick();
    },
    stop() {
      stopped = true;
      disarm();
    },
    async idle() {
      while (running !== undefined || arming !== undefined) {
        await running;
        await arming;
      }
    },
  };
}
