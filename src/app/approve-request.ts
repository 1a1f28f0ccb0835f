import { plannedEnd } from '../domain/grant';
import {
  type Actor,
  isAdmin,
  isApprover,
  mayRequest,
  type Policy,
  type Resource,
  standingRefusal,
} from '../domain/policy';
import { type AccessRequest, type Approval, SYSTEM_ACTOR } from '../domain/request';
import { type Err, err, ok, type Result } from '../domain/result';
import type { StandingRefusal } from '../domain/standing';
import { automationName } from '../domain/token';
import { authorize, type DecideError, type DecisionDeps } from './decision-rights';
import { type TimeOutDeps, timeOutRequest } from './due-work';
import {
  type AnnounceExtensionDeps,
  type ApplyExtensionDeps,
  announceExtension,
  applyExtension,
  type ExtensionOutcome,
} from './extend-grant';
import type { Notices } from './notify';
import type { OpenGrant } from './open-grant';
import { noteOutcome, type OutcomeDeps } from './outcomes';
import type {
  AlreadyApproved,
  AuditLog,
  Clock,
  Directory,
  Faults,
  GrantStore,
  Ids,
  Locks,
  NotPending,
  RequestStore,
  TokenStore,
  UnitOfWork,
  Wakeup,
} from './ports';

type Deps = DecisionDeps &
  OutcomeDeps &
  TimeOutDeps &
  ApplyExtensionDeps &
  AnnounceExtensionDeps & {
    readonly clock: Clock;
    readonly uow: UnitOfWork;
    readonly locks: Locks;
    readonly faults: Faults;
    readonly wakeup: Wakeup;
    readonly ids: Pick<Ids, 'grant'>;
    readonly directory: Pick<Directory, 'actor'>;
    readonly requests: Pick<
      RequestStore,
      'get' | 'approvals' | 'markFailed' | 'addApproval' | 'withdrawApproval' | 'decide'
    >;
    /** An automation's request is re-checked against its token (absent: no automation). */
    readonly tokens?: Pick<TokenStore, 'byName'> | undefined;
    readonly policy: () => Policy;
    readonly grants: Pick<GrantStore, 'insert'>;
    readonly audit: Pick<AuditLog, 'append'>;
    readonly notices: Pick<Notices, 'refreshCard' | 'tellBoth' | 'card' | 'deliver'>;
  };

/** An earlier vote that no longer counted at the quorum, and why (its approver's refusal now). */
export type Withdrawn = {
  readonly approverId: string;
  readonly why: StandingRefusal | 'NOT_APPROVER' | 'SELF_APPROVAL';
};

type Tally = {
  readonly approvals: readonly Approval[];
  readonly grantId?: string | undefined;
  readonly extension?: ExtensionOutcome | undefined;
  readonly withdrawn: readonly Withdrawn[];
};

/** The rights re-read at the click (see `recheck`) that no longer hold, or that Slack could not confirm. */
type RecheckError =
  /** The requester lost the right to ask since asking: the request was closed as failed. */
  | Err<
      'REQUESTER_NO_LONGER_ALLOWED',
      {
        readonly resourceId: string;
        readonly requesterId: string;
        readonly why: StandingRefusal | 'NOT_REQUESTER';
      }
    >
  /** Slack could not say whether the requester may still ask, or an earlier voter still approves: nothing recorded. */
  | Err<'RIGHTS_UNVERIFIED', { readonly resourceId: string; readonly who: 'requester' | 'approvers' }>;

/** Why a vote was not counted: the click's own rights, the rights re-read at the click, or a second vote. */
export type ApproveError = DecideError | RecheckError | Err<'ALREADY_APPROVED'>;

export type Approved = {
  readonly request: AccessRequest;
  /** The votes that count now. */
  readonly approvals: readonly Approval[];
  /** Present once enough distinct approvers agreed. */
  readonly grantId?: string | undefined;
  /** Earlier votes taken back at this click because their approvers no longer approve this resource. */
  readonly withdrawn: readonly Withdrawn[];
  /** How many votes the resource needs, as counted at this click. */
  readonly needed: number;
};

/** Why `voter`'s vote on `request` would not count now, or `undefined` when it does. */
function voteRefusal(resource: Resource, request: AccessRequest, voter: Actor): Withdrawn['why'] | undefined {
  const refused = standingRefusal(resource, voter);
  if (refused !== undefined) return refused;
  if (!isApprover(resource, voter)) return 'NOT_APPROVER';
  if (voter.userId === request.requesterId && !resource.allowSelfApproval) return 'SELF_APPROVAL';
  return undefined;
}

/** Why the person who asked may not ask any more (Slack as it says now), or undefined. */
async function personRefusal(
  deps: Deps,
  request: AccessRequest,
  resource: Resource,
): Promise<RecheckError | undefined> {
  const requester = await deps.directory.actor(request.requesterId);
  if (requester.standing === 'unknown')
    return err('RIGHTS_UNVERIFIED', { resourceId: resource.id, who: 'requester' });
  if (mayRequest(resource, requester)) return undefined;
  return err('REQUESTER_NO_LONGER_ALLOWED', {
    resourceId: resource.id,
    requesterId: request.requesterId,
    why: standingRefusal(resource, requester) ?? 'NOT_REQUESTER',
  });
}

