import type { Grant } from '../domain/grant';
import {
  type Actor,
  detailsShown,
  findResource,
  isAdmin,
  isApprover,
  type Policy,
  type Resource,
  requestableBy,
} from '../domain/policy';
import type { AccessRequest } from '../domain/request';
import { flatMapAll } from './each-limit';
import type { ApprovalCard } from './notices';
import type { GrantStore, RequestStore } from './ports';

type Deps = {
  readonly policy: () => Policy;
  readonly requests: Pick<RequestStore, 'get' | 'listPending' | 'approvals'>;
  readonly grants: Pick<GrantStore, 'get' | 'list' | 'unreviewedBreakGlass'>;
};

/** What of an entry its viewer may see (see `detailsShown` in the domain and the policy's `visibility`). */
export type Shown = { readonly address: boolean; readonly reason: boolean };

/** A live (or unreviewed) grant with its request, and what of it the viewer may see. */
export type ActiveEntry = { readonly grant: Grant; readonly request: AccessRequest; readonly shown: Shown };

const EVERYTHING: Shown = { address: true, reason: true };
export type Overview = {
  readonly pending: readonly AccessRequest[];
  readonly active: readonly ActiveEntry[];
};

function withRequests(
  deps: Deps,
  grants: readonly Grant[],
  shown: (request: AccessRequest) => Shown = () => EVERYTHING,
): Promise<ActiveEntry[]> {
  return flatMapAll(grants, async (grant) => {
    const request = await deps.requests.get(grant.requestId);
    return request === undefined ? [] : [{ grant, request, shown: shown(request) }];
  });
}

/** Everything pending or active across the workspace: anyone may see who has access to what, now. */
export const overview =
  (deps: Deps) =>
  async (requesterId?: string): Promise<Overview> => ({
    pending: await deps.requests.listPending(requesterId),
    active: await withRequests(deps, await deps.grants.list(['opening', 'active', 'closing'], requesterId)),
  });

/** The resources this actor may ask for. */
export const resourcesFor =
  (deps: { readonly policy: () => Policy }) =>
  (actor: Actor): Resource[] =>
    requestableBy(deps.policy(), actor);

/** Everything App Home shows one person (and `/access list` shows as text). */
export type Dashboard = {
  readonly userId: string;
  /** Their own live grants. */
  readonly mine: readonly ActiveEntry[];
  readonly minePending: readonly AccessRequest[];
  /** Pending requests this person may approve now (policy at this moment; not their own unless allowed; not already voted). */
  readonly awaitingMe: readonly ApprovalCard[];
  /** Every live grant in the workspace. */
  readonly everyone: readonly ActiveEntry[];
  /** Break-glass grants nobody has reviewed yet. */
  readonly unreviewed: readonly ActiveEntry[];
  /** Whether this person may review break-glass grants (an approver of some resource, or an admin). */
  readonly canReview: boolean;
};

/** The dashboard for one person, read fresh. */
export const dashboard =
  (deps: Deps) =>
  async (actor: Actor): Promise<Dashboard> => {
    const policy = deps.policy();
    // Addresses and reasons only for those involved, unless the policy's `visibility` says everyone.
    const shown = (request: AccessRequest): Shown =>
      detailsShown(
        policy,
        findResource(policy, request.resourceId) ?? request.resourceAtRequest,
        request.requesterId,
        actor,
      );
    const live = await withRequests(deps, await deps.grants.list(['opening', 'active', 'closing']), shown);
    const awaitingMe = await flatMapAll(
      await deps.requests.listPending(),
      async (request): Promise<ApprovalCard[]> => {
        const resource = findResource(policy, request.resourceId);
        if (resource === undefined || !isApprover(resource, actor)) return [];
        if (request.requesterId === actor.userId && !resource.allowSelfApproval) return [];
        const approvals = await deps.requests.approvals(request.id);
        if (approvals.some((a) => a.approverId === actor.userId)) return [];
        const extendsGrant =
          request.extendsGrantId === undefined ? undefined : await deps.grants.get(request.extendsGrantId);
        return [{ request, resource, approvals, extends: extendsGrant }];
      },
    );
    return {
      userId: actor.userId,
      mine: live.filter((e) => e.grant.requesterId === actor.userId),
      minePending: await deps.requests.listPending(actor.userId),
      awaitingMe,
      everyone: live,
      unreviewed: await withRequests(deps, await deps.grants.unreviewedBreakGlass(), shown),
      canReview: isAdmin(policy, actor) || policy.resources.some((r) => isApprover(r, actor)),
    };
  };
