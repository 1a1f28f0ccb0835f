import type { Grant } from '../domain/grant';
import { type AccessRequest, SYSTEM_ACTOR } from '../domain/request';
import { type CloseGrant, recordCloseFailure } from './close-grant';
import type { AppDeps } from './deps';
import { eachLimit } from './each-limit';
import { deliver, loadCard, type NotifyDeps, refreshCard, tellBoth } from './notify';
import { pruneRevokedSessions } from './role-revocation';

/** Closes in flight at once: grants on different groups or accounts do not wait on each other's AWS calls. */
const PARALLEL_CLOSES = 8;

type Deps = NotifyDeps & Pick<AppDeps, 'audit' | 'uow' | 'wakeup' | 'roles' | 'roleSessions' | 'locks'>;

export type DueWorkResult = {
  readonly closed: number;
  readonly timedOut: number;
  /**
   * Work that failed and must be retried by the scheduler's backoff. A failed close is not listed: it
   * keeps its own retry time in the database (`retry_at`), so it never delays another grant's close.
   */
  readonly failed: readonly string[];
};

/**
 * The run-once job behind the scheduler, also run at start-up to catch up on what came due while
 * hallpass was down. AWS first: every grant that is due (see `grantDueAt` in the grant store: expired,
 * or a close that has not finished) is closed, a few at a time, and revoked role sessions that have
 * expired by themselves are pruned from their role's deny policy. Then what only touches the database:
 * pending requests past their deadline time out, requesters are warned before their end, approvers are
 * reminded. Every Slack message is only queued in the outbox (see `deliver`), so nothing here ever
 * waits on Slack, whatever Slack does. Safe to run twice: each step is a compare-and-set on state.
 */
export const runDueWork =
  (deps: Deps, closeGrant: CloseGrant, announce: (grant: Grant) => void) =>
  async (now: Date): Promise<DueWorkResult> => {
    const closed: Grant[] = [];
    await eachLimit(deps.grants.dueForExpiry(now), PARALLEL_CLOSES, async (grant) => {
      try {
        const reason = grant.state === 'closing' ? (grant.endReason ?? 'expired') : 'expired';
        const done = await closeGrant(grant.id, reason, grant.endedBy ?? SYSTEM_ACTOR);
        if (done !== undefined) closed.push(done);
      } catch (error) {
        recordCloseFailure(deps, grant, error);
      }
    });
    // Revoked sessions that have now expired by themselves leave their deny policies.
    const failed = await pruneRevokedSessions(deps, now);

    for (const grant of closed) announce(grant);
    const timedOut = timeOutRequests(deps, now);
    warnEndingGrants(deps, now);
    remindApprovers(deps, now);
    return { closed: closed.length, timedOut, failed };
  };

function timeOutRequests(deps: Deps, now: Date): number {
  let timedOut = 0;
  for (const request of deps.requests.dueForTimeout(now)) {
    if (timeOutRequest(deps, request, now)) timedOut += 1;
  }
  return timedOut;
}

/** The note a timed-out request carries (in its row and in its `request.timed_out` event). */
export const TIMED_OUT_NOTE = 'nobody approved in time';

/**
 * Times out one pending request past its deadline (a compare-and-set: false if it was decided
 * meanwhile), records it and queues the notices. Also used when a click lands after the deadline but
 * before the scheduler got to it, so the clicker sees the request as it really is.
 */
export function timeOutRequest(
  deps: NotifyDeps & Pick<AppDeps, 'audit' | 'uow'>,
  request: AccessRequest,
  now: Date,
): boolean {
  const decided = deps.uow.tx(() => {
    const d = deps.requests.decide(request.id, 'timed_out', SYSTEM_ACTOR, now, TIMED_OUT_NOTE);
    if (d.ok) {
      deps.audit.append({
        at: now,
        actor: SYSTEM_ACTOR,
        type: 'request.timed_out',
        requestId: request.id,
        details: { deadline: request.approvalDeadline.toISOString(), note: TIMED_OUT_NOTE },
      });
    }
    return d;
  });
  if (!decided.ok) return false;
  refreshCard(deps, request.id);
  tellBoth(deps, (card) => ({ type: 'request-timed-out', card }), request.id);
  return true;
}

/**
 * The requester hears `warnBefore` ahead of the end (with Extend and Done buttons), once per end:
 * an extension clears the mark so the new end is warned too.
 */
function warnEndingGrants(deps: Deps, now: Date): void {
  const warnBefore = deps.policy().warnBefore;
  for (const grant of deps.grants.dueForWarning(now, warnBefore)) {
    if (grant.expiresAt <= now) continue;
    deps.grants.markWarned(grant.id, now);
    const card = loadCard(deps, grant.requestId);
    if (card === undefined) continue;
    deliver(deps, {
      kind: 'dm',
      requestId: grant.requestId,
      userId: grant.requesterId,
      notice: { type: 'grant-expiring', card, grant },
    });
  }
}

/** Once, at half its approval timeout, a request nobody has decided is re-announced to its approvers. */
function remindApprovers(deps: Deps, now: Date): void {
  for (const request of deps.requests.dueForReminder(now)) {
    deps.requests.markReminded(request.id, now);
    const card = loadCard(deps, request.id);
    if (card === undefined) continue;
    deliver(deps, {
      kind: 'thread',
      requestId: request.id,
      notice: { type: 'approval-reminder', card, approvers: card.resource.approvers },
    });
  }
}