/** An automation may still ask while its token lives, lists the resource, and its owner is an admin. */
async function automationRefusal(
  deps: Deps,
  name: string,
  request: AccessRequest,
  resource: Resource,
): Promise<RecheckError | undefined> {
  const token = await deps.tokens?.byName(name);
  const owner = token === undefined ? undefined : await deps.directory.actor(token.ownerId);
  if (owner?.standing === 'unknown')
    return err('RIGHTS_UNVERIFIED', { resourceId: resource.id, who: 'requester' });
  const live =
    token !== undefined &&
    owner !== undefined &&
    token.expiresAt > deps.clock.now() &&
    token.resources.includes(resource.id) &&
    isAdmin(deps.policy(), owner);
  if (live) return undefined;
  return err('REQUESTER_NO_LONGER_ALLOWED', {
    resourceId: resource.id,
    requesterId: request.requesterId,
    why: 'NOT_REQUESTER',
  });
}

/**
 * The rights a vote depends on, re-read from Slack now: the requester must still be
 * allowed to ask, and — when this vote may complete the quorum — every earlier voter must still be an
 * approver, or their vote is withdrawn. Slack not answering for any of them is `RIGHTS_UNVERIFIED`
 * (nothing is recorded; the approver may click again), never a pass.
 */
async function recheck(
  deps: Deps,
  request: AccessRequest,
  resource: Resource,
  voterId: string,
): Promise<Result<{ withdrawn: readonly Withdrawn[] }, RecheckError>> {
  const automation = automationName(request.requesterId);
  const refused =
    automation === undefined
      ? await personRefusal(deps, request, resource)
      : await automationRefusal(deps, automation, request, resource);
  if (refused !== undefined) return refused;
  const earlier = (await deps.requests.approvals(request.id)).filter((a) => a.approverId !== voterId);
  // Below the quorum even with this vote: nothing is decided now, so earlier votes are re-read when it is.
  if (earlier.length + 1 < resource.approvals) return ok({ withdrawn: [] });
  const voters = await Promise.all(earlier.map((a) => deps.directory.actor(a.approverId)));
  if (voters.some((v) => v.standing === 'unknown'))
    return err('RIGHTS_UNVERIFIED', { resourceId: resource.id, who: 'approvers' });
  const withdrawn = voters.flatMap((voter): Withdrawn[] => {
    const why = voteRefusal(resource, request, voter);
    return why === undefined ? [] : [{ approverId: voter.userId, why }];
  });
  return ok({ withdrawn });
}

/**
 * The requester may no longer ask for the resource: the request can never be approved, so it is closed
 * as failed — recorded, its card updated, the requester and the channel told why. Only if still pending.
 */
async function failForRequester(
  deps: Deps,
  request: AccessRequest,
  resource: Resource,
  why: string,
): Promise<boolean> {
  const now = deps.clock.now();
  const note = `could not be approved: the requester may no longer ask for ${resource.id} (${REQUESTER_WORDS[why] ?? 'not allowed any more'})`;
  const failed = await deps.uow.tx(async () => {
    if ((await deps.requests.get(request.id))?.state !== 'pending') return false;
    await deps.requests.markFailed(request.id, note, now);
    await deps.audit.append({
      at: now,
      actor: SYSTEM_ACTOR,
      type: 'request.failed',
      requestId: request.id,
      grantId: request.extendsGrantId,
      details: { reason: note, requesterId: request.requesterId, why },
    });
    return true;
  });
  if (!failed) return false;
  deps.wakeup.wake();
  noteOutcome(deps, 'failed', { requestId: request.id, resourceId: resource.id, reason: note });
  await deps.notices.refreshCard(request.id);
  await deps.notices.tellBoth((card) => ({ type: 'request-failed', card }), request.id);
  return true;
}

/** Why a requester may no longer ask, as the card and the notices say it. */
const REQUESTER_WORDS: Record<string, string> = {
  NOT_REQUESTER: 'no longer among its requesters',
  GUEST_NOT_ALLOWED: 'now a guest, and it does not admit guests',
  EXTERNAL_NOT_ALLOWED: 'no longer a member of this workspace',
  ACCOUNT_DEACTIVATED: 'their Slack account is deactivated',
};

/**
 * "Approve": records a vote; with `approvals` distinct votes the request is approved and a grant
 * starts opening. Every right the decision rests on is re-read at the click (see `recheck`): the
 * requester's right to ask (lost: the request fails, said to everyone), and at the quorum each earlier
 * voter's (lost: their vote is withdrawn and the request waits for another approver).
 */
