import { addMilliseconds } from 'date-fns/addMilliseconds';
import type { Grant, GrantState } from '../domain/grant';
import { type Actor, findResource, mayRequest, type Policy, standingRefusal } from '../domain/policy';
import { type AccessRequest, SYSTEM_ACTOR } from '../domain/request';
import { type Err, err, ok, type Result } from '../domain/result';
import type { StandingRefusal } from '../domain/standing';
import { type BackstopDeps, syncBackstops } from './backstop';
import { targetOfHold } from './close-grant';
import { describeError, type Notices } from './notify';
import { noteOutcome, type OutcomeDeps } from './outcomes';
import type {
  AuditLog,
  Clock,
  Faults,
  GrantStore,
  Ids,
  Logger,
  NetworkAccess,
  RequestStore,
  RuleStore,
  UnitOfWork,
  Wakeup,
} from './ports';

export type ExtensionError =
  | Err<'UNKNOWN_GRANT' | 'NOT_YOUR_GRANT', { readonly grantId: string }>
  | Err<'GRANT_NOT_ACTIVE', { readonly grantId: string; readonly state: GrantState }>
  | Err<'UNKNOWN_RESOURCE' | 'NOT_EXTENDABLE' | StandingRefusal, { readonly resourceId: string }>
  /** The requester may no longer ask for the resource (removed from `requesters`): no more time. */
  | Err<'NOT_REQUESTER', { readonly resourceId: string }>
  | Err<'EXTENSION_PENDING', { readonly grantId: string; readonly requestId: string }>
  /** Milliseconds: the resource's `maxDuration`, what the grant has had so far, and what is left of it. */
  | Err<
      'EXTENSION_TOO_LONG',
      { readonly resourceId: string; readonly max: number; readonly used: number; readonly available: number }
    >;

/** The extension request as stored, and the channel whose approvers were asked (the resource's). */
export type ExtensionAsked = AccessRequest & { readonly approversChannel: string };

/** What an approved extension did, or why it could not. */
export type ExtensionOutcome =
  | { readonly extended: Grant; readonly previousEnd: Date }
  | { readonly failed: string };

/** What moving a grant's end inside the approving transaction needs. */
export type ApplyExtensionDeps = {
  readonly policy: () => Policy;
  readonly requests: Pick<RequestStore, 'markFailed' | 'decide'>;
  readonly grants: Pick<GrantStore, 'get' | 'extend'>;
  readonly audit: Pick<AuditLog, 'append'>;
};

/** What retagging an extended grant's rules needs. */
type RetagDeps = {
  readonly logger: Logger;
  readonly rules: Pick<RuleStore, 'holdsOf' | 'liveHoldsOn'>;
  readonly grants: Pick<GrantStore, 'get'>;
  readonly network: Pick<NetworkAccess, 'retag'>;
};

/** What following up an approved (or failed) extension needs. */
export type AnnounceExtensionDeps = BackstopDeps &
  RetagDeps &
  OutcomeDeps & {
    readonly wakeup: Wakeup;
    readonly faults: Faults;
    readonly notices: Pick<Notices, 'refreshCard' | 'tellBoth' | 'card'>;
  };

type Deps = ApplyExtensionDeps &
  AnnounceExtensionDeps & {
    readonly clock: Clock;
    readonly uow: UnitOfWork;
    readonly ids: Pick<Ids, 'request'>;
    readonly requests: Pick<RequestStore, 'get' | 'insert' | 'pendingExtension'>;
    readonly notices: Pick<Notices, 'deliver'>;
  };

/**
 * How much longer a grant may still run: `maxDuration` counts from the original start, so
 * extensions cannot add up to more than one maximal grant.
 */
export const extensionRoom = (grant: Grant, maxDuration: number): number =>
  Math.max(0, maxDuration - (grant.expiresAt.getTime() - grant.startsAt.getTime()));

/**
 * Inside the approving transaction: moves the grant's end by the extension's duration if it is
 * still active and still within `maxDuration` under the policy in force now; otherwise marks the
 * extension failed. Synchronous: AWS tags and Slack come after, in `announceExtension`.
 */
