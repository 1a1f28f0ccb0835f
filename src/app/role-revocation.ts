import { SYSTEM_ACTOR } from '../domain/request';
import { describeError, InfraError } from './infra-error';
import type { KeyedMutex } from './keyed-mutex';
import type {
  AuditLog,
  Clock,
  DueQuery,
  GrantStore,
  Logger,
  RevocationRoom,
  RoleSessionStore,
  RoleSessions,
  StoredRoleSession,
  UnitOfWork,
} from './ports';

/**
 * STS cannot revoke a session, so a role session that outlives its grant is cut off by a deny on its
 * `aws:userid`. Every role has at most one such policy, `hallpass-revoked-sessions`, listing the
 * sessions revoked and not yet expired. A role's inline policies share one budget of 10,240 characters,
 * so the room that list could need is checked before a session is issued, and entries leave the list
 * as soon as their session has expired by itself.
 *
 * Invariants:
 * - The list's content is always written from the database (every session of the role marked denied by
 *   it, not yet pruned, not yet expired), under the role's lock, so concurrent revocations and prunes
 *   never lose each other's entries.
 * - A session is marked denied only after IAM accepted the list that names it; a write that fails
 *   throws, and the close that wanted it stays `closing` to be retried.
 * - No session is issued unless the list could hold it together with every other live session of the
 *   role: whichever of them is revoked later, there is room.
 */

/** The one inline policy per role that lists the role's revoked sessions. */
export const REVOKED_SESSIONS_POLICY = 'hallpass-revoked-sessions';

/** The lock shared by everything that reads or writes a role's list (KeyedMutex key). */
export const roleLockKey = (roleArn: string): string => `role:${roleArn}`;

/** What checking a role's room for one more session needs. */
type RevocableDeps = {
  readonly clock: Clock;
  readonly roles: Pick<RoleSessions, 'sessionUserId' | 'revocationRoom'>;
  readonly roleSessions: Pick<RoleSessionStore, 'liveOfRole'>;
};

/** What issuing a session that could be revoked needs: the room check, under the role's lock. */
export type IssueRevocableDeps = RevocableDeps & { readonly locks: KeyedMutex };

/** What cutting off one grant's session needs. */
export type CutSessionDeps = {
  readonly clock: Clock;
  readonly locks: KeyedMutex;
  readonly roles: Pick<RoleSessions, 'writeRevokedSessions'>;
  readonly roleSessions: Pick<RoleSessionStore, 'get' | 'liveOfRole' | 'markDenied'>;
};

/** What pruning expired sessions from their deny policies needs. */
export type PruneDeps = {
  readonly clock: Clock;
  readonly locks: KeyedMutex;
  readonly uow: UnitOfWork;
  readonly logger: Logger;
  readonly roles: Pick<RoleSessions, 'removeDeny' | 'writeRevokedSessions'>;
  readonly roleSessions: Pick<RoleSessionStore, 'liveOfRole' | 'markDenyRemoved'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly grants: Pick<GrantStore, 'get'>;
};

/** Listed in the role's revoked-sessions policy, and not yet pruned from it. */
const listed = (s: StoredRoleSession): boolean =>
  s.deniedAt !== undefined && s.denyRemovedAt === undefined && s.denyPolicyName === REVOKED_SESSIONS_POLICY;

/**
 * Cut off by a per-grant `hallpass-deny-<grant id>` policy of its own, written before the list existed:
 * that policy stays until the session expires, and counts among the role's other inline policies.
 */
const deniedByOwnPolicy = (s: StoredRoleSession): boolean =>
  s.deniedAt !== undefined &&
  s.denyRemovedAt === undefined &&
  s.denyPolicyName !== undefined &&
  s.denyPolicyName !== REVOKED_SESSIONS_POLICY;

/** The ids the role's list holds now, from the database: listed and not yet expired at `now`. */
const listedIds = async (
  deps: { readonly roleSessions: Pick<RoleSessionStore, 'liveOfRole'> },
  roleArn: string,
  now: Date,
): Promise<string[]> =>
  (await deps.roleSessions.liveOfRole(roleArn, now)).filter(listed).map((s) => s.assumedRoleId);

