import { eachLimit } from './each-limit';
import { InfraError } from './infra-error';
import type { ChannelNotice, Notice } from './notices';
import { type CardDeps, describeError, loadCard } from './notify';
import type { Clock, Logger, Notifier, OutboxItem, OutboxStore, RequestStore } from './ports';

type Deps = CardDeps & {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly notifier: Notifier;
  readonly requests: Pick<RequestStore, 'attachMessage'>;
  readonly outbox: Pick<OutboxStore, 'ready' | 'done' | 'retryLater' | 'abandon' | 'prune'>;
};

/** The first retry of a failed delivery waits this long; each next one twice as long, up to `MAX_RETRY_MS`. */
export const FIRST_RETRY_MS = 5_000;
export const MAX_RETRY_MS = 2 * 60_000;
/** A delivery Slack has refused (for a reason that may pass) this long is given up, logged and kept for the record. */
export const GIVE_UP_AFTER_MS = 24 * 60 * 60_000;
/** Lanes sent at the same time: different requests' messages do not wait on each other's slow calls. */
const PARALLEL_LANES = 4;
/** Deliveries sent per run; the loop runs again at once while more are ready, yielding to due work in between. */
const BATCH = 20;
/**
 * A sent delivery is deleted this long after it went: nothing reads it again (the audit log is the
 * record; abandoned ones are kept). Without it the outbox was most of the database: 104 MB of 293 after
 * the 50,000-request soak. A week leaves time to look at what Slack was sent while something is looked into.
 */
export const KEEP_SENT_MS = 7 * 24 * 60 * 60_000;
/** Pruning runs at most this often, deleting at most `PRUNE_BATCH` rows: a short statement, never a long stall. */
export const PRUNE_EVERY_MS = 60_000;
export const PRUNE_BATCH = 500;

export const retryDelay = (attempts: number): number =>
  Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(attempts - 1, 16));

export type OutboxRunResult = {
  readonly sent: number;
  readonly retrying: number;
  readonly abandoned: number;
};

/** Keys of notice fields that hold dates (JSON turns them into strings). */
const DATE_KEYS = new Set([
  'startsAt',
  'expiresAt',
  'endedAt',
  'warnedAt',
  'reviewedAt',
  'retryAt',
  'previousEnd',
  'createdAt',
  'approvalDeadline',
  'decidedAt',
  'remindedAt',
  'until',
]);

const revive = <T>(json: string): T =>
  JSON.parse(json, (key, value: unknown) =>
    DATE_KEYS.has(key) && typeof value === 'string' ? new Date(value) : value,
  );

/** Sends one delivery, a single attempt; throws an `InfraError` saying whether it may succeed later. */
async function send(deps: Deps, item: OutboxItem): Promise<void> {
  if (item.kind === 'channel') {
    if (item.channel === undefined || item.notice === undefined) return;
    await deps.notifier.notifyChannel(item.channel, revive<ChannelNotice>(item.notice));
    return;
  }
  if (item.requestId === undefined) return;
  const card = await loadCard(deps, item.requestId);
  // An unknown request (or one whose resource is gone without a record of it): nothing to render.
  if (card === undefined) return;
  const ref = card.request.message;
  const notice = item.notice === undefined ? undefined : { ...revive<Notice>(item.notice), card };
  switch (item.kind) {
    case 'card-post':
      if (ref === undefined)
        await deps.requests.attachMessage(item.requestId, await deps.notifier.postApprovalCard(card));
      return;
    case 'card-update':
      if (ref !== undefined) await deps.notifier.updateApprovalCard(ref, card);
      return;
    case 'thread':
      if (notice === undefined) return;
      // The card-post goes first in the lane; without a message it was refused for good.
      if (ref === undefined)
        throw new InfraError('not-found', false, 'the approval message was never posted');
      await deps.notifier.notifyThread(ref, notice as Notice);
      return;
    case 'dm':
      if (notice === undefined || item.userId === undefined) return;
      await deps.notifier.notifyUser(item.userId, notice as Notice);
      return;
  }
}

/**
 * The outbox dispatcher's run-once job: sends up to a batch of the deliveries that are due and first
 * in their lane, a few lanes at a time (the loop runs it again at once while more are ready, letting
 * due work go first in between). Each send is one short attempt: a delivery Slack refuses is retried
 * later — after `Retry-After` for a 429, with backoff otherwise — and the rest of its lane waits behind
 * it, so notices about one request arrive once and in order. One that can never succeed
 * (`channel_not_found`, `invalid_blocks`, …) or has failed for a day is given up, logged and kept
 * marked. Never throws for a Slack failure; it runs apart from the scheduler, so nothing due in AWS
 * ever waits on it.
 */
export const deliverOutbox = (deps: Deps) => {
  let prunedAt = Number.NEGATIVE_INFINITY;
  /** Deletes a batch of old sent deliveries, once a minute at most; a failure waits for the next minute. */
  const prune = async (): Promise<void> => {
    const now = deps.clock.now().getTime();
    if (now - prunedAt < PRUNE_EVERY_MS) return;
    prunedAt = now;
    try {
      const pruned = await deps.outbox.prune(new Date(now - KEEP_SENT_MS), PRUNE_BATCH);
      if (pruned > 0) deps.logger.info({ pruned }, 'deleted sent slack deliveries older than a week');
    } catch (error) {
      deps.logger.warn({ err: describeError(error) }, 'could not delete old sent slack deliveries');
    }
  };
  return async (): Promise<OutboxRunResult> => {
    const result = await deliverDue(deps);
    await prune();
    return result;
  };
};

/** One run's sending (see {@link deliverOutbox}). */
async function deliverDue(deps: Deps): Promise<OutboxRunResult> {
  let sent = 0;
  let retrying = 0;
  let abandoned = 0;
  const one = async (item: OutboxItem): Promise<void> => {
    try {
      await send(deps, item);
      await deps.outbox.done(item.id, deps.clock.now());
      sent += 1;
    } catch (error) {
      const infra =
        error instanceof InfraError ? error : new InfraError('unknown', true, describeError(error));
      const now = deps.clock.now();
      const attempts = item.attempts + 1;
      const fields = { id: item.id, what: item.kind, lane: item.lane, attempts, err: describeError(infra) };
      if (!infra.retryable || now.getTime() - item.createdAt.getTime() >= GIVE_UP_AFTER_MS) {
        await deps.outbox.abandon(item.id, now, describeError(infra));
        deps.logger.error(fields, 'gave up a slack delivery');
        abandoned += 1;
        return;
      }
      const wait = infra.retryAfterMs ?? retryDelay(attempts);
      await deps.outbox.retryLater(item.id, attempts, new Date(now.getTime() + wait), describeError(infra));
      deps.logger.warn({ ...fields, retryInMs: wait }, 'slack delivery failed; will retry');
      retrying += 1;
    }
  };
  // `ready` holds at most one delivery per lane, so sending these together never reorders a lane;
  // a few workers share them, so one slow lane does not hold up the others.
  await eachLimit(await deps.outbox.ready(deps.clock.now(), BATCH), PARALLEL_LANES, one);
  return { sent, retrying, abandoned };
}
