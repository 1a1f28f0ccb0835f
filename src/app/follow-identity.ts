import type { Grant } from '../domain/grant';
import {
  type Actor,
  findResource,
  isApprover,
  mayRequest,
  type Policy,
  standingRefusal,
} from '../domain/policy';
import { type AccessRequest, SYSTEM_ACTOR } from '../domain/request';
import { type CloseFailureDeps, type ClosingUses, recordCloseFailure } from './close-grant';
import type { IdentityCause, Notice } from './notices';
import type { Notices } from './notify';
import type {
  AuditLog,
  Clock,
  Directory,
  GrantStore,
  Locks,
  Logger,
  RequestStore,
  UnitOfWork,
  Wakeup,
} from './ports';

type Deps = CloseFailureDeps & {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly policy: () => Policy;
  readonly uow: UnitOfWork;
  readonly wakeup: Wakeup;
  readonly locks: Locks;
  readonly directory: Pick<Directory, 'actor'>;
  readonly requests: Pick<RequestStore, 'get' | 'listPending' | 'approvals' | 'withdrawApproval' | 'decide'>;
  readonly grants: Pick<GrantStore, 'list' | 'closeFailed'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly notices: Pick<Notices, 'refreshCard' | 'deliver' | 'card'>;
};

/** The audit event recording that a person's access followed a change of their identity in Slack. */
export const IDENTITY_CHANGED_EVENT = 'identity.changed';

/** What following one change did, counted (for the log and the tests). */
export type IdentityOutcome = {
  grantsEnded: number;
  requestsCancelled: number;
  votesWithdrawn: number;
  /** People whose standing Slack could not tell: nothing of theirs was touched (see `followIdentity`). */
  unverified: number;
};

/**
 * Access follows the person. Slack said `userIds` were deactivated, or left a user group (`cause`); the
 * directory has already forgotten what it cached about them. For each, read as they are now (policy and
 * directory at this moment):
 *
 * - their live grants on resources they may no longer ask for end, through the same close as a revoke
 *   (the rules are removed with the account that opened them), end reason `revoked` by `hallpass`;
 * - their pending requests on such resources are cancelled;
 * - their votes on pending requests of resources they no longer approve are withdrawn (a request that
 *   needed two and had theirs needs another).
 *
 * A resource without `requesters` (anyone may ask) ends nothing for a group change; what another group
 * still gives is kept. Admin rights are never held: they are read at each admin action, so losing them
 * needs nothing here. Every effect is announced in the request's thread (the card updated) and audited
 * with its cause. Each is a compare-and-set (a grant closes once, a request leaves `pending` once, a vote
 * is withdrawn under the request's vote lock), so a redelivered event or a second replica changes nothing
 * more. Someone Slack cannot vouch for now (`unknown` standing: Slack failed) is left alone and logged —
 * unless the event itself said the account is deactivated — rather than ending access on a Slack outage;
 * the approval quorum still re-reads every vote.
 */
export const followIdentity =
  (deps: Deps, use: ClosingUses) =>
  async (change: { userIds: readonly string[]; cause: IdentityCause }): Promise<IdentityOutcome> => {
    const outcome: IdentityOutcome = {
      grantsEnded: 0,
      requestsCancelled: 0,
      votesWithdrawn: 0,
      unverified: 0,
    };
    const pending = await deps.requests.listPending();
    for (const userId of new Set(change.userIds)) {
      const grants = await deps.grants.list(['opening', 'active'], userId);
      const own = pending.filter((r) => r.requesterId === userId);
      const voted: AccessRequest[] = [];
      for (const r of pending) {
        if ((await deps.requests.approvals(r.id)).some((a) => a.approverId === userId)) voted.push(r);
      }
      // Nothing of theirs is live: Slack is not asked (user_change arrives for every profile edit).
      if (grants.length === 0 && own.length === 0 && voted.length === 0) continue;
      const actor = await currentActor(deps, userId, change.cause);
      if (actor === undefined) {
        outcome.unverified += 1;
        continue;
      }
      const policy = deps.policy();
      for (const grant of grants) {
        const resource = findResource(policy, grant.resourceId);
        if (resource === undefined || mayRequest(resource, actor)) continue;
        if (await endGrant(deps, use, grant, change.cause)) outcome.grantsEnded += 1;
      }
      for (const request of own) {
        const resource = findResource(policy, request.resourceId);
        if (resource === undefined || mayRequest(resource, actor)) continue;
        if (await cancel(deps, request, change.cause)) outcome.requestsCancelled += 1;
      }
      for (const request of voted) {
        const resource = findResource(policy, request.resourceId);
        if (resource === undefined || isApprover(resource, actor)) continue;
        const why = standingRefusal(resource, actor) ?? 'NOT_APPROVER';
        if (await withdrawVote(deps, request, userId, why, change.cause)) outcome.votesWithdrawn += 1;
      }
    }
    if (outcome.grantsEnded + outcome.requestsCancelled + outcome.votesWithdrawn > 0) {
      deps.logger.info({ cause: change.cause.kind, ...outcome }, 'access followed an identity change');
    }
    return outcome;
  };

