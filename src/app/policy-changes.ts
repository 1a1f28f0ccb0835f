import type { Grant } from '../domain/grant';
import { describePorts, findResource, type Policy, type Resource } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import { raiseGrantAlert } from './alerts';
import type { Notices } from './notify';
import type { AuditLog, Clock, GrantStore, Logger, RoleSessionStore, RuleHold, RuleStore } from './ports';

type Deps = {
  readonly policy: () => Policy;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly grants: Pick<GrantStore, 'list'>;
  readonly rules: Pick<RuleStore, 'holdsOfAll'>;
  readonly roleSessions: Pick<RoleSessionStore, 'get'>;
  readonly audit: Pick<AuditLog, 'append' | 'list'>;
  readonly notices: Pick<Notices, 'card' | 'deliver'>;
};

/** The audit event recording that the policy stopped describing a live grant. */
export const POLICY_CHANGED_EVENT = 'grant.policy_changed';

/**
 * What differs between what a live grant holds — recorded when it opened — and what the policy says
 * of its resource now, in words; empty when nothing does. Pure.
 */
export function policyChanges(
  resource: Resource | undefined,
  holds: readonly RuleHold[],
  roleArn: string | undefined,
): string[] {
  if (resource === undefined) return ['its resource is no longer in the policy'];
  if (resource.kind === 'aws-role') {
    if (roleArn === undefined) return holds.length > 0 ? ['it is now a role resource'] : [];
    return resource.roleArn === roleArn
      ? []
      : [`its role is now ${resource.roleArn} (the session is of ${roleArn})`];
  }
  if (holds.length === 0) return roleArn === undefined ? [] : ['it is now a security-group resource'];
  const changes = new Set<string>();
  for (const h of holds) {
    if (h.region !== resource.region)
      changes.add(`its region is now ${resource.region} (the rules are in ${h.region})`);
    if (h.groupId !== resource.securityGroupId)
      changes.add(`its security group is now ${resource.securityGroupId} (the rules are in ${h.groupId})`);
    if ((h.assumeRoleArn ?? '') !== (resource.assumeRoleArn ?? ''))
      changes.add(
        `the role used to reach it is now ${resource.assumeRoleArn ?? 'hallpass’s own'} (the rules were opened with ${h.assumeRoleArn ?? 'hallpass’s own'})`,
      );
  }
  const heldPorts = [...new Set(holds.map((h) => `${h.protocol} ${h.fromPort}-${h.toPort}`))].sort();
  const policyPorts = resource.ports.map((p) => `${resource.protocol} ${p.from}-${p.to}`).sort();
  if (heldPorts.join() !== policyPorts.join()) changes.add(`its ports are now ${describePorts(resource)}`);
  return [...changes];
}

/**
 * Tells the channel, once, about every live grant the policy no longer describes — at start-up, after a
 * policy edit. Nothing about the grant changes: it keeps exactly what was approved, and closes on time
 * with what opened it (the role, region and group recorded on its holds, or its session's role), never
 * with the policy as it reads now. Recorded in the audit log, which also remembers what was already said.
 */
export const announcePolicyChanges =
  (deps: Deps) =>
  async (policy: Policy): Promise<number> => {
    let announced = 0;
    const live = await deps.grants.list(['opening', 'active', 'closing']);
    // One read for every live grant's holds: at start-up there may be thousands of grants.
    const holdsBy = new Map<string, RuleHold[]>();
    for (const h of await deps.rules.holdsOfAll(live.map((g) => g.id))) {
      const list = holdsBy.get(h.grantId);
      if (list === undefined) holdsBy.set(h.grantId, [h]);
      else list.push(h);
    }
    for (const grant of live) {
      const holds = holdsBy.get(grant.id) ?? [];
      const resource = findResource(policy, grant.resourceId);
      // The role session decides only for a role resource, or a grant holding no rule (see policyChanges).
      const roleArn =
        resource !== undefined && (resource.kind === 'aws-role' || holds.length === 0)
          ? (await deps.roleSessions.get(grant.id))?.roleArn
          : undefined;
      const changes = policyChanges(resource, holds, roleArn);
      if (changes.length === 0 || (await alreadySaid(deps, grant, changes))) continue;
      await deps.audit.append({
        at: deps.clock.now(),
        actor: SYSTEM_ACTOR,
        type: POLICY_CHANGED_EVENT,
        requestId: grant.requestId,
        grantId: grant.id,
        details: { changes, expiresAt: grant.expiresAt.toISOString() },
      });
      deps.logger.warn({ grantId: grant.id, changes }, 'the policy no longer describes a live grant');
      const card = await deps.notices.card(grant.requestId);
      if (card !== undefined) {
        await deps.notices.deliver({
          kind: 'thread',
          requestId: grant.requestId,
          notice: { type: 'grant-policy-changed', card, grant, changes },
        });
        // Stranded: said at the top level too, once (the audit event above remembers it was said).
        await raiseGrantAlert(deps, card.resource.channel, grant, {
          what: 'stranded',
          detail: changes.join('; '),
        });
      }
      announced += 1;
    }
    return announced;
  };

async function alreadySaid(
  deps: { readonly audit: Pick<AuditLog, 'list'> },
  grant: Grant,
  changes: readonly string[],
): Promise<boolean> {
  const said = JSON.stringify(changes);
  return (await deps.audit.list({ requestId: grant.requestId })).some(
    (e) =>
      e.type === POLICY_CHANGED_EVENT &&
      e.grantId === grant.id &&
      JSON.stringify(e.details?.['changes']) === said,
  );
}
