import { findResource } from '../domain/policy';
import type { AppDeps } from './deps';
import type { ApprovalCard, Delivery, Notice, OutboxItem } from './ports';

type Deps = Pick<AppDeps, 'clock' | 'logger' | 'notifier' | 'requests' | 'grants' | 'policy' | 'outbox'>;

/**
 * Runs a Slack call without letting its failure escape: a notice that cannot be posted is logged,
 * and the AWS work around it (above all, a close) goes on regardless.
 */
export async function safely(
  deps: Pick<AppDeps, 'logger'>,
  what: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    deps.logger.warn({ err: describeError(error), what }, 'slack notice failed');
  }
}

export const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** The approval card as it stands now, read fresh from the store. `undefined` if the resource left the policy. */
export function loadCard(deps: Deps, requestId: string): ApprovalCard | undefined {
  const request = deps.requests.get(requestId);
  if (request === undefined) return undefined;
  const resource = findResource(deps.policy(), request.resourceId);
  if (resource === undefined) return undefined;
  return {
    request,
    resource,
    approvals: deps.requests.approvals(requestId),
    grant: deps.grants.byRequest(requestId),
    extends: request.extendsGrantId === undefined ? undefined : deps.grants.get(request.extendsGrantId),
  };
}

/** Rewrites the approval message in place to show the current state, if it was posted. */
export async function refreshCard(deps: Deps, requestId: string): Promise<void> {
  const card = loadCard(deps, requestId);
  const ref = card?.request.message;
  if (card === undefined || ref === undefined) return;
  await deliver(deps, { kind: 'card-update', requestId });
}

/** Tells both the channel thread (when the approval message exists) and the requester. */
export async function tellBoth(
  deps: Deps,
  make: (card: ApprovalCard) => Notice,
  requestId: string,
): Promise<void> {
  const card = loadCard(deps, requestId);
  if (card === undefined) return;
  const notice = make(card);
  await Promise.all([
    deliver(deps, { kind: 'thread', requestId, notice }),
    deliver(deps, { kind: 'dm', requestId, userId: card.request.requesterId, notice }),
  ]);
}

/** The first retry of a failed delivery waits this long; each next one twice as long, up to `MAX_RETRY_MS`. */
const FIRST_RETRY_MS = 15_000;
const MAX_RETRY_MS = 10 * 60_000;
/** After this many attempts (about a day) a delivery is given up, logged and kept marked for the record. */
export const MAX_DELIVERY_ATTEMPTS = 150;

const retryDelay = (attempts: number): number =>
  Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(attempts - 1, 16));

/** Sends one delivery now; throws what Slack threw. A thread notice needs the posted approval message. */
async function send(deps: Deps, d: Delivery): Promise<void> {
  const card = loadCard(deps, d.requestId);
  if (card === undefined) return;
  const ref = card.request.message;
  switch (d.kind) {
    case 'card-post':
      if (ref === undefined)
        deps.requests.attachMessage(d.requestId, await deps.notifier.postApprovalCard(card));
      return;
    case 'card-update':
      if (ref !== undefined) await deps.notifier.updateApprovalCard(ref, card);
      return;
    case 'thread':
      // Not posted yet (Slack was down): the card-post retry comes first, so try again later.
      if (ref === undefined) throw new Error('the approval message is not posted yet');
      await deps.notifier.notifyThread(ref, { ...d.notice, card } as Notice);
      return;
    case 'dm':
      await deps.notifier.notifyUser(d.userId, { ...d.notice, card } as Notice);
      return;
  }
}

/**
 * Delivers to Slack, and if Slack fails keeps the delivery in the outbox to be retried by the
 * due-work sweep: a Slack outage delays notices, it never loses them, and it never holds up AWS work.
 */
export async function deliver(deps: Deps, d: Delivery): Promise<void> {
  try {
    await send(deps, d);
  } catch (error) {
    const now = deps.clock.now();
    deps.logger.warn(
      { err: describeError(error), what: d.kind, requestId: d.requestId },
      'slack delivery failed; will retry',
    );
    try {
      deps.outbox.enqueue(
        {
          requestId: d.requestId,
          kind: d.kind,
          userId: d.kind === 'dm' ? d.userId : undefined,
          notice: 'notice' in d ? JSON.stringify({ ...d.notice, card: undefined }) : undefined,
        },
        now,
        new Date(now.getTime() + retryDelay(1)),
        describeError(error),
      );
    } catch (stored) {
      deps.logger.error(
        { err: describeError(stored), requestId: d.requestId },
        'could not keep a failed delivery',
      );
    }
  }
}

/** Keys of notice fields that hold dates (JSON turns them into strings). */
const DATE_KEYS = new Set([
  'startsAt',
  'expiresAt',
  'endedAt',
  'warnedAt',
  'reviewedAt',
  'previousEnd',
  'createdAt',
  'approvalDeadline',
  'decidedAt',
  'remindedAt',
]);

const reviveNotice = (json: string): Notice =>
  JSON.parse(json, (key, value: unknown) =>
    DATE_KEYS.has(key) && typeof value === 'string' ? new Date(value) : value,
  );

/** The due-work sweep's retry of failed deliveries: each is sent again, rescheduled with backoff, or given up. */
export async function retryDeliveries(deps: Deps, now: Date): Promise<number> {
  let sent = 0;
  for (const item of deps.outbox.due(now, 50)) {
    try {
      await send(deps, toDelivery(item));
      deps.outbox.done(item.id, deps.clock.now());
      sent += 1;
    } catch (error) {
      const attempts = item.attempts + 1;
      if (attempts >= MAX_DELIVERY_ATTEMPTS) {
        deps.outbox.abandon(item.id, now, describeError(error));
        deps.logger.error(
          { requestId: item.requestId, kind: item.kind, attempts },
          'gave up a slack delivery',
        );
      } else {
        deps.outbox.retryLater(
          item.id,
          attempts,
          new Date(now.getTime() + retryDelay(attempts)),
          describeError(error),
        );
      }
    }
  }
  return sent;
}

function toDelivery(item: OutboxItem): Delivery {
  const notice = item.notice === undefined ? undefined : reviveNotice(item.notice);
  if (item.kind === 'thread' && notice !== undefined)
    return { kind: 'thread', requestId: item.requestId, notice };
  if (item.kind === 'dm' && notice !== undefined && item.userId !== undefined) {
    return { kind: 'dm', requestId: item.requestId, userId: item.userId, notice };
  }
  return { kind: item.kind === 'card-post' ? 'card-post' : 'card-update', requestId: item.requestId };
}
