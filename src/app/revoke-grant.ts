import type { Grant, GrantState } from '../domain/grant';
import type { Policy } from '../domain/policy';
import { type Actor, findResource, isAdmin, isApprover, standingRefusal } from '../domain/policy';
import { type Err, err, ok, type Result } from '../domain/result';
import type { StandingRefusal } from '../domain/standing';
import { type CloseFailureDeps, type ClosingUses, recordCloseFailure } from './close-grant';
import { reasonInWords } from './infra-error';
import type { GrantStore, Wakeup } from './ports';

type Deps = CloseFailureDeps & {
  readonly policy: () => Policy;
  readonly wakeup: Wakeup;
  readonly grants: Pick<GrantStore, 'get'>;
};

export type RevokeError =
  | Err<'UNKNOWN_GRANT', { readonly grantId: string }>
  | Err<'NOT_ALLOWED_TO_REVOKE' | StandingRefusal, { readonly grantId: string; readonly resourceId: string }>
  /** `state`: as the grant stands now (`undefined`: it is gone). */
  | Err<'GRANT_NOT_ACTIVE', { readonly grantId: string; readonly state: GrantState | undefined }>
  /** AWS refused the close (`error`, in words): the grant stays `closing` and the scheduler retries. */
  | Err<'CLOSE_PENDING', { readonly grantId: string; readonly resourceId: string; readonly error: string }>;

/**
 * `/access revoke <grant-id>` and the Done button (reason `done`): ends a grant now. Allowed to its requester, to any approver of its
 * resource, and to admins — decided from the policy at this moment. For a role grant this is what
 * writes the deny policy, since STS cannot end the session itself. When AWS refuses the close, the
 * grant stays `closing` — it is ending, and the scheduler retries until AWS confirms (raising it
 * loudly if it keeps failing) — and the answer says exactly that (`CLOSE_PENDING`), never that
 * nothing changed.
 */
export const revokeGrant =
  (deps: Deps, use: ClosingUses) =>
  async (cmd: {
    grantId: string;
    actor: Actor;
    reason?: 'revoked' | 'done';
  }): Promise<Result<Grant, RevokeError>> => {
    const grant = await deps.grants.get(cmd.grantId);
    if (grant === undefined) return err('UNKNOWN_GRANT', { grantId: cmd.grantId });
    const policy = deps.policy();
    const resource = findResource(policy, grant.resourceId);
    const allowed =
      cmd.actor.userId === grant.requesterId ||
      (resource !== undefined && isApprover(resource, cmd.actor)) ||
      isAdmin(policy, cmd.actor);
    if (!allowed) {
      // Ending one's own grant early is never refused; anyone else acts as an approver or admin, which a
      // guest or another workspace's user is not unless the resource admits them: say so when that is why.
      const refused = standingRefusal(resource, cmd.actor);
      return err(refused ?? 'NOT_ALLOWED_TO_REVOKE', { grantId: grant.id, resourceId: grant.resourceId });
    }
    if (grant.state !== 'active') return err('GRANT_NOT_ACTIVE', { grantId: grant.id, state: grant.state });
    let closed: Grant | undefined;
    try {
      closed = await use.closeGrant(grant.id, cmd.reason ?? 'revoked', cmd.actor.userId);
    } catch (error) {
      await recordCloseFailure(deps, grant, error);
      deps.wakeup.wake();
      return err('CLOSE_PENDING', {
        grantId: grant.id,
        resourceId: grant.resourceId,
        error: reasonInWords(error),
      });
    }
    if (closed === undefined) {
      return err('GRANT_NOT_ACTIVE', { grantId: grant.id, state: (await deps.grants.get(grant.id))?.state });
    }
    await use.announceClosed(closed);
    return ok(closed);
  };
