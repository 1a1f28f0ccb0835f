import type { EndReason, Grant } from '../domain/grant';
import type { AppDeps } from './deps';
import { refreshCard, tellBoth } from './notify';
import { lockKeyOf } from './open-grant';
import { cutSession } from './role-revocation';

type Deps = Pick<
  AppDeps,
  | 'outbox'
  | 'clock'
  | 'logger'
  | 'policy'
  | 'requests'
  | 'grants'
  | 'rules'
  | 'audit'
  | 'uow'
  | 'network'
  | 'notifier'
  | 'wakeup'
  | 'locks'
  | 'roles'
  | 'roleSessions'
  | 'faults'
>;

/** Closes a grant in AWS and in the database; returns it closed, or `undefined` if it was not open. Announces nothing. */
export type CloseGrant = (grantId: string, reason: EndReason, by: string) => Promise<Grant | undefined>;

/**
 * Ends a grant. `closing` is committed before any AWS call, so a crash mid-way is finished by the
 * next sweep. A rule is revoked only when no other live grant still holds it (two grants for the
 * same address and port share one EC2 rule), and never when it existed before hallpass. `ended_at`
 * is the moment AWS confirmed the close, apart from the planned `expires_at`. A failed revoke
 * throws and leaves the grant `closing`, to be retried.
 */
export const closeGrant =
  (deps: Deps): CloseGrant =>
  async (grantId, reason, by) => {
    const startedAt = deps.clock.now();
    const marked = deps.uow.tx(() => {
      const m = deps.grants.move(grantId, ['active', 'closing'], 'closing', {
        endReason: reason,
        endedBy: by,
      });
      if (m.ok) {
        deps.audit.append({
          at: startedAt,
          actor: by,
          type: 'grant.closing',
          requestId: m.value.requestId,
          grantId,
          details: { reason },
        });
      }
      return m;
    });
    if (!marked.ok) return undefined;
    deps.faults.point('close.after-closing');

    const keys = new Set(deps.rules.holdsOf(grantId).map(lockKeyOf));
    const revoked: string[] = [];
    const kept: string[] = [];
    for (const key of keys) {
      await deps.locks.run(key, async () => {
        // Read again under the lock: the holds (and other grants' holds) are what they are now.
        const group = deps.rules.holdsOf(grantId).filter((h) => lockKeyOf(h) === key);
        const last = group.filter((h) => h.managed && deps.rules.otherLiveHolders(h.ruleId, grantId) === 0);
        const first = group[0];
        if (first !== undefined && last.length > 0) {
          deps.faults.point('close.before-revoke');
          await deps.network.revoke(
            { region: first.region, groupId: first.groupId, assumeRoleArn: assumeRoleOf(deps, marked.value) },
            last.map((h) => h.ruleId),
          );
        }
        if (last.length > 0) deps.faults.point('close.after-revoke');
        revoked.push(...last.map((h) => h.ruleId));
        kept.push(...group.filter((h) => !last.includes(h)).map((h) => h.ruleId));
        // Released inside the lock, so a grant opening on this group next sees the rule as gone.
        deps.rules.release(grantId, deps.clock.now());
      });
    }

    const denied = await cutRoleSession(deps, grantId);
    deps.faults.point('close.before-closed');

    const endedAt = deps.clock.now();
    const endReason = marked.value.endReason ?? reason;
    const closed = deps.uow.tx(() => {
      deps.rules.release(grantId, endedAt);
      const m = deps.grants.move(grantId, ['closing'], endReason === 'failed' ? 'failed' : 'closed', {
        endedAt,
      });
      if (m.ok) {
        deps.audit.append({
          at: endedAt,
          actor: by,
          type: 'grant.closed',
          requestId: m.value.requestId,
          grantId,
          details: {
            reason: endReason,
            plannedEnd: m.value.expiresAt.toISOString(),
            revokedRuleIds: revoked,
            stillHeldByOtherGrants: kept,
            ...denied,
          },
        });
      }
      return m;
    });
    if (!closed.ok) return undefined;
    deps.logger.info(
      {
        grantId,
        reason: endReason,
        lateMs: endedAt.getTime() - closed.value.expiresAt.getTime(),
        revoked,
        kept,
      },
      'grant closed',
    );
    deps.wakeup.wake();
    return closed.value;
  };

/**
 * STS cannot end a session early. When a role grant ends while its session still runs (a grant
 * shorter than STS's 900 s minimum, or one ended early), the session is added to the role's
 * revoked-sessions policy (see role-revocation.ts); the due-work sweep prunes it once the session has
 * expired by itself. A write IAM refuses throws, leaving the grant `closing` to be retried.
 */
async function cutRoleSession(
  deps: Pick<AppDeps, 'clock' | 'roles' | 'roleSessions' | 'locks'>,
  grantId: string,
): Promise<{ denyPolicy?: string; deniedUntil?: string }> {
  return cutSession(deps, grantId);
}

/**
 * Tells the channel thread and the requester that a grant ended, and rewrites its approval card.
 * Kept apart from `closeGrant` so a batch of closes reaches AWS first and Slack after: a slow
 * Slack never delays the next revoke.
 */
export const announceClosed =
  (deps: Pick<AppDeps, 'outbox' | 'clock' | 'logger' | 'notifier' | 'requests' | 'grants' | 'policy'>) =>
  async (grant: Grant): Promise<void> => {
    if (grant.state !== 'closed') return;
    await refreshCard(deps, grant.requestId);
    await tellBoth(deps, (card) => ({ type: 'grant-ended', card, grant }), grant.requestId);
  };

function assumeRoleOf(deps: Pick<AppDeps, 'policy'>, grant: Grant): string | undefined {
  const r = deps.policy().resources.find((x) => x.id === grant.resourceId);
  return r?.kind === 'security-group' ? r.assumeRoleArn : undefined;
}
