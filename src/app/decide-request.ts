import { plannedEnd } from '../domain/grant';
import { type Actor, findResource, isApprover } from '../domain/policy';
import type { AccessRequest, Approval } from '../domain/request';
import { err, ok, type Result } from '../domain/result';
import type { AppDeps } from './deps';
import { announceExtension, applyExtension, type ExtensionOutcome } from './extend-grant';
import { deliver, loadCard, refreshCard, tellBoth } from './notify';
import type { OpenGrant } from './open-grant';
import { timeOutRequest } from './run-due-work';

type Deps = Pick<
  AppDeps,
  | 'outbox'
  | 'deliveries'
  | 'clock'
  | 'ids'
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
  | 'faults'
>;

type Tally = {
  readonly approvals: readonly Approval[];
  readonly grantId?: string | undefined;
  readonly extension?: ExtensionOutcome | undefined;
};

export type DecideError =
  | 'UNKNOWN_REQUEST'
  | 'UNKNOWN_RESOURCE'
  | 'NOT_APPROVER'
  | 'SELF_APPROVAL'
  | 'ALREADY_APPROVED'
  | 'NOT_PENDING';

export type Approved = {
  readonly request: AccessRequest;
  readonly approvals: readonly Approval[];
  /** Present once enough distinct approvers agreed. */
  readonly grantId?: string | undefined;
};

/**
 * Who may decide is read from the policy now, at the click — never from the button's value,
 * which only names the request. A request past its deadline is timed out first, so a late click
 * cannot approve it even if the sweep has not run yet.
 */
function authorize(
  deps: Deps,
  requestId: string,
  actor: Actor,
  forApproval: boolean,
): Result<{ request: AccessRequest }, DecideError> {
  const request = deps.requests.get(requestId);
  if (request === undefined) return err('UNKNOWN_REQUEST', { requestId });
  const resource = findResource(deps.policy(), request.resourceId);
  if (resource === undefined) return err('UNKNOWN_RESOURCE', { resourceId: request.resourceId });
  if (request.state !== 'pending') return err('NOT_PENDING', { requestId, state: request.state });
  if (deps.clock.now() >= request.approvalDeadline)
    return err('NOT_PENDING', { requestId, state: 'timed_out' });
  if (!isApprover(resource, actor)) return err('NOT_APPROVER', { resourceId: resource.id });
  if (forApproval && actor.userId === request.requesterId && !resource.allowSelfApproval)
    return err('SELF_APPROVAL');
  return ok({ request });
}

/** "Approve": records a vote; with `approvals` distinct votes the request is approved and a grant starts opening. */
export const approveRequest =
  (deps: Deps, openGrant: OpenGrant) =>
  async (cmd: { requestId: string; actor: Actor }): Promise<Result<Approved, DecideError>> => {
    const auth = authorize(deps, cmd.requestId, cmd.actor, true);
    if (!auth.ok) {
      if (auth.detail?.['state'] === 'timed_out') {
        const request = deps.requests.get(cmd.requestId);
        if (request !== undefined) timeOutRequest(deps, request, deps.clock.now());
      }
      return auth;
    }
    const now = deps.clock.now();
    const request = auth.value.request;
    const needed = findResource(deps.policy(), request.resourceId)?.approvals ?? 1;
    const outcome = deps.uow.tx((): Result<Tally, 'NOT_PENDING' | 'ALREADY_APPROVED'> => {
      const voted = deps.requests.addApproval(request.id, cmd.actor.userId, now);
      if (!voted.ok) return voted;
      deps.audit.append({
        at: now,
        actor: cmd.actor.userId,
        type: 'request.approval_recorded',
        requestId: request.id,
        details: { have: voted.value.length, need: needed },
      });
      if (voted.value.length < needed) return ok({ approvals: voted.value });
      if (request.kind === 'extension') {
        return ok({
          approvals: voted.value,
          extension: applyExtension(deps, request, cmd.actor.userId, now),
        });
      }
      const decided = deps.requests.decide(request.id, 'approved', cmd.actor.userId, now);
      if (!decided.ok) return decided;
      // One grant per request (UNIQUE in the store): a second approver racing this one got NOT_PENDING above.
      const grant = deps.grants.insert({
        id: deps.ids.grant(),
        requestId: request.id,
        resourceId: request.resourceId,
        requesterId: request.requesterId,
        startsAt: now,
        expiresAt: plannedEnd(now, request.durationMs),
      });
      deps.audit.append({
        at: now,
        actor: cmd.actor.userId,
        type: 'request.approved',
        requestId: request.id,
        grantId: grant.id,
        details: {
          approvers: voted.value.map((a) => a.approverId),
          expiresAt: grant.expiresAt.toISOString(),
        },
      });
      return ok({ approvals: voted.value, grantId: grant.id });
    });
    if (!outcome.ok) {
      const state = deps.requests.get(request.id)?.state;
      return outcome.error === 'NOT_PENDING'
        ? err('NOT_PENDING', { requestId: request.id, state })
        : err(outcome.error);
    }
    const { extension } = outcome.value;
    if (extension !== undefined) {
      await announceExtension(deps, request.id, extension);
      return ok({ request: deps.requests.get(request.id) ?? request, approvals: outcome.value.approvals });
    }
    refreshCard(deps, request.id);
    if (outcome.value.grantId === undefined) {
      const card = loadCard(deps, request.id);
      if (card !== undefined) {
        deliver(deps, {
          kind: 'thread',
          requestId: request.id,
          notice: { type: 'approval-recorded', card, approverId: cmd.actor.userId },
        });
      }
    } else {
      deps.faults.point('approve.after-commit');
      await openGrant(outcome.value.grantId);
    }
    return ok({
      request: deps.requests.get(request.id) ?? request,
      approvals: outcome.value.approvals,
      grantId: outcome.value.grantId,
    });
  };

/** "Deny", with an optional reason from the modal. */
export const denyRequest =
  (deps: Deps) =>
  async (cmd: {
    requestId: string;
    actor: Actor;
    reason?: string | undefined;
  }): Promise<Result<AccessRequest, DecideError>> => {
    const auth = authorize(deps, cmd.requestId, cmd.actor, false);
    if (!auth.ok) return auth;
    const now = deps.clock.now();
    const reason = cmd.reason?.trim() === '' ? undefined : cmd.reason?.trim();
    const decided = deps.uow.tx(() => {
      const d = deps.requests.decide(cmd.requestId, 'denied', cmd.actor.userId, now, reason);
      if (d.ok)
        deps.audit.append({
          at: now,
          actor: cmd.actor.userId,
          type: 'request.denied',
          requestId: cmd.requestId,
          details: { reason },
        });
      return d;
    });
    if (!decided.ok)
      return err('NOT_PENDING', { requestId: cmd.requestId, state: deps.requests.get(cmd.requestId)?.state });
    deps.wakeup.wake();
    refreshCard(deps, cmd.requestId);
    tellBoth(deps, (card) => ({ type: 'request-denied', card }), cmd.requestId);
    return ok(decided.value);
  };
