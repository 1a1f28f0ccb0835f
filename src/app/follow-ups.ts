import { describeError } from './notify';
import type { FollowUps, Logger } from './ports';

/** A serial queue for what follows a close (see `FollowUps` in ports.ts). */
export function createFollowUps(
  logger: Pick<Logger, 'error'>,
  /** What a failure is logged as. */
  failure = 'a follow-up of a close failed; reconciliation retries',
): FollowUps {
  let tail: Promise<void> = Promise.resolve();
  let pending = 0;
  return {
    after(what, work) {
      pending += 1;
      tail = tail
        .then(work)
        .then(
          () => undefined,
          (error: unknown) => logger.error({ what, err: describeError(error) }, failure),
        )
        .finally(() => {
          pending -= 1;
        });
    },
    async idle() {
      while (pending > 0) await tail;
    },
  };
}