/** The person as Slack says now; a deactivation the event itself announced stands even if Slack does not answer. */
async function currentActor(deps: Deps, userId: string, cause: IdentityCause): Promise<Actor | undefined> {
  const actor = await deps.directory.actor(userId);
  if (actor.standing !== 'unknown') return actor;
  if (cause.kind === 'deactivated') return { userId, groups: new Set(), standing: 'deactivated' };
  deps.logger.warn(
    { user: userId },
    'could not read a user after a change in Slack; their access is left as it is',
  );
  return undefined;
}

const auditCause = (cause: IdentityCause) =>
  cause.kind === 'left-group' ? { cause: cause.kind, group: cause.group } : { cause: cause.kind };

async function tellThread(
  deps: Deps,
  requestId: string,
  make: (card: NonNullable<Awaited<ReturnType<Notices['card']>>>) => Notice,
): Promise<void> {
  const card = await deps.notices.card(requestId);
  if (card === undefined) return;
  const notice = make(card);
  await deps.notices.deliver({ kind: 'thread', requestId, notice });
  await deps.notices.deliver({ kind: 'dm', requestId, userId: card.request.requesterId, notice });
}

/** Ends one grant like a revoke by hallpass; false when another delivery or replica ended it first. */
async function endGrant(deps: Deps, use: ClosingUses, grant: Grant, cause: IdentityCause): Promise<boolean> {
  let closed: Grant | undefined;
  try {
    closed = await use.closeGrant(grant.id, 'revoked', SYSTEM_ACTOR);
  } catch (error) {
    // Left `closing`: the scheduler retries the close until AWS confirms, as for any revoke.
    await recordCloseFailure(deps, grant, error);
    deps.wakeup.wake();
    await recordEffect(deps, grant.requestId, grant.id, grant.requesterId, 'grant-ended', cause);
    return true;
  }
  if (closed === undefined) return false;
  await recordEffect(deps, grant.requestId, grant.id, grant.requesterId, 'grant-ended', cause);
  await use.announceClosed(closed);
  return true;
}

async function recordEffect(
  deps: Deps,
  requestId: string,
  grantId: string | undefined,
  userId: string,
  effect: 'grant-ended' | 'request-cancelled' | 'vote-withdrawn',
  cause: IdentityCause,
): Promise<void> {
  await deps.audit.append({
    at: deps.clock.now(),
    actor: SYSTEM_ACTOR,
    type: IDENTITY_CHANGED_EVENT,
    requestId,
    grantId,
    details: { userId, effect, ...auditCause(cause) },
  });
  await tellThread(deps, requestId, (card) => ({ type: 'identity-changed', card, userId, cause, effect }));
}

/** Cancels a pending request whose requester may no longer ask; false when it already left `pending`. */
async function cancel(deps: Deps, request: AccessRequest, cause: IdentityCause): Promise<boolean> {
  const now = deps.clock.now();
  const done = await deps.uow.tx(async () => {
    // No note on the request: the audit chain's projection of a cancellation carries none (the cause is in
    // the event's details, and the thread says it).
    const d = await deps.requests.decide(request.id, 'cancelled', SYSTEM_ACTOR, now);
    if (!d.ok) return false;
    await deps.audit.append({
      at: now,
      actor: SYSTEM_ACTOR,
      type: 'request.cancelled',
      requestId: request.id,
      details: { userId: request.requesterId, ...auditCause(cause) },
    });
    return true;
  });
  if (!done) return false;
  deps.wakeup.wake();
  await deps.notices.refreshCard(request.id);
  await tellThread(deps, request.id, (card) => ({
    type: 'identity-changed',
    card,
    userId: request.requesterId,
    cause,
    effect: 'request-cancelled',
  }));
  return true;
}

/**
 * Takes back `userId`'s vote on a pending request, under the same per-request lock as voting, so it
 * never races a vote being counted; false when it was no longer there (or the request was decided).
 */
async function withdrawVote(
  deps: Deps,
  request: AccessRequest,
  userId: string,
  why: string,
  cause: IdentityCause,
): Promise<boolean> {
  const withdrawn = await deps.locks.run(`approve:${request.id}`, () =>
    deps.uow.tx(async () => {
      if ((await deps.requests.get(request.id))?.state !== 'pending') return false;
      if (!(await deps.requests.approvals(request.id)).some((a) => a.approverId === userId)) return false;
      await deps.requests.withdrawApproval(request.id, userId);
      await deps.audit.append({
        at: deps.clock.now(),
        actor: SYSTEM_ACTOR,
        type: 'request.approval_withdrawn',
        requestId: request.id,
        details: { approverId: userId, why, ...auditCause(cause) },
      });
      return true;
    }),
  );
  if (!withdrawn) return false;
  await deps.notices.refreshCard(request.id);
  const card = await deps.notices.card(request.id);
  if (card !== undefined) {
    await deps.notices.deliver({
      kind: 'thread',
      requestId: request.id,
      notice: { type: 'identity-changed', card, userId, cause, effect: 'vote-withdrawn' },
    });
  }
  return true;
}
