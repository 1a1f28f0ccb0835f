import { addMilliseconds } from 'date-fns/addMilliseconds';
import { type CidrError, checkWidth, parseSourceAddress, type SourceCidr } from '../domain/cidr';
import { plannedEnd } from '../domain/grant';
import type { Policy } from '../domain/policy';
import {
  type Actor,
  agentMaxDuration,
  automationAutoApproves,
  findResource,
  mayRequest,
  type Resource,
  standingRefusal,
} from '../domain/policy';
import { type AccessRequest, SYSTEM_ACTOR } from '../domain/request';
import { type Err, err, ok, type Result } from '../domain/result';
import type { StandingRefusal } from '../domain/standing';
import type { ApprovalCard } from './notices';
import { describeError, type Notices } from './notify';
import type { OpenGrant } from './open-grant';
import { noteOutcome, type OutcomeDeps } from './outcomes';
import type {
  ApiRequestStore,
  AuditLog,
  Clock,
  GrantStore,
  Ids,
  Logger,
  RequestStore,
  RoleSessions,
  UnitOfWork,
  Wakeup,
} from './ports';

export type SubmitCommand = {
  readonly actor: Actor;
  readonly resourceId: string;
  /** Absent: the resource's `defaultDuration`. */
  readonly durationMs?: number | undefined;
  readonly address?: string | undefined;
  readonly reason: string;
  /** Open at once without approval (`--break-glass`), where the resource allows it. */
  readonly breakGlass?: boolean | undefined;
  /**
   * Made through the HTTP API with a token: the token's resource list (checked by the caller) stands in
   * for the resource's `requesters`; auto-approval follows the `automation` policy key; no break-glass.
   */
  readonly automation?: AutomationSubmit | undefined;
};

/** Who is behind an API request, and its lease. */
export type AutomationSubmit = {
  readonly tokenId: string;
  readonly tokenName: string;
  readonly ownerId: string;
  readonly autoApproveWithinMs?: number | undefined;
  readonly agent?: { readonly name: string; readonly onBehalfOf?: string | undefined } | undefined;
  /** A lease of this length holds the request (and its grant) while renewed. */
  readonly leaseTtlMs?: number | undefined;
};

/** A break-glass reason must say enough for the reviewers afterwards. */
export const MIN_BREAK_GLASS_REASON = 20;

/** Why a request does not fit its resource (`validateRequest`). Durations are milliseconds. */
export type RequestCheckError =
  | Err<
      | 'NOT_REQUESTER'
      | 'DURATION_REQUIRED'
      | 'ADDRESS_NOT_APPLICABLE'
      | 'BREAK_GLASS_NOT_ALLOWED'
      | StandingRefusal,
      { readonly resourceId: string }
    >
  | Err<'BREAK_GLASS_REASON_TOO_SHORT', { readonly min: number; readonly length: number }>
  | Err<
      'DURATION_TOO_SHORT',
      { readonly resourceId: string; readonly min: number; readonly requested: number }
    >
  /** `breakGlass`: over the break-glass limit; `role`: over the role's MaxSessionDuration (see submitRequest). */
  | Err<
      'DURATION_TOO_LONG',
      {
        readonly resourceId: string;
        readonly max: number;
        readonly requested: number;
        readonly breakGlass?: true;
        readonly role?: string;
      }
    >
  | Err<'ADDRESS_REQUIRED', { readonly resourceId: string; readonly example: string }>
  | CidrError;

export type SubmitError = RequestCheckError | Err<'UNKNOWN_RESOURCE', { readonly resourceId: string }>;

export type Submitted = {
  readonly request: AccessRequest;
  readonly autoApproved: boolean;
  /** The approval card as it stands after submitting, for the requester's answer. */
  readonly card: ApprovalCard | undefined;
};

