import type { EndReason, Grant } from '../domain/grant';
import type { Policy, SecurityGroupResource } from '../domain/policy';
import { findResource } from '../domain/policy';
import { SYSTEM_ACTOR } from '../domain/request';
import { type BackstopDeps, syncBackstops } from './backstop';
import { type LiftCutsDeps, liftCutsFor } from './cut-connections';
import { InfraError, reasonInWords } from './infra-error';
import { describeError, type Notices } from './notify';
import { type OpenRoleSessionDeps, openRoleSession } from './open-role-session';
import { noteOutcome, type OutcomeDeps } from './outcomes';
import type {
  AuditLog,
  AuthorizeResult,
  Clock,
  Faults,
  GrantStore,
  Locks,
  Logger,
  NetworkAccess,
  RequestStore,
  RuleHold,
  RuleKey,
  RuleStore,
  RuleTarget,
  UnitOfWork,
  Wakeup,
} from './ports';
import {
  type RevocationRoomDetails,
  RevocationRoomError,
  RevocationRoomUnknownError,
} from './role-revocation';

export type OpenGrant = (grantId: string) => Promise<void>;

/** What marking a grant failed, after rolling back what it opened, needs. */
type FailDeps = OutcomeDeps & {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly uow: UnitOfWork;
  readonly wakeup: Wakeup;
  readonly network: Pick<NetworkAccess, 'revoke'>;
  readonly requests: Pick<RequestStore, 'markFailed'>;
  readonly rules: Pick<RuleStore, 'release'>;
  readonly grants: Pick<GrantStore, 'move'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly notices: Pick<Notices, 'refreshCard' | 'tellBoth'>;
};

export type OpenGrantDeps = OpenRoleSessionDeps &
  LiftCutsDeps &
  BackstopDeps &
  FailDeps & {
    readonly policy: () => Policy;
    readonly faults: Faults;
    readonly locks: Locks;
    readonly requests: Pick<RequestStore, 'get'>;
    readonly grants: Pick<GrantStore, 'get' | 'move'>;
    readonly rules: Pick<RuleStore, 'findLive' | 'hold' | 'holdsOf'>;
    readonly network: Pick<NetworkAccess, 'authorize' | 'retag'>;
  };

/** The use cases opening calls: a role grant whose credentials cannot be delivered is closed again at once. */
export type OpenGrantUses = {
  readonly closeGrant: (grantId: string, reason: EndReason, by: string) => Promise<Grant | undefined>;
  /** Tells the channel and the requester a grant has ended (a grant whose time ran out while opening). */
  readonly announceClosed: (grant: Grant) => Promise<void>;
};

export const targetOf = (r: SecurityGroupResource): RuleTarget => ({
  region: r.region,
  groupId: r.securityGroupId,
  assumeRoleArn: r.assumeRoleArn,
});

export const lockKeyOf = (t: Pick<RuleTarget, 'region' | 'groupId'>): string => `${t.region}/${t.groupId}`;

/**
 * Opens what an approved request grants. The grant was committed as `opening` before this runs,
 * so a crash here leaves a record that start-up can finish. Rules are reference-counted: a rule
 * another live grant already holds is shared, not opened twice; on any failure every rule this
 * grant opened itself is revoked again before the grant is marked failed — nothing is left behind.
 */
/**
 * The lock an open holds from start to end (every replica sees it): recovery leaves alone a grant whose
 * open is in progress somewhere, and takes over one whose opener died (its lock went with it).
 */
export const openLockKey = (grantId: string): string => `open:${grantId}`;

export const openGrant =
  (deps: OpenGrantDeps, use: OpenGrantUses): OpenGrant =>
  (grantId) =>
    deps.locks.run(openLockKey(grantId), () => openHeld(deps, use, grantId));

/**
 * A rule found as a duplicate that was made before rules carried `hallpass:deployment`: this
 * deployment's only if its database knows the grant the rule's tag names (this one, after a lost
 * answer, or an earlier one) — otherwise it may be another deployment's, used but never revoked.
 */
async function legacyIsOurs(
  deps: Pick<OpenGrantDeps, 'grants'>,
  grantId: string,
  legacy: AuthorizeResult['legacy'],
): Promise<boolean> {
  const tagged = legacy?.grantId;
  if (tagged === undefined) return false;
  return tagged === grantId || (await deps.grants.get(tagged)) !== undefined;
}

