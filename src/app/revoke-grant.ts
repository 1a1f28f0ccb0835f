import type { Grant } from '../domain/grant';
import { type Actor, findResource, isAdmin, isApprover } from '../domain/policy';
import { err, ok, type Result } from '../domain/result';
import type { CloseGrant } from './close-grant';
import type { AppDeps } from './deps';

export type RevokeError = 'UNKNOWN_GRANT' | 'NOT_ALLOWED_TO_REVOKE' | 'GRANT_NOT_ACTIVE';

/**
 * `/access revoke <grant-id>` and the Done button (reason `done`): ends a grant now. Allowed to its requester, to any approver of its
 * resource, and to admins — decided from the policy at this moment. For a role grant this is what
 * writes the deny policy, since STS cannot end the session itself.
 */
export const revokeGrant =
  (deps: Pick<AppDeps, 'policy' | 'grants'>, close: CloseGrant, announce: (grant: Grant) => Promise<void>) =>
  async (cmd: {
    grantId: string;
    actor: Actor;
    reason?: 'revoked' | 'done';
  }): Promise<Result<Grant, RevokeError>> => {
    const grant = deps.grants.get(cmd.grantId);
    if (grant === undefined) return err('UNKNOWN_GRANT', { grantId: cmd.grantId });
    const policy = deps.policy();
    const resource = findResource(policy, grant.resourceId);
    const allowed =
      cmd.actor.userId === grant.requesterId ||
      (resource !== undefined && isApprover(resource, cmd.actor)) ||
      isAdmin(policy, cmd.actor);
    if (!allowed) return err('NOT_ALLOWED_TO_REVOKE', { grantId: grant.id, resourceId: grant.resourceId });
    if (grant.state !== 'active') return err('GRANT_NOT_ACTIVE', { grantId: grant.id, state: grant.state });
    const closed = await close(grant.id, cmd.reason ?? 'revoked', cmd.actor.userId);
    if (closed === undefined) {
      return err('GRANT_NOT_ACTIVE', { grantId: grant.id, state: deps.grants.get(grant.id)?.state });
    }
    await announce(closed);
    return ok(closed);
  };