export const approveRequest =
  (deps: Deps, use: { readonly openGrant: OpenGrant }) =>
  async (cmd: { requestId: string; actor: Actor }): Promise<Result<Approved, ApproveError>> => {
    // One vote at a time per request, so the rights re-read for a quorum are those of every vote it counts.
    const counted = await deps.locks.run(`approve:${cmd.requestId}`, () => countVote(deps, cmd));
    if (!counted.ok) return counted;
    const { request, resource, tally } = counted.value;
    const { extension, withdrawn } = tally;
    const ids = { requestId: request.id, resourceId: resource.id, actor: cmd.actor.userId };
    noteOutcome(deps, 'vote', { ...ids, have: tally.approvals.length, need: resource.approvals });
    if (tally.grantId !== undefined) noteOutcome(deps, 'approved', { ...ids, grantId: tally.grantId });
    if (extension !== undefined) {
      await announceExtension(deps, request.id, extension);
      return ok({
        request: (await deps.requests.get(request.id)) ?? request,
        approvals: tally.approvals,
        withdrawn,
        needed: resource.approvals,
      });
    }
    await deps.notices.refreshCard(request.id);
    if (tally.grantId === undefined) {
      const card = await deps.notices.card(request.id);
      if (card !== undefined) {
        await deps.notices.deliver({
          kind: 'thread',
          requestId: request.id,
          notice: { type: 'approval-recorded', card, approverId: cmd.actor.userId },
        });
      }
    } else {
      deps.faults.point('approve.after-commit');
      await use.openGrant(tally.grantId);
    }
    return ok({
      request: (await deps.requests.get(request.id)) ?? request,
      approvals: tally.approvals,
      grantId: tally.grantId,
      withdrawn,
      needed: resource.approvals,
    });
  };

/** Authorizes the click, re-reads the rights, then records the vote and decides, in one transaction. */
async function countVote(
  deps: Deps,
  cmd: { requestId: string; actor: Actor },
): Promise<Result<{ request: AccessRequest; resource: Resource; tally: Tally }, ApproveError>> {
  const auth = await authorize(deps, cmd.requestId, cmd.actor, true);
  if (!auth.ok) {
    if (auth.error === 'NOT_PENDING' && auth.detail.state === 'timed_out') {
      const request = await deps.requests.get(cmd.requestId);
      if (request !== undefined) await timeOutRequest(deps, request, deps.clock.now());
    }
    return auth;
  }
  const { request, resource } = auth.value;
  const checked = await recheck(deps, request, resource, cmd.actor.userId);
  if (!checked.ok) {
    if (checked.error !== 'REQUESTER_NO_LONGER_ALLOWED') return checked;
    if (await failForRequester(deps, request, resource, checked.detail.why)) return checked;
    return err('NOT_PENDING', { requestId: request.id, state: (await deps.requests.get(request.id))?.state });
  }
  const { withdrawn } = checked.value;
  const now = deps.clock.now();
  const needed = resource.approvals;
  const outcome = await deps.uow.tx(async (): Promise<Result<Tally, NotPending | AlreadyApproved>> => {
    const voted = await deps.requests.addApproval(request.id, cmd.actor.userId, now);
    if (!voted.ok) return voted;
    // Votes recorded since the re-read (none while the lock is held) were authorized at their own click.
    const counting = voted.value.filter((a) => !withdrawn.some((w) => w.approverId === a.approverId));
    await deps.audit.append({
      at: now,
      actor: cmd.actor.userId,
      type: 'request.approval_recorded',
      requestId: request.id,
      details: { have: counting.length, need: needed },
    });
    for (const w of withdrawn) {
      await deps.requests.withdrawApproval(request.id, w.approverId);
      await deps.audit.append({
        at: now,
        actor: SYSTEM_ACTOR,
        type: 'request.approval_withdrawn',
        requestId: request.id,
        details: { approverId: w.approverId, why: w.why },
      });
    }
    if (counting.length < needed) return ok({ approvals: counting, withdrawn });
    if (request.kind === 'extension') {
      return ok({
        approvals: counting,
        withdrawn,
        extension: await applyExtension(deps, request, cmd.actor.userId, now),
      });
    }
    const decided = await deps.requests.decide(request.id, 'approved', cmd.actor.userId, now);
    if (!decided.ok) return decided;
    // One grant per request (UNIQUE in the store): a second approver racing this one got NOT_PENDING above.
    const grant = await deps.grants.insert({
      id: deps.ids.grant(),
      requestId: request.id,
      resourceId: request.resourceId,
      requesterId: request.requesterId,
      startsAt: now,
      expiresAt: plannedEnd(now, request.durationMs),
    });
    await deps.audit.append({
      at: now,
      actor: cmd.actor.userId,
      type: 'request.approved',
      requestId: request.id,
      grantId: grant.id,
      details: {
        approvers: counting.map((a) => a.approverId),
        expiresAt: grant.expiresAt.toISOString(),
      },
    });
    return ok({ approvals: counting, withdrawn, grantId: grant.id });
  });
  if (!outcome.ok) {
    const state = (await deps.requests.get(request.id))?.state;
    return outcome.error === 'NOT_PENDING'
      ? err('NOT_PENDING', { requestId: request.id, state })
      : err(outcome.error);
  }
  return ok({ request, resource, tally: outcome.value });
}
