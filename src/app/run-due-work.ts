import type { Grant } from '../domain/grant';
import { SYSTEM_ACTOR } from '../domain/request';
import type { CloseGrant } from './close-grant';
import type { AppDeps } from './deps';
import { describeError, refreshCard, tellBoth } from './notify';

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
    return { closed: closed.length, timedOut, failed };
  };