/** Validates everything a request says against the policy, before anything is stored. Pure. */
export function validateRequest(
  resource: Resource,
  cmd: SubmitCommand,
): Result<{ durationMs: number; source?: SourceCidr | undefined }, RequestCheckError> {
  // An automation is authorized by its token's resource list (checked before), not by `requesters`.
  if (cmd.automation === undefined) {
    // Guests and other workspaces' users are not "anyone": refused, and told why, unless the resource admits them.
    const refused = standingRefusal(resource, cmd.actor);
    if (refused !== undefined) return err(refused, { resourceId: resource.id });
    if (!mayRequest(resource, cmd.actor)) return err('NOT_REQUESTER', { resourceId: resource.id });
  }
  const breakGlass = cmd.breakGlass === true;
  if (breakGlass && (!resource.breakGlass || cmd.automation !== undefined))
    return err('BREAK_GLASS_NOT_ALLOWED', { resourceId: resource.id });
  if (breakGlass && cmd.reason.trim().length < MIN_BREAK_GLASS_REASON) {
    return err('BREAK_GLASS_REASON_TOO_SHORT', {
      min: MIN_BREAK_GLASS_REASON,
      length: cmd.reason.trim().length,
    });
  }
  const fallback =
    breakGlass && resource.defaultDuration !== undefined
      ? Math.min(resource.defaultDuration, resource.breakGlassMaxDuration)
      : resource.defaultDuration;
  const durationMs = cmd.durationMs ?? fallback;
  if (durationMs === undefined) return err('DURATION_REQUIRED', { resourceId: resource.id });
  if (breakGlass && durationMs > resource.breakGlassMaxDuration) {
    return err('DURATION_TOO_LONG', {
      resourceId: resource.id,
      max: resource.breakGlassMaxDuration,
      requested: durationMs,
      breakGlass: true,
    });
  }
  if (durationMs < resource.minDuration) {
    return err('DURATION_TOO_SHORT', {
      resourceId: resource.id,
      min: resource.minDuration,
      requested: durationMs,
    });
  }
  if (durationMs > resource.maxDuration) {
    return err('DURATION_TOO_LONG', {
      resourceId: resource.id,
      max: resource.maxDuration,
      requested: durationMs,
    });
  }
  // An agent's window is short: capped by `automation.agents.maxDuration` (15m when absent).
  if (cmd.automation?.agent !== undefined && durationMs > agentMaxDuration(resource)) {
    return err('DURATION_TOO_LONG', {
      resourceId: resource.id,
      max: agentMaxDuration(resource),
      requested: durationMs,
    });
  }
  if (resource.kind === 'aws-role') {
    if (cmd.address !== undefined) return err('ADDRESS_NOT_APPLICABLE', { resourceId: resource.id });
    return ok({ durationMs });
  }
  if (cmd.address === undefined) {
    return err('ADDRESS_REQUIRED', {
      resourceId: resource.id,
      example: `/access ${resource.id} 30m from 203.0.113.7 …`,
    });
  }
  const parsed = parseSourceAddress(cmd.address);
  if (!parsed.ok) return parsed;
  const wide = checkWidth(parsed.value, resource.maxPrefix);
  if (!wide.ok) return wide;
  return ok({ durationMs, source: wide.value });
}

/** What reading a role's own ceiling needs. */
type RoleMaxDeps = { readonly roles: Pick<RoleSessions, 'maxSessionSeconds'>; readonly logger: Logger };

type Deps = RoleMaxDeps &
  OutcomeDeps & {
    readonly clock: Clock;
    readonly policy: () => Policy;
    readonly uow: UnitOfWork;
    readonly wakeup: Wakeup;
    readonly ids: Ids;
    readonly requests: Pick<RequestStore, 'insert' | 'decide' | 'get'>;
    readonly grants: Pick<GrantStore, 'insert' | 'get'>;
    readonly audit: Pick<AuditLog, 'append'>;
    readonly notices: Pick<Notices, 'deliver' | 'card'>;
    /** Where an API request records its token, agent and lease (absent: no API). */
    readonly apiRequests?: Pick<ApiRequestStore, 'insert'> | undefined;
  };

/**
 * `/access <resource> …`: checks the policy, stores a pending request, posts the Approve / Deny
 * message in the resource's channel — or, for `autoApprove` resources, approves at once and opens
 * (the message is still posted: auto-approval is announced). Telling the requester is the caller's
 * reply (ephemeral for a command, a DM for the modal).
 */