/** `openGrant`, its lock held. */
async function openHeld(deps: OpenGrantDeps, use: OpenGrantUses, grantId: string): Promise<void> {
  const grant = await deps.grants.get(grantId);
  if (grant === undefined || grant.state !== 'opening') return;
  const request = await deps.requests.get(grant.requestId);
  const resource = findResource(deps.policy(), grant.resourceId);
  if (request === undefined) throw new Error(`grant ${grantId} has no request`);
  if (resource === undefined) {
    await fail(deps, grantId, request.id, `resource ${grant.resourceId} is no longer in the policy`, []);
    return;
  }
  if (resource.kind === 'aws-role') {
    try {
      await openRoleSession(deps, grant, request, resource, async (id) => {
        await use.closeGrant(id, 'failed', SYSTEM_ACTOR);
      });
    } catch (error) {
      await fail(deps, grantId, request.id, plainWords(error), []);
    }
    return;
  }
  const source = request.source;
  if (source === undefined)
    throw new Error(`request ${request.id} for a security group has no source address`);

  const target = targetOf(resource);
  const tags = { grantId, requesterId: grant.requesterId, expiresAt: grant.expiresAt };
  const opened: RuleHold[] = [];
  /** Its end came before the open could finish (most often while it waited for the group's lock). */
  let ranOut = false;
  try {
    await deps.locks.run(lockKeyOf(target), async () => {
      for (const ports of resource.ports) {
        // It was ended while it was opening: the close that took over waits for this lock and revokes
        // what was opened so far; nothing more is opened.
        const now = await deps.grants.get(grantId);
        if (now?.state !== 'opening') return;
        // Its time ran out while it waited here, and no close has taken over yet (the scheduler may be
        // busy with the very work that held this lock): nothing more is opened, and it is closed below.
        if (deps.clock.now().getTime() >= now.expiresAt.getTime()) {
          ranOut = true;
          return;
        }
        const key: RuleKey = {
          region: target.region,
          groupId: target.groupId,
          protocol: resource.protocol,
          fromPort: ports.from,
          toPort: ports.to,
          cidr: source.cidr,
        };
        const shared = await deps.rules.findLive(key);
        if (shared !== undefined) {
          // Another live grant holds this exact rule: take a reference instead of a second rule.
          // The shared rule is reached the way it was opened, so it is closed that way too.
          await deps.rules.hold({
            ...key,
            grantId,
            ruleId: shared.ruleId,
            managed: shared.managed,
            assumeRoleArn: shared.assumeRoleArn,
          });
          if (shared.managed)
            await deps.network.retag(target, shared.ruleId, await laterTags(deps, shared, tags));
          continue;
        }
        // An earlier grant's cut still denying this address would block the access just approved.
        await liftCutsFor(deps, key);
        deps.faults.point('open.before-authorize');
        const result = await deps.network.authorize(target, { ...key, family: source.family }, tags);
        deps.faults.point('open.after-authorize');
        // Recorded with the role that reached the group: close, rollback, retag and reconciliation
        // use it later, whatever the policy says by then.
        const hold: RuleHold = {
          ...key,
          grantId,
          ruleId: result.ruleId,
          managed: result.managed || !result.existed || (await legacyIsOurs(deps, grantId, result.legacy)),
          assumeRoleArn: target.assumeRoleArn,
        };
        await deps.rules.hold(hold);
        if (ports === resource.ports[0] && resource.ports.length > 1)
          deps.faults.point('open.after-first-rule');
        // No live grant holds this rule (findLive above, under the lock), so a managed one is this
        // grant's alone — most often its own, created by an authorize whose answer was lost and
        // found again as a duplicate on the retry — and a failure must roll it back too. Only an
        // unmanaged rule (made by hand, there before hallpass) is never revoked.
        if (hold.managed) opened.push(hold);
        if (result.existed && hold.managed) await deps.network.retag(target, hold.ruleId, tags);
      }
    });
  } catch (error) {
    await fail(deps, grantId, request.id, plainWords(error), opened);
    return;
  }
  if (ranOut) {
    // Closed now, not when the scheduler gets to it: whatever it opened before its time ran out is
    // revoked (and cut) at once. A close that fails stays due, so the scheduler tries again.
    try {
      const closed = await use.closeGrant(grantId, 'expired', SYSTEM_ACTOR);
      if (closed !== undefined) await use.announceClosed(closed);
    } catch (error) {
      deps.logger.warn(
        { grantId, err: describeError(error) },
        'a grant whose time ran out while it was opening could not be closed yet; it is retried',
      );
    }
    return;
  }

  // AWS's own deadline for every rule this grant holds, before the grant counts as open: if every
  // hallpass process and the database vanish from here on, AWS still closes the rules.
  const held = (await deps.rules.holdsOf(grantId)).filter((h) => h.managed).map((h) => h.ruleId);
  deps.faults.point('open.before-backstop');
  const unset = await syncBackstops(deps)(held);
  if (unset.length > 0) {
    await fail(
      deps,
      grantId,
      request.id,
      `AWS's backstop for the rule could not be set (${unset[0]?.error ?? 'unknown error'}), and nothing opens without one`,
      opened,
    );
    // The rules this grant opened are revoked and its holds released: drop what it scheduled.
    await syncBackstops(deps)(held);
    return;
  }
  deps.faults.point('open.after-backstop');

  deps.faults.point('open.before-active');
  const now = deps.clock.now();
  const holds = await deps.rules.holdsOf(grantId);
  const moved = await deps.uow.tx(async () => {
    const m = await deps.grants.move(grantId, ['opening'], 'active');
    if (m.ok) {
      await deps.audit.append({
        at: now,
        actor: SYSTEM_ACTOR,
        type: 'grant.opened',
        requestId: request.id,
        grantId,
        details: {
          groupId: target.groupId,
          cidr: source.cidr,
          ruleIds: holds.map((h) => h.ruleId),
          shared: holds.filter((h) => !opened.some((o) => o.ruleId === h.ruleId)).map((h) => h.ruleId),
          expiresAt: grant.expiresAt.toISOString(),
        },
      });
    }
    return m;
  });
  if (!moved.ok) return;
  noteOutcome(deps, 'opened', {
    requestId: request.id,
    grantId,
    resourceId: grant.resourceId,
    requesterId: grant.requesterId,
    groupId: target.groupId,
    cidr: source.cidr,
    ruleIds: holds.map((h) => h.ruleId),
    expiresAt: grant.expiresAt.toISOString(),
  });
  deps.wakeup.wake();
  await deps.notices.refreshCard(request.id);
  await deps.notices.tellBoth((card) => ({ type: 'grant-started', card, grant: moved.value }), request.id);
}