/** What a refused session's answer says: the role, the budget, and what takes it. */
export type RevocationRoomDetails = {
  readonly roleArn: string;
  /** Sessions of the role STS still honours, apart from the one asked for. */
  readonly liveSessions: number;
  /** When the first of them expires, freeing room. */
  readonly nextExpiry: Date | undefined;
  readonly limit: number;
  readonly usedByOthers: number;
  /** What the list would take holding every live session and the new one. */
  readonly needed: number;
};

/**
 * A session refused because, once issued, it could not be cut short: the role's inline-policy budget
 * could not hold the list of every live session plus this one. Not retryable: only time (sessions
 * expiring) or an operator (shrinking the role's other inline policies) makes room.
 */
export class RevocationRoomError extends InfraError {
  constructor(readonly details: RevocationRoomDetails) {
    super(
      'limit-exceeded',
      false,
      `no room to revoke another session of ${details.roleArn}: other inline policies take ` +
        `${details.usedByOthers} of ${details.limit} characters, and listing its ${details.liveSessions} ` +
        `live sessions and the new one would take ${details.needed} more`,
      { subject: 'role' },
    );
    this.name = 'RevocationRoomError';
  }
}

/**
 * A session refused because the role's inline-policy budget could not be read, so its revocation could
 * not be guaranteed. Kind, subject and `retryable` are those of the failure that stopped the read
 * (retryable when that was not an `InfraError`).
 */
export class RevocationRoomUnknownError extends InfraError {
  constructor(roleArn: string, error: unknown) {
    const infra = error instanceof InfraError ? error : undefined;
    super(
      infra?.kind ?? 'unknown',
      infra?.retryable ?? true,
      `could not read the inline policies of ${roleArn}: ${describeError(error)}`,
      { providerCode: infra?.providerCode, subject: infra?.subject, cause: error },
    );
    this.name = 'RevocationRoomUnknownError';
  }
}

/**
 * Checks that the role's revoked-sessions policy could hold every session of the role still live plus
 * the one this grant is about to get; throws {@link RevocationRoomError} if not. Call it under the
 * role's lock, and keep holding the lock until the new session is recorded (see {@link issueRevocable}).
 * Failing to read the budget throws {@link RevocationRoomUnknownError}: a session whose revocation
 * cannot be guaranteed is not issued.
 */
export async function ensureRevocable(
  deps: RevocableDeps,
  input: { readonly roleArn: string; readonly grantId: string },
): Promise<void> {
  const now = deps.clock.now();
  // Sessions cut off by a policy of their own never join the list (that policy is counted as "other").
  const live = (await deps.roleSessions.liveOfRole(input.roleArn, now)).filter(
    (s) => s.grantId !== input.grantId && !deniedByOwnPolicy(s),
  );
  let room: RevocationRoom;
  try {
    const next = await deps.roles.sessionUserId(input);
    room = await deps.roles.revocationRoom({
      roleArn: input.roleArn,
      assumedRoleIds: [...live.map((s) => s.assumedRoleId), next],
    });
  } catch (error) {
    throw new RevocationRoomUnknownError(input.roleArn, error);
  }
  if (room.usedByOthers + room.needed > room.limit) {
    throw new RevocationRoomError({
      roleArn: input.roleArn,
      liveSessions: live.length,
      nextExpiry: live[0]?.expiresAt,
      limit: room.limit,
      usedByOthers: room.usedByOthers,
      needed: room.needed,
    });
  }
}

/**
 * Runs `issue` (AssumeRole and recording the session) under the role's lock, after
 * {@link ensureRevocable}: two sessions issued at once cannot both count on the same room. The lock
 * is held for one AssumeRole; a revocation of the same role waits that long at most.
 */
export function issueRevocable<T>(
  deps: IssueRevocableDeps,
  input: { readonly roleArn: string; readonly grantId: string },
  issue: () => Promise<T>,
): Promise<T> {
  return deps.locks.run(roleLockKey(input.roleArn), async () => {
    await ensureRevocable(deps, input);
    return issue();
  });
}

/** What the audit event of a close says about the session's cut. */
export type SessionCut = { denyPolicy?: string; deniedUntil?: string };

const cutOf = (s: StoredRoleSession): SessionCut =>
  s.denyPolicyName === undefined
    ? {}
    : { denyPolicy: s.denyPolicyName, deniedUntil: s.expiresAt.toISOString() };

/**
 * Cuts off the session of a role grant that ends before STS would end it: the role's list is rewritten
 * from the database with this session added, then the session is marked denied. Already denied (a
 * retried close) or already expired: nothing to do. A write IAM refuses throws (an `InfraError`), and
 * nothing is marked: the close stays `closing` and is retried.
 */
