import type { Grant } from '../domain/grant';
import { type Actor, type Resource, requestableBy } from '../domain/policy';
import type { AccessRequest } from '../domain/request';
import type { AppDeps } from './deps';

type Deps = Pick<AppDeps, 'policy' | 'requests' | 'grants'>;

export type ActiveEntry = { readonly grant: Grant; readonly request: AccessRequest };
export type Overview = {
  readonly pending: readonly AccessRequest[];
  readonly active: readonly ActiveEntry[];
};

function withRequests(deps: Deps, grants: readonly Grant[]): ActiveEntry[] {
  return grants.flatMap((grant) => {
    const request = deps.requests.get(grant.requestId);
    return request === undefined ? [] : [{ grant, request }];
  });
}

/** Everything pending or active across the workspace: anyone may see who has access to what, now. */
export const overview =
  (deps: Deps) =>
  (requesterId?: string): Overview => ({
    pending: deps.requests.listPending(requesterId),
    active: withRequests(deps, deps.grants.list(['opening', 'active', 'closing'], requesterId)),
  });

/** The resources this actor may ask for. */
export const resourcesFor =
  (deps: Pick<AppDeps, 'policy'>) =>
  (actor: Actor): Resource[] =>
    requestableBy(deps.policy(), actor);
