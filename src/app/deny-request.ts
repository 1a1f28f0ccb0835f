import type { Actor } from '../domain/policy';
import type { AccessRequest } from '../domain/request';
import { err, ok, type Result } from '../domain/result';
import { authorize, type DecideError, type DecisionDeps } from './decision-rights';
import type { Notices } from './notify';
import { noteOutcome, type OutcomeDeps } from './outcomes';
import type { AuditLog, RequestStore, UnitOfWork, Wakeup } from './ports';

type Deps = DecisionDeps &
  OutcomeDeps & {
    readonly uow: UnitOfWork;
    readonly wakeup: Wakeup;
    readonly requests: Pick<RequestStore, 'decide'>;
    readonly audit: Pick<AuditLog, 'append'>;
    readonly notices: Pick<Notices, 'refreshCard' | 'tellBoth'>;
  };

/** "Deny", with an optional reason from the modal. */
export const denyRequest =
  (deps: Deps) =>
  async (cmd: {
    requestId: string;
    actor: Actor;
    reason?: string | undefined;
  }): Promise<Result<AccessRequest, DecideError>> => {
    const auth = await authorize(deps, cmd.requestId, cmd.actor, false);
    if (!auth.ok) return auth;
    const now = deps.clock.now();
    const reason = cmd.reason?.trim() === '' ? undefined : cmd.reason?.trim();
    const decided = await deps.uow.tx(async () => {
      const d = await deps.requests.decide(cmd.requestId, 'denied', cmd.actor.userId, now, reason);
      if (d.ok)
        await deps.audit.append({
          at: now,
          actor: cmd.actor.userId,
          type: 'request.denied',
          requestId: cmd.requestId,
          details: { reason },
        });
      return d;
    });
    if (!decided.ok)
      return err('NOT_PENDING', {
        requestId: cmd.requestId,
        state: (await deps.requests.get(cmd.requestId))?.state,
      });
    deps.wakeup.wake();
    noteOutcome(deps, 'denied', {
      requestId: cmd.requestId,
      resourceId: decided.value.resourceId,
      requesterId: decided.value.requesterId,
      actor: cmd.actor.userId,
    });
    await deps.notices.refreshCard(cmd.requestId);
    await deps.notices.tellBoth((card) => ({ type: 'request-denied', card }), cmd.requestId);
    return ok(decided.value);
  };