export async function cutSession(deps: CutSessionDeps, grantId: string): Promise<SessionCut> {
  const before = await deps.roleSessions.get(grantId);
  if (before === undefined) return {};
  if (before.deniedAt !== undefined) return cutOf(before);
  if (before.expiresAt <= deps.clock.now()) return {};
  return deps.locks.run(roleLockKey(before.roleArn), async () => {
    // Read again under the lock: another close or a prune may have written the list meanwhile.
    const session = await deps.roleSessions.get(grantId);
    if (session === undefined) return {};
    if (session.deniedAt !== undefined) return cutOf(session);
    const now = deps.clock.now();
    if (session.expiresAt <= now) return {};
    await deps.roles.writeRevokedSessions({
      roleArn: session.roleArn,
      assumedRoleIds: [...(await listedIds(deps, session.roleArn, now)), session.assumedRoleId],
    });
    // Only now that IAM has the list: a crash before this line leaves the session unmarked, and the
    // retried close writes it again (the same list, or a longer one).
    await deps.roleSessions.markDenied(grantId, REVOKED_SESSIONS_POLICY, deps.clock.now());
    return { denyPolicy: REVOKED_SESSIONS_POLICY, deniedUntil: session.expiresAt.toISOString() };
  });
}

/**
 * Takes sessions that have expired by themselves out of their deny policies: each role's list is
 * rewritten from the database without them (deleted when nothing is left), and a per-grant policy of
 * the old kind is deleted. Each pruned session gets a `grant.deny_removed` audit event. Returns the
 * grant ids whose prune failed; they stay due and are retried by the next run.
 */
export async function pruneRevokedSessions(
  deps: PruneDeps,
  cleanups: DueQuery<StoredRoleSession>,
  now: Date,
): Promise<string[]> {
  const failed: string[] = [];
  const due = await cleanups.due(now);

  const pruned = async (sessions: readonly StoredRoleSession[]) => {
    const at = deps.clock.now();
    await deps.uow.tx(async () => {
      for (const session of sessions) {
        await deps.roleSessions.markDenyRemoved(session.grantId, at);
        await deps.audit.append({
          at,
          actor: SYSTEM_ACTOR,
          type: 'grant.deny_removed',
          requestId: (await deps.grants.get(session.grantId))?.requestId,
          grantId: session.grantId,
          details: {
            roleArn: session.roleArn,
            policyName: session.denyPolicyName,
            sessionExpiredAt: session.expiresAt.toISOString(),
          },
        });
      }
    });
  };

  // Old per-grant policies: each is deleted on its own, as it was written. (A denied session with no
  // policy name is only marked: leaving it due would keep the scheduler firing for it.)
  for (const session of due.filter((s) => !listed(s))) {
    const { denyPolicyName } = session;
    try {
      if (denyPolicyName !== undefined) {
        await deps.roles.removeDeny({ roleArn: session.roleArn, policyName: denyPolicyName });
      }
      await pruned([session]);
    } catch (error) {
      failed.push(session.grantId);
      deps.logger.error(
        { grantId: session.grantId, err: describeError(error) },
        'removing a deny policy failed; will retry',
      );
    }
  }

  // The lists: one write per role, whatever the number of sessions that expired.
  const roleArns = [...new Set(due.filter(listed).map((s) => s.roleArn))];
  for (const roleArn of roleArns) {
    try {
      await deps.locks.run(roleLockKey(roleArn), async () => {
        // Under the lock, at one instant: what stays listed and what leaves partition the list exactly.
        const at = deps.clock.now();
        const leaving = (await cleanups.due(at)).filter((s) => s.roleArn === roleArn && listed(s));
        if (leaving.length === 0) return;
        await deps.roles.writeRevokedSessions({
          roleArn,
          assumedRoleIds: await listedIds(deps, roleArn, at),
        });
        await pruned(leaving);
      });
    } catch (error) {
      const grantIds = due.filter((s) => s.roleArn === roleArn && listed(s)).map((s) => s.grantId);
      failed.push(...grantIds);
      deps.logger.error(
        { roleArn, grantIds, err: describeError(error) },
        'pruning expired sessions from the revoked-sessions policy failed; will retry',
      );
    }
  }
  return failed;
}
