import type { Actor } from '../domain/policy';
import type { AccessRequest, RequestState } from '../domain/request';
import { type Err, err, ok, type Result } from '../domain/result';
import type { Notices } from './notify';
import { noteOutcome, type OutcomeDeps } from './outcomes';
import type { AuditLog, Clock, RequestStore, UnitOfWork, Wakeup } from './ports';

type Deps = OutcomeDeps & {
  readonly clock: Clock;
  readonly uow: UnitOfWork;
  readonly wakeup: Wakeup;
  readonly requests: Pick<RequestStore, 'get' | 'decide'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly notices: Pick<Notices, 'refreshCard' | 'tellBoth'>;
};

export type CancelError =
  | Err<'UNKNOWN_REQUEST' | 'NOT_YOUR_REQUEST', { readonly requestId: string }>
  | Err<'NOT_PENDING', { readonly requestId: string; readonly state: RequestState | undefined }>;

/** `/access cancel <request-id>` and the Cancel button: the requester withdraws a pending request. */
export const cancelRequest =
  (deps: Deps) =>
  async (cmd: { requestId: string; actor: Actor }): Promise<Result<AccessRequest, CancelError>> => {
    const request = await deps.requests.get(cmd.requestId);
    if (request === undefined) return err('UNKNOWN_REQUEST', { requestId: cmd.requestId });
    if (request.requesterId !== cmd.actor.userId) return err('NOT_YOUR_REQUEST', { requestId: request.id });
    const now = deps.clock.now();
    const decided = await deps.uow.tx(async () => {
      const d = await deps.requests.decide(request.id, 'cancelled', cmd.actor.userId, now);
      if (d.ok)
        await deps.audit.append({
          at: now,
          actor: cmd.actor.userId,
          type: 'request.cancelled',
          requestId: request.id,
        });
      return d;
    });
    if (!decided.ok)
      return err('NOT_PENDING', {
        requestId: request.id,
        state: (await deps.requests.get(request.id))?.state,
      });
    deps.wakeup.wake();
    noteOutcome(deps, 'cancelled', {
      requestId: request.id,
      resourceId: request.resourceId,
      actor: cmd.actor.userId,
    });
    await deps.notices.refreshCard(request.id);
    await deps.notices.tellBoth((card) => ({ type: 'request-cancelled', card }), request.id);
    return ok(decided.value);
  };