export async function applyExtension(
  deps: ApplyExtensionDeps,
  request: AccessRequest,
  by: string,
  now: Date,
): Promise<ExtensionOutcome> {
  const grant =
    request.extendsGrantId === undefined ? undefined : await deps.grants.get(request.extendsGrantId);
  const resource = findResource(deps.policy(), request.resourceId);
  const fail = async (why: string): Promise<ExtensionOutcome> => {
    await deps.requests.markFailed(request.id, why, now);
    await deps.audit.append({
      at: now,
      actor: by,
      type: 'request.failed',
      requestId: request.id,
      grantId: grant?.id,
      details: { reason: why },
    });
    return { failed: why };
  };
  if (grant === undefined || grant.state !== 'active') return fail('the grant had already ended');
  if (resource === undefined) return fail('the resource is no longer in the policy');
  if (request.durationMs > extensionRoom(grant, resource.maxDuration)) {
    return fail('the extension would go past the resource’s maximum duration');
  }
  const decided = await deps.requests.decide(request.id, 'approved', by, now);
  if (!decided.ok) return { failed: 'the extension was no longer pending' };
  const extended = await deps.grants.extend(grant.id, addMilliseconds(grant.expiresAt, request.durationMs));
  if (!extended.ok) return fail('the grant had already ended');
  await deps.audit.append({
    at: now,
    actor: by,
    type: 'grant.extended',
    requestId: request.id,
    grantId: grant.id,
    details: {
      from: grant.expiresAt.toISOString(),
      to: extended.value.expiresAt.toISOString(),
      byMs: request.durationMs,
    },
  });
  return { extended: extended.value, previousEnd: grant.expiresAt };
}

/**
 * After an approved extension: the rules' `hallpass:expires-at` tags follow the new end (so
 * reconciliation never closes them early), the scheduler re-arms, both approval cards and the
 * original thread and the requester hear of it. A failed extension is announced instead.
 */
export async function announceExtension(
  deps: AnnounceExtensionDeps,
  requestId: string,
  outcome: ExtensionOutcome,
): Promise<void> {
  deps.wakeup.wake();
  await deps.notices.refreshCard(requestId);
  if ('failed' in outcome) {
    noteOutcome(deps, 'failed', { requestId, reason: outcome.failed });
    await deps.notices.tellBoth((card) => ({ type: 'request-failed', card }), requestId);
    return;
  }
  const { extended, previousEnd } = outcome;
  noteOutcome(deps, 'extended', {
    requestId,
    grantId: extended.id,
    resourceId: extended.resourceId,
    from: previousEnd.toISOString(),
    to: extended.expiresAt.toISOString(),
  });
  await retagHolds(deps, extended);
  // The rules' backstops move with their tags (a failure is logged and left to the next sync).
  deps.faults.point('extend.before-backstop');
  await syncBackstops(deps)(
    (await deps.rules.holdsOf(extended.id)).filter((h) => h.managed).map((h) => h.ruleId),
  );
  await deps.notices.refreshCard(extended.requestId);
  const original = await deps.notices.card(extended.requestId);
  if (original === undefined) return;
  await deps.notices.tellBoth(
    (card) => ({ type: 'grant-extended', card, grant: extended, previousEnd }),
    extended.requestId,
  );
}

/**
 * Tags every managed rule this grant holds after whichever live holder ends last, reaching each rule
 * the way it was opened (the role recorded on its hold), whatever the policy says now.
 */
async function retagHolds(deps: RetagDeps, grant: Grant): Promise<void> {
  for (const hold of (await deps.rules.holdsOf(grant.id)).filter((h) => h.managed)) {
    const target = targetOfHold(hold);
    const holders = await Promise.all(
      (await deps.rules.liveHoldsOn(hold.ruleId)).map((h) => deps.grants.get(h.grantId)),
    );
    const last = holders
      .filter((g): g is Grant => g !== undefined)
      .reduce((a, b) => (b.expiresAt > a.expiresAt ? b : a), grant);
    try {
      await deps.network.retag(target, hold.ruleId, {
        grantId: last.id,
        requesterId: last.requesterId,
        expiresAt: last.expiresAt,
      });
    } catch (error) {
      // The database still holds the true end; the stale tag only matters if the database is lost.
      deps.logger.error(
        { grantId: grant.id, ruleId: hold.ruleId, err: describeError(error) },
        'could not retag an extended rule',
      );
    }
  }
}