export const submitRequest =
  (deps: Deps, use: { readonly openGrant: OpenGrant }) =>
  async (cmd: SubmitCommand): Promise<Result<Submitted, SubmitError>> => {
    const resource = findResource(deps.policy(), cmd.resourceId);
    if (resource === undefined) return err('UNKNOWN_RESOURCE', { resourceId: cmd.resourceId });
    const valid = validateRequest(resource, cmd);
    if (!valid.ok) return valid;

    const { durationMs, source } = valid.value;
    const breakGlass = cmd.breakGlass === true;
    if (resource.kind === 'aws-role') {
      const roleMax = await roleMaxMs(deps, resource.roleArn);
      if (roleMax !== undefined && durationMs > roleMax) {
        return err('DURATION_TOO_LONG', {
          resourceId: resource.id,
          max: roleMax,
          requested: durationMs,
          role: resource.roleArn,
        });
      }
    }
    const now = deps.clock.now();
    const id = deps.ids.request();
    const auto = cmd.automation;
    const approveNow =
      auto === undefined
        ? resource.autoApprove
        : automationAutoApproves(
            resource,
            { tokenAutoApproveWithin: auto.autoApproveWithinMs, agent: auto.agent !== undefined },
            durationMs,
          );
    if (auto !== undefined && deps.apiRequests === undefined)
      throw new Error('API requests need the apiRequests store');
    const created = await deps.uow.tx(async () => {
      const request = await deps.requests.insert({
        id,
        resourceId: resource.id,
        requesterId: cmd.actor.userId,
        durationMs,
        source,
        reason: cmd.reason,
        createdAt: now,
        approvalDeadline: addMilliseconds(now, resource.approvalTimeout),
        breakGlass,
        resourceAtRequest: resource,
      });
      await deps.audit.append({
        at: now,
        actor: cmd.actor.userId,
        type: 'request.submitted',
        requestId: id,
        details: {
          resourceId: resource.id,
          durationMs,
          source: source?.cidr,
          reason: cmd.reason,
          breakGlass,
          ...(auto === undefined
            ? {}
            : {
                token: auto.tokenName,
                tokenId: auto.tokenId,
                owner: auto.ownerId,
                ...(auto.agent === undefined
                  ? {}
                  : {
                      agent: auto.agent.name,
                      ...(auto.agent.onBehalfOf === undefined ? {} : { onBehalfOf: auto.agent.onBehalfOf }),
                    }),
                ...(auto.leaseTtlMs === undefined ? {} : { leaseTtlMs: auto.leaseTtlMs }),
              }),
        },
      });
      if (auto !== undefined) {
        await deps.apiRequests?.insert({
          requestId: id,
          tokenId: auto.tokenId,
          tokenName: auto.tokenName,
          ownerId: auto.ownerId,
          agentName: auto.agent?.name,
          onBehalfOf: auto.agent?.onBehalfOf,
          leaseTtlMs: auto.leaseTtlMs,
          leaseExpiresAt: auto.leaseTtlMs === undefined ? undefined : addMilliseconds(now, auto.leaseTtlMs),
        });
      }
      if (!approveNow && !breakGlass) return { request, grantId: undefined };
      // Auto-approval and break-glass are still decisions on the record: by hallpass, under the policy in force now.
      const note = breakGlass
        ? 'break-glass: opened without approval, to be reviewed'
        : auto === undefined
          ? 'auto-approved by policy'
          : 'auto-approved by policy (automation)';
      const decided = await deps.requests.decide(id, 'approved', SYSTEM_ACTOR, now, note);
      if (!decided.ok) throw new Error(`request ${id} left pending state while being created`);
      const grant = await deps.grants.insert({
        id: deps.ids.grant(),
        requestId: id,
        resourceId: resource.id,
        requesterId: cmd.actor.userId,
        startsAt: now,
        expiresAt: plannedEnd(now, durationMs),
        breakGlass,
      });
      await deps.audit.append({
        at: now,
        actor: SYSTEM_ACTOR,
        type: 'request.approved',
        requestId: id,
        grantId: grant.id,
        // `note` and `expiresAt` put in the chain what the export shows.
        details: {
          ...(breakGlass ? { breakGlass: true } : { auto: true }),
          note,
          expiresAt: grant.expiresAt.toISOString(),
        },
      });
      return { request: decided.value, grantId: grant.id };
    });

    // If Slack is down the post is kept and retried: approvers will see it once Slack answers.
    const ids = { requestId: id, resourceId: resource.id, actor: cmd.actor.userId };
    noteOutcome(deps, 'submitted', { ...ids, durationMs, source: source?.cidr, breakGlass });
    if (created.grantId !== undefined)
      noteOutcome(deps, 'approved', {
        ...ids,
        grantId: created.grantId,
        by: breakGlass ? 'break-glass' : 'policy',
      });
    await deps.notices.deliver({ kind: 'card-post', requestId: id });
    deps.wakeup.wake();
    if (created.grantId !== undefined) await use.openGrant(created.grantId);
    if (breakGlass && created.grantId !== undefined)
      await alertBreakGlass(deps, id, created.grantId, resource);
    return ok({
      request: (await deps.requests.get(id)) ?? created.request,
      autoApproved: created.grantId !== undefined,
      card: await deps.notices.card(id),
    });
  };

/** Break-glass opened without a vote: the approvers are alerted in the thread and owe a review. */
async function alertBreakGlass(
  deps: Deps,
  requestId: string,
  grantId: string,
  resource: Resource,
): Promise<void> {
  const card = await deps.notices.card(requestId);
  const grant = await deps.grants.get(grantId);
  if (card === undefined || grant === undefined || grant.state !== 'active') return;
  await deps.notices.deliver({
    kind: 'thread',
    requestId,
    notice: { type: 'break-glass-opened', card, grant, approvers: resource.approvers },
  });
}

/**
 * The role's own ceiling (`MaxSessionDuration`, read with iam:GetRole): a request longer than the
 * role allows gets a clear answer now, not a failure after approval. If IAM cannot be read the
 * policy's maxDuration stands alone (and STS itself refuses anything longer than the role allows).
 */
async function roleMaxMs(deps: RoleMaxDeps, roleArn: string): Promise<number | undefined> {
  try {
    return (await deps.roles.maxSessionSeconds(roleArn)) * 1000;
  } catch (error) {
    deps.logger.warn(
      { roleArn, err: describeError(error) },
      'iam:GetRole failed; checking the policy maxDuration only',
    );
    return undefined;
  }
}
