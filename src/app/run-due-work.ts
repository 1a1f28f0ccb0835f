import type { Grant } from '../domain/grant';
import { findResource } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import type { CloseGrant } from './close-grant';
import type { AppDeps } from './deps';
import { describeError, loadCard, refreshCard, safely, tellBoth } from './notify';

type Deps = Pick<
  AppDeps,
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
export const runDueWork =
  (deps: Deps, closeGrant: CloseGrant, announce: (grant: Grant) => Promise<void>) =>
  async (now: Date): Promise<DueWorkResult> => {
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
      } catch (error) {
        failed.push(grant.id);
        deps.logger.error(
          { grantId: grant.id, err: describeError(error) },
          'closing a due grant failed; will retry',
        );
      }
    }
    // Deny policies whose session has now expired by itself are no longer needed.
    for (const session of deps.roleSessions.dueForCleanup(now)) {
      try {
        if (session.denyPolicyName !== undefined) {
          await deps.roles.removeDeny({ roleArn: session.roleArn, policyName: session.denyPolicyName });
        }
        const at = deps.clock.now();
        deps.uow.tx(() => {
          deps.roleSessions.markDenyRemoved(session.grantId, at);
          deps.audit.append({
            at,
            actor: SYSTEM_ACTOR,
            type: 'grant.deny_removed',
            requestId: deps.grants.get(session.grantId)?.requestId,
            grantId: session.grantId,
            details: {
              roleArn: session.roleArn,
              policyName: session.denyPolicyName,
              sessionExpiredAt: session.expiresAt.toISOString(),
            },
          });
        });
      } catch (error) {
        failed.push(session.grantId);
        deps.logger.error(
          { grantId: session.grantId, err: describeError(error) },
          'removing a deny policy failed; will retry',
        );
      }
    }
    for (const grant of closed) await announce(grant);
    await warnEndingGrants(deps, now);
    await remindApprovers(deps, now);
    return { closed: closed.length, timedOut, failed };
  };

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
    await safely(deps, 'dm grant-expiring', () =>
      deps.notifier.notifyUser(grant.requesterId, { type: 'grant-expiring', card, grant }),
    );
  }
}

/** Once, at half its approval timeout, a request nobody has decided is re-announced to its approvers. */
async function remindApprovers(deps: Deps, now: Date): Promise<void> {
  for (const request of deps.requests.dueForReminder(now)) {
    deps.requests.markReminded(request.id, now);
    const card = loadCard(deps, request.id);
    const ref = card?.request.message;
    const resource = findResource(deps.policy(), request.resourceId);
    if (card === undefined || ref === undefined || resource === undefined) continue;
    await safely(deps, 'thread approval-reminder', () =>
      deps.notifier.notifyThread(ref, { type: 'approval-reminder', card, approvers: resource.approvers }),
    );
  }
}