/**
 * `/access extend <grant-id> <duration>` and the Extend button: an extension goes through approval
 * like a new request (auto-approve applies), within `maxDuration` counted from the original start,
 * and only while the requester may still ask for the resource (the policy and Slack as they are now).
 * Role sessions cannot be lengthened (STS fixes a session's end), so role grants are refused.
 */
export const requestExtension =
  (deps: Deps) =>
  async (cmd: {
    grantId: string;
    actor: Actor;
    durationMs: number;
  }): Promise<Result<ExtensionAsked, ExtensionError>> => {
    const grant = await deps.grants.get(cmd.grantId);
    if (grant === undefined) return err('UNKNOWN_GRANT', { grantId: cmd.grantId });
    if (grant.requesterId !== cmd.actor.userId) return err('NOT_YOUR_GRANT', { grantId: grant.id });
    if (grant.state !== 'active') return err('GRANT_NOT_ACTIVE', { grantId: grant.id, state: grant.state });
    const resource = findResource(deps.policy(), grant.resourceId);
    if (resource === undefined) return err('UNKNOWN_RESOURCE', { resourceId: grant.resourceId });
    if (resource.kind === 'aws-role') return err('NOT_EXTENDABLE', { resourceId: resource.id });
    // More time is a new ask: only someone who may still ask for the resource gets it (re-checked
    // again when the extension is approved).
    const refused = standingRefusal(resource, cmd.actor);
    if (refused !== undefined) return err(refused, { resourceId: resource.id });
    if (!mayRequest(resource, cmd.actor)) return err('NOT_REQUESTER', { resourceId: resource.id });
    const pending = await deps.requests.pendingExtension(grant.id);
    if (pending !== undefined) return err('EXTENSION_PENDING', { grantId: grant.id, requestId: pending.id });
    const room = extensionRoom(grant, resource.maxDuration);
    if (cmd.durationMs > room) {
      return err('EXTENSION_TOO_LONG', {
        resourceId: resource.id,
        max: resource.maxDuration,
        used: grant.expiresAt.getTime() - grant.startsAt.getTime(),
        available: room,
      });
    }
    const original = await deps.requests.get(grant.requestId);
    const now = deps.clock.now();
    const id = deps.ids.request();
    // Deciding after the grant has ended is pointless: the extension times out with it at the latest.
    const deadline = new Date(Math.min(now.getTime() + resource.approvalTimeout, grant.expiresAt.getTime()));
    const outcome = await deps.uow.tx(async () => {
      const request = await deps.requests.insert({
        id,
        resourceId: resource.id,
        requesterId: cmd.actor.userId,
        durationMs: cmd.durationMs,
        source: original?.source,
        reason: `extension of ${grant.id}${original === undefined ? '' : `: ${original.reason}`}`.slice(
          0,
          1000,
        ),
        createdAt: now,
        approvalDeadline: deadline,
        kind: 'extension',
        extendsGrantId: grant.id,
        resourceAtRequest: resource,
      });
      await deps.audit.append({
        at: now,
        actor: cmd.actor.userId,
        type: 'request.submitted',
        requestId: id,
        grantId: grant.id,
        details: {
          kind: 'extension',
          durationMs: cmd.durationMs,
          currentEnd: grant.expiresAt.toISOString(),
          // What the export shows of the extension, in the chain too.
          resourceId: request.resourceId,
          source: request.source?.cidr,
          reason: request.reason,
        },
      });
      return resource.autoApprove ? await applyExtension(deps, request, SYSTEM_ACTOR, now) : undefined;
    });
    noteOutcome(deps, 'submitted', {
      requestId: id,
      grantId: grant.id,
      resourceId: resource.id,
      actor: cmd.actor.userId,
      kind: 'extension',
      durationMs: cmd.durationMs,
    });
    await deps.notices.deliver({ kind: 'card-post', requestId: id });
    if (outcome !== undefined) await announceExtension(deps, id, outcome);
    else deps.wakeup.wake();
    const stored = await deps.requests.get(id);
    if (stored === undefined) throw new Error(`extension request ${id} vanished after insert`);
    return ok({ ...stored, approversChannel: resource.channel });
  };