/** The tags a shared rule should carry: those of whichever holder ends last. */
async function laterTags(
  deps: { readonly grants: Pick<GrantStore, 'get'> },
  shared: RuleHold,
  mine: { grantId: string; requesterId: string; expiresAt: Date },
): Promise<{ grantId: string; requesterId: string; expiresAt: Date }> {
  const other = await deps.grants.get(shared.grantId);
  if (other !== undefined && other.expiresAt > mine.expiresAt) {
    return { grantId: other.id, requesterId: other.requesterId, expiresAt: other.expiresAt };
  }
  return mine;
}

/**
 * Why an open failed, in words a requester understands: chosen by the error's class, `kind` and
 * `subject` as the adapter classified it, never by a provider's error code.
 */
export function plainWords(error: unknown): string {
  if (error instanceof RevocationRoomError) return revocationRoomWords(error.details);
  if (error instanceof RevocationRoomUnknownError)
    return (
      'no session was issued, because hallpass could not check that it could cut the session short ' +
      `if needed (${reasonInWords(error)}). It needs ` +
      'iam:GetRole, iam:ListRolePolicies and iam:GetRolePolicy on the role; please try again or ask an admin'
    );
  const infra = error instanceof InfraError ? error : undefined;
  switch (infra?.kind) {
    case 'not-found':
      return 'the security group does not exist in AWS (check securityGroupId and region in the policy)';
    case 'denied':
      if (infra.subject === 'credentials')
        return 'hallpass has no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give it an instance or task role; `npm run check` says what is missing)';
      if (infra.subject === 'region') return 'STS is not enabled in this region for the account';
      return infra.subject === 'role'
        ? 'AWS denied access (hallpass may not assume this role or change this resource: check its IAM permissions and the role trust policy)'
        : 'hallpass is not allowed to change this security group (its AWS permissions are missing)';
    case 'limit-exceeded':
      return 'the security group has reached its AWS limit of rules';
    case 'invalid':
      // A session request STS or IAM refused; one EC2 refused, or hallpass itself, is told as it is.
      if (infra.subject === 'role')
        return `AWS refused the session request as invalid (${reasonInWords(error)})`;
      break;
    case 'throttled':
      return 'AWS kept throttling hallpass and the request could not be completed; please try again in a few minutes';
  }
  return `AWS refused to open the rule (${reasonInWords(error)})`;
}

