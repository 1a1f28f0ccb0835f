import {
  type Actor,
  findResource,
  isApprover,
  type Policy,
  type Resource,
  standingRefusal,
} from '../domain/policy';
import type { AccessRequest, RequestState } from '../domain/request';
import { type Err, err, ok, type Result } from '../domain/result';
import type { StandingRefusal } from '../domain/standing';
import type { Clock, RequestStore } from './ports';

/** What authorizing a click needs: the request, the policy and the time, as they are now. */
export type DecisionDeps = {
  readonly clock: Clock;
  readonly policy: () => Policy;
  readonly requests: Pick<RequestStore, 'get'>;
};

/** Why a click on Approve or Deny decides nothing (see `authorize`). */
export type DecideError =
  | Err<'UNKNOWN_REQUEST', { readonly requestId: string }>
  | Err<'UNKNOWN_RESOURCE' | 'NOT_APPROVER' | StandingRefusal, { readonly resourceId: string }>
  /** `state`: as the request stands now (`undefined`: it is gone). */
  | Err<'NOT_PENDING', { readonly requestId: string; readonly state: RequestState | undefined }>
  | Err<'SELF_APPROVAL'>;

/**
 * Who may decide is read from the policy now, at the click — never from the button's value,
 * which only names the request. A request past its deadline is timed out first, so a late click
 * cannot approve it even if the sweep has not run yet.
 */
export async function authorize(
  deps: DecisionDeps,
  requestId: string,
  actor: Actor,
  forApproval: boolean,
): Promise<Result<{ request: AccessRequest; resource: Resource }, DecideError>> {
  const request = await deps.requests.get(requestId);
  if (request === undefined) return err('UNKNOWN_REQUEST', { requestId });
  const resource = findResource(deps.policy(), request.resourceId);
  if (resource === undefined) return err('UNKNOWN_RESOURCE', { resourceId: request.resourceId });
  if (request.state !== 'pending') return err('NOT_PENDING', { requestId, state: request.state });
  if (deps.clock.now() >= request.approvalDeadline)
    return err('NOT_PENDING', { requestId, state: 'timed_out' });
  // A guest's or another workspace's click counts for nothing unless the resource admits them.
  const refused = standingRefusal(resource, actor);
  if (refused !== undefined) return err(refused, { resourceId: resource.id });
  if (!isApprover(resource, actor)) return err('NOT_APPROVER', { resourceId: resource.id });
  if (forApproval && actor.userId === request.requesterId && !resource.allowSelfApproval)
    return err('SELF_APPROVAL');
  return ok({ request, resource });
}
