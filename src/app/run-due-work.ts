import type { Grant } from '../domain/grant';
import { findResource } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import type { CloseGrant } from './close-grant';
import type { AppDeps } from './deps';
import { deliver, describeError, loadCard, refreshCard, retryDeliveries, tellBoth } from './notify';
import { pruneRevokedSessions } from './role-revocation';

type Deps = Pick<
  AppDeps,
  | 'outbox'
  | 'clock'
  | 'logger'
  | 'requests'
  | 'grants'
  | 'audit'
  | 'uow'
  | 'notifier'
  | 'policy'
  | 'wakeup'
  | 'roles'
  | 'roleSessions'
  | 'locks'
>;

export type DueWorkResult = {
  readonly closed: number;
  readonly timedOut: number;
  /** Grants whose close failed this time; they stay `closing` and are retried. */
  readonly failed: readonly string[];
};

/**
 * The run-once job behind the scheduler, also called at start-up to catch up on what came due
 * while hallpass was down: times out pending requests past their deadline and closes every grant
 * whose `expires_at` has passed (or whose close did not finish). Safe to run twice: each step is a
 * compare-and-set on state.
 */
/** Failed attempts at closing one grant before the channel is told. */
export const ESCALATE_AFTER = 3;

export const runDueWork = (deps: Deps, closeGrant: CloseGrant, announce: (grant: Grant) => Promise<void>) => {
  // Per grant, in memory: after a restart the count starts again, but the grant itself is never
  // forgotten — it stays `closing` in the database and the sweep retries it.
  const closeFailures = new Map<string, number>();
  return async (now: Date): Promise<DueWorkResult> => {
    let timedOut = 0;
    for (const request of deps.requests.dueForTimeout(now)) {
      const decided = deps.uow.tx(() => {
        const d = deps.requests.decide(request.id, 'timed_out', SYSTEM_ACTOR, now, 'nobody approved in time');
        if (d.ok) {
          deps.audit.append({
            at: now,
            actor: SYSTEM_ACTOR,
            type: 'request.timed_out',
            requestId: request.id,
            details: { deadline: request.approvalDeadline.toISOString() },
          });
        }
        return d;
      });
      if (!decided.ok) continue;
      timedOut += 1;
      await refreshCard(deps, request.id);
      await tellBoth(deps, (card) => ({ type: 'request-timed-out', card }), request.id);
    }

    // AWS first, for every due grant; Slack after, so notices never hold up a revoke.
    const closed: Grant[] = [];
    const failed: string[] = [];
    for (const grant of deps.grants.dueForExpiry(now)) {
      try {
        const reason = grant.state === 'closing' ? (grant.endReason ?? 'expired') : 'expired';
        const done = await closeGrant(grant.id, reason, grant.endedBy ?? SYSTEM_ACTOR);
        if (done !== undefined) closed.push(done);
        closeFailures.delete(grant.id);
      } catch (error) {
        failed.push(grant.id);
        const attempts = (closeFailures.get(grant.id) ?? 0) + 1;
        closeFailures.set(grant.id, attempts);
        deps.logger.error(
          { grantId: grant.id, attempts, err: describeError(error) },
          'closing a due grant failed; will retry',
        );
        // Loud in the channel after a few attempts, then again every tenth, never silent for long.
        if (attempts === ESCALATE_AFTER || (attempts > ESCALATE_AFTER && attempts % 10 === 0)) {
          await escalate(deps, grant, attempts, describeError(error));
        }
      }
    }
    // Revoked sessions that have now expired by themselves leave their deny policies.
    failed.push(...(await pruneRevokedSessions(deps, now)));
    for (const grant of closed) await announce(grant);
    // Slack deliveries that failed earlier (a Slack outage), after the AWS work.
    await retryDeliveries(deps, now);
    await warnEndingGrants(deps, now);
    await remindApprovers(deps, now);
    return { closed: closed.length, timedOut, failed };
  };
};

async function escalate(deps: Deps, grant: Grant, attempts: number, error: string): Promise<void> {
  const card = loadCard(deps, grant.requestId);
  if (card === undefined) return;
  const current = deps.grants.get(grant.id) ?? grant;
  const notice = { type: 'grant-close-failing', card, grant: current, attempts, error } as const;
  await deliver(deps, { kind: 'thread', requestId: grant.requestId, notice });
  await deliver(deps, { kind: 'dm', requestId: grant.requestId, userId: grant.requesterId, notice });
}

/**
 * The requester hears `warnBefore` ahead of the end (with Extend and Done buttons), once per end:
 * an extension clears the mark so the new end is warned too. Marked before sending, so a Slack
 * failure costs one warning rather than a flood of them.
 */
async function warnEndingGrants(deps: Deps, now: Date): Promise<void> {
  const warnBefore = deps.policy().warnBefore;
  for (const grant of deps.grants.dueForWarning(now, warnBefore)) {
    if (grant.expiresAt <= now) continue;
    deps.grants.markWarned(grant.id, now);
    const card = loadCard(deps, grant.requestId);
    if (card === undefined) continue;
    await deliver(deps, {
      kind: 'dm',
      requestId: grant.requestId,
      userId: grant.requesterId,
      notice: { type: 'grant-expiring', card, grant },
    });
  }
}

/** Once, at half its approval timeout, a request nobody has decided is re-announced to its approvers. */
async function remindApprovers(deps: Deps, now: Date): Promise<void> {
  for (const request of deps.requests.dueForReminder(now)) {
    deps.requests.markReminded(request.id, now);
    const card = loadCard(deps, request.id);
    const resource = findResource(deps.policy(), request.resourceId);
    if (card === undefined || resource === undefined) continue;
    await deliver(deps, {
      kind: 'thread',
      requestId: request.id,
      notice: { type: 'approval-reminder', card, approvers: resource.approvers },
    });
  }
}
