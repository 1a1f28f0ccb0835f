import type { Grant } from '../domain/grant';
import { SYSTEM_ACTOR } from '../domain/request';
import type { CloseGrant } from './close-grant';
import type { AppDeps } from './deps';
import { describeError, refreshCard, tellBoth } from './notify';

type Deps = Pick<
  AppDeps,
  'logger' | 'requests' | 'grants' | 'audit' | 'uow' | 'notifier' | 'policy' | 'wakeup'
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
    for (const grant of closed) await announce(grant);
    return { closed: closed.length, timedOut, failed };
  };
