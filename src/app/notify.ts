import { findResource, type Policy } from '../domain/policy';
import { automationName } from '../domain/token';
import { describeError } from './infra-error';
import type { ApprovalCard, Notice } from './notices';
import type {
  ApiRequestStore,
  Clock,
  Delivery,
  GrantStore,
  Logger,
  OutboxItem,
  OutboxStore,
  RequestStore,
  Wakeup,
} from './ports';

/** What reading an approval card needs: the stores it is read from, and the policy naming its resource. */
export type CardDeps = {
  readonly apiRequests?: Pick<ApiRequestStore, 'get'> | undefined;
  readonly requests: Pick<RequestStore, 'get' | 'approvals'>;
  readonly grants: Pick<GrantStore, 'get' | 'byRequest'>;
  readonly policy: () => Policy;
};

/** What queuing a notice needs: the outbox, the dispatcher to wake, and the stores to build the card. */
export type NoticesDeps = CardDeps & {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly outbox: Pick<OutboxStore, 'enqueue'>;
  readonly deliveries: Wakeup;
};

/**
 * Every Slack message a use case sends, built once over the outbox (see `createNotices`): use cases
 * take this, never the outbox itself.
 */
export type Notices = {
  /**
   * Queues one Slack message. It is written to the outbox and sent by the outbox dispatcher, in order
   * with the others of its lane, as a single short attempt retried with backoff (honouring Slack's
   * `Retry-After`) until it is delivered: so no caller — above all nothing that closes access — ever
   * waits on Slack, and a Slack outage delays notices without losing them. Never throws.
   */
  deliver(d: Delivery): Promise<void>;
  /** Rewrites the approval message in place to show the current state (once it is posted). */
  refreshCard(requestId: string): Promise<void>;
  /** Tells both the channel thread (when the approval message exists) and the requester. */
  tellBoth(make: (card: ApprovalCard) => Notice, requestId: string): Promise<void>;
  /** The approval card of a request as it stands now (see `loadCard`). */
  card(requestId: string): Promise<ApprovalCard | undefined>;
};

/** Kept here too: most use cases import it alongside the notify helpers. */
export { describeError };

/**
 * The approval card as it stands now, read fresh from the store. The resource is the policy's, or —
 * when the policy no longer names it — the resource as it was when the request was made, so a live
 * grant keeps being announced after a policy edit. `undefined` only for an unknown request (or one
 * made before snapshots were kept whose resource has left the policy).
 */
export async function loadCard(deps: CardDeps, requestId: string): Promise<ApprovalCard | undefined> {
  const request = await deps.requests.get(requestId);
  if (request === undefined) return undefined;
  const resource = findResource(deps.policy(), request.resourceId) ?? request.resourceAtRequest;
  if (resource === undefined) return undefined;
  return {
    request,
    resource,
    approvals: await deps.requests.approvals(requestId),
    grant: await deps.grants.byRequest(requestId),
    extends: request.extendsGrantId === undefined ? undefined : await deps.grants.get(request.extendsGrantId),
    automation:
      automationName(request.requesterId) === undefined ? undefined : await deps.apiRequests?.get(requestId),
  };
}

/** The lane a delivery waits in: everything about one request goes out in order; channel notices per channel. */
export const laneOf = (d: Delivery): string =>
  d.kind === 'channel' ? `chan:${d.channel}` : `req:${d.requestId}`;

function toOutboxItem(d: Delivery): Omit<OutboxItem, 'id' | 'attempts' | 'createdAt'> {
  const lane = laneOf(d);
  switch (d.kind) {
    case 'card-post':
    case 'card-update':
      return { kind: d.kind, lane, requestId: d.requestId };
    case 'thread':
      return { kind: d.kind, lane, requestId: d.requestId, notice: noticeJson(d.notice) };
    case 'dm':
      return { kind: d.kind, lane, requestId: d.requestId, userId: d.userId, notice: noticeJson(d.notice) };
    case 'channel':
      return { kind: d.kind, lane, channel: d.channel, notice: JSON.stringify(d.notice) };
  }
}

/** A notice without its card: the card is read fresh when the notice is sent. */
const noticeJson = (notice: Notice): string => JSON.stringify({ ...notice, card: undefined });

/** The notices over one outbox: what every use case is given to tell Slack anything. */
export function createNotices(deps: NoticesDeps): Notices {
  const deliver = async (d: Delivery): Promise<void> => {
    // An automation (`token:<name>`) is no Slack user: it reads its request through the API, not a DM.
    if (d.kind === 'dm' && automationName(d.userId) !== undefined) return;
    try {
      await deps.outbox.enqueue(toOutboxItem(d), deps.clock.now());
    } catch (error) {
      deps.logger.error(
        { err: describeError(error), what: d.kind, lane: laneOf(d) },
        'could not queue a slack delivery',
      );
      return;
    }
    deps.deliveries.wake();
  };
  return {
    deliver,
    async refreshCard(requestId) {
      await deliver({ kind: 'card-update', requestId });
    },
    async tellBoth(make, requestId) {
      const card = await loadCard(deps, requestId);
      if (card === undefined) return;
      const notice = make(card);
      await deliver({ kind: 'thread', requestId, notice });
      await deliver({ kind: 'dm', requestId, userId: card.request.requesterId, notice });
    },
    card: (requestId) => loadCard(deps, requestId),
  };
}