/** Why a role session was refused when the role has no room left to revoke it, and what would help. */
function revocationRoomWords(d: RevocationRoomDetails): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const sessions = d.liveSessions === 1 ? '1 other session' : `${n(d.liveSessions)} other sessions`;
  const wait =
    d.nextExpiry === undefined
      ? ''
      : `wait until sessions of this role expire (the next at ${d.nextExpiry.toISOString().slice(0, 16).replace('T', ' ')} UTC), or `;
  return (
    `no session was issued, because hallpass could not have cut it short: the inline policies of ${d.roleArn} ` +
    `are full. IAM allows ${n(d.limit)} characters for all of a role's inline policies together; its other ` +
    `inline policies take ${n(d.usedByOthers)}, and the deny list hallpass keeps on the role would need ` +
    `${n(d.needed)} to cover this session and the ${sessions} of this role still live. What would help: ` +
    `${wait}shrink the role's other inline policies or move them into managed policies`
  );
}

/**
 * Rolls back what this grant opened itself — each rule with the role recorded on its hold — then
 * records and announces the failure, in one transaction with its audit event. When the rollback fails
 * too, the grant is moved to `closing` instead of `failed`, still holding those rules: a `closing`
 * grant is due at once, so the scheduler keeps revoking them (and raises it loudly if that keeps
 * failing), and the requester and the channel are told that something is still being closed.
 */
async function fail(
  deps: FailDeps,
  grantId: string,
  requestId: string,
  why: string,
  opened: readonly RuleHold[],
): Promise<void> {
  const byGroup = new Map<string, RuleHold[]>();
  for (const h of opened) {
    const key = `${lockKeyOf(h)}\n${h.assumeRoleArn ?? ''}`;
    byGroup.set(key, [...(byGroup.get(key) ?? []), h]);
  }
  const stillOpen: string[] = [];
  let rollbackError: string | undefined;
  for (const holds of byGroup.values()) {
    const first = holds[0];
    if (first === undefined) continue;
    try {
      await deps.network.revoke(
        { region: first.region, groupId: first.groupId, assumeRoleArn: first.assumeRoleArn },
        holds.map((h) => h.ruleId),
      );
    } catch (error) {
      rollbackError ??= describeError(error);
      stillOpen.push(...holds.map((h) => h.ruleId));
    }
  }
  const now = deps.clock.now();
  const rolledBack = rollbackError === undefined;
  await deps.uow.tx(async () => {
    await deps.requests.markFailed(requestId, rolledBack ? why : `${why}; ${STILL_CLOSING}`, now);
    if (rolledBack) await deps.rules.release(grantId, now);
    const moved = await deps.grants.move(grantId, ['opening'], rolledBack ? 'failed' : 'closing', {
      ...(rolledBack ? { endedAt: now } : {}),
      endReason: 'failed',
      endedBy: SYSTEM_ACTOR,
    });
    await deps.audit.append({
      at: now,
      actor: SYSTEM_ACTOR,
      type: 'grant.failed',
      requestId,
      grantId,
      details: {
        reason: why,
        // The request's note, exactly as stored (the export shows it).
        note: rolledBack ? why : `${why}; ${STILL_CLOSING}`,
        ...(rolledBack ? {} : { rollback: 'failed', rollbackError, stillOpenRuleIds: stillOpen }),
        ...(moved.ok ? {} : { stateChangedTo: moved.detail.state }),
      },
    });
  });
  deps.metrics?.requestOutcome('failed');
  if (rolledBack) deps.logger.warn({ grantId, requestId, reason: why }, 'grant failed to open');
  else
    deps.logger.error(
      { grantId, requestId, reason: why, stillOpen, err: rollbackError },
      'grant failed to open and its rollback failed; the scheduler keeps revoking',
    );
  deps.wakeup.wake();
  await deps.notices.refreshCard(requestId);
  await deps.notices.tellBoth((card) => ({ type: 'request-failed', card }), requestId);
}

/** Added to a failure note when the rollback failed: nobody is told "nothing happened" while a rule is open. */
export const STILL_CLOSING =
  'what was already opened could not be closed yet; hallpass keeps closing it until AWS confirms';
