import type { Grant } from '../domain/grant';
import type { Policy } from '../domain/policy';
import { type Actor, findResource, isAdmin, isApprover, standingRefusal } from '../domain/policy';
import { type Err, err, ok, type Result } from '../domain/result';
import type { StandingRefusal } from '../domain/standing';
import type { Notices } from './notify';
import type { AuditLog, Clock, GrantStore, UnitOfWork, Wakeup } from './ports';

type Deps = {
  readonly clock: Clock;
  readonly policy: () => Policy;
  readonly uow: UnitOfWork;
  readonly wakeup: Wakeup;
  readonly grants: Pick<GrantStore, 'get' | 'markReviewed'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly notices: Pick<Notices, 'refreshCard' | 'card' | 'deliver'>;
};

export type ReviewError =
  | Err<'UNKNOWN_GRANT' | 'NOT_BREAK_GLASS' | 'ALREADY_REVIEWED', { readonly grantId: string }>
  | Err<'NOT_APPROVER' | StandingRefusal, { readonly resourceId: string }>
  | Err<'SELF_APPROVAL'>;

/**
 * The "Review" button on a break-glass grant: an approver of the resource (or an admin) confirms,
 * afterwards, that the emergency access was justified. The requester cannot review their own.
 */
export const reviewGrant =
  (deps: Deps) =>
  async (cmd: { grantId: string; actor: Actor }): Promise<Result<Grant, ReviewError>> => {
    const grant = await deps.grants.get(cmd.grantId);
    if (grant === undefined) return err('UNKNOWN_GRANT', { grantId: cmd.grantId });
    if (!grant.breakGlass) return err('NOT_BREAK_GLASS', { grantId: grant.id });
    const policy = deps.policy();
    const resource = findResource(policy, grant.resourceId);
    const allowed = (resource !== undefined && isApprover(resource, cmd.actor)) || isAdmin(policy, cmd.actor);
    if (!allowed)
      return err(standingRefusal(resource, cmd.actor) ?? 'NOT_APPROVER', { resourceId: grant.resourceId });
    if (cmd.actor.userId === grant.requesterId) return err('SELF_APPROVAL');
    const now = deps.clock.now();
    const reviewed = await deps.uow.tx(async () => {
      const r = await deps.grants.markReviewed(grant.id, cmd.actor.userId, now);
      if (r.ok) {
        await deps.audit.append({
          at: now,
          actor: cmd.actor.userId,
          type: 'grant.reviewed',
          requestId: grant.requestId,
          grantId: grant.id,
        });
      }
      return r;
    });
    if (!reviewed.ok) return err('ALREADY_REVIEWED', { grantId: grant.id });
    deps.wakeup.wake();
    await deps.notices.refreshCard(grant.requestId);
    const card = await deps.notices.card(grant.requestId);
    if (card !== undefined) {
      await deps.notices.deliver({
        kind: 'thread',
        requestId: grant.requestId,
        notice: { type: 'grant-reviewed', card, grant: reviewed.value },
      });
    }
    return ok(reviewed.value);
  };
