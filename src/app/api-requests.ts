import { addMilliseconds } from 'date-fns/addMilliseconds';
import { formatDuration } from '../domain/duration';
import type { Grant } from '../domain/grant';
import { type Actor, findResource, isAdmin, type Policy, type Resource } from '../domain/policy';
import type { AccessRequest } from '../domain/request';
import { type Err, err, ok, type Result } from '../domain/result';
import {
  automationRequester,
  automationSourceIdentity,
  LEASE_ACTOR,
  MAX_LEASE_TTL_MS,
  MIN_LEASE_TTL_MS,
  parsePresentedToken,
  tokenMatches,
} from '../domain/token';
import type { CancelError } from './cancel-request';
import type { CloseGrant } from './close-grant';
import { describeError } from './notify';
import { MIN_SESSION_SECONDS, sessionSeconds } from './open-role-session';
import type {
  ApiRequestLink,
  ApiRequestStore,
  ApiToken,
  AuditLog,
  Clock,
  Directory,
  GrantStore,
  Logger,
  RateLimits,
  RequestStore,
  RoleSessionStore,
  RoleSessions,
  SessionCredentials,
  TokenStore,
  Wakeup,
} from './ports';
import type { RevokeError } from './revoke-grant';
import type { SubmitCommand, SubmitError, Submitted } from './submit-request';

/** Calls one token may make per minute (every route but the OpenAPI document), across every replica. */
export const DEFAULT_API_CALLS_PER_MINUTE = 120;

type Deps = {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly policy: () => Policy;
  readonly wakeup: Wakeup;
  readonly directory: Pick<Directory, 'actor'>;
  readonly rateLimits: RateLimits;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly requests: Pick<RequestStore, 'get'>;
  readonly grants: Pick<GrantStore, 'byRequest'>;
  readonly roles: Pick<RoleSessions, 'start' | 'maxSessionSeconds'>;
  readonly roleSessions: Pick<RoleSessionStore, 'get'>;
  readonly tokens?: TokenStore | undefined;
  readonly apiRequests?: ApiRequestStore | undefined;
};

type Uses = {
  readonly submitRequest: (cmd: SubmitCommand) => Promise<Result<Submitted, SubmitError>>;
  readonly cancelRequest: (cmd: {
    requestId: string;
    actor: Actor;
  }) => Promise<Result<AccessRequest, CancelError>>;
  readonly revokeGrant: (cmd: {
    grantId: string;
    actor: Actor;
    reason?: 'revoked' | 'done';
  }) => Promise<Result<Grant, RevokeError>>;
  readonly closeGrant: CloseGrant;
  readonly announceClosed: (grant: Grant) => Promise<void>;
};

/** Why a call is refused, as the HTTP API answers it (its status comes from the code). */
export type ApiError =
  | Err<'UNAUTHORIZED', { readonly message: string }>
  | Err<'FORBIDDEN', { readonly message: string }>
  | Err<'NOT_FOUND', { readonly message: string }>
  | Err<'CONFLICT', { readonly message: string; readonly request?: ApiRequestView | undefined }>
  | Err<'RATE_LIMITED', { readonly retryAfterSeconds: number }>
  | Err<'INVALID', { readonly message: string; readonly path?: string | undefined }>;

/** The API's status of a request: its own state until approved, then its grant's. */
export type ApiStatus =
  | 'pending'
  | 'opening'
  | 'active'
  | 'ended'
  | 'denied'
  | 'cancelled'
  | 'timed_out'
  | 'failed';

/** A request as the API shows it (see the contract in docs/api.md). */
export type ApiRequestView = {
  readonly id: string;
  readonly resource: string;
  readonly status: ApiStatus;
  readonly duration: string;
  readonly reason: string;
  readonly from?: string | undefined;
  readonly createdAt: string;
  readonly grant?:
    | {
        readonly id: string;
        readonly startsAt: string;
        readonly expiresAt: string;
        readonly endedAt?: string | undefined;
        readonly endReason?: string | undefined;
        readonly address?: string | undefined;
        readonly protocol?: string | undefined;
        readonly ports?: string[] | undefined;
        readonly region?: string | undefined;
        readonly roleArn?: string | undefined;
      }
    | undefined;
  readonly lease?: { readonly ttl: string; readonly expiresAt: string } | undefined;
  readonly message?: string | undefined;
};

/** What may be asked for, as `GET /resources` lists it. */
export type ApiResourceView = {
  readonly id: string;
  readonly kind: 'security-group' | 'aws-role';
  readonly description?: string | undefined;
  readonly maxDuration: string;
  readonly defaultDuration?: string | undefined;
  readonly protocol?: string | undefined;
  readonly ports?: string[] | undefined;
  readonly region?: string | undefined;
  readonly autoApprove: boolean;
};

/** The body of `POST /requests`, once validated for form (zod, in the HTTP adapter). */
export type ApiCreate = {
  readonly resource: string;
  readonly durationMs: number;
  readonly reason: string;
  readonly from?: string | undefined;
  readonly leaseTtlMs?: number | undefined;
  readonly agent?: { readonly name: string; readonly onBehalfOf?: string | undefined } | undefined;
};

const forbidden = (message: string) => err('FORBIDDEN', { message });
const notFound = (id: string) => err('NOT_FOUND', { message: `no request ${id} made with this token` });

/** Who a token acts as: never a Slack user, so never in a `requesters` or approvers list. */
const actorOf = (token: ApiToken): Actor => ({
  userId: automationRequester(token.name),
  groups: new Set<string>(),
  standing: 'member',
});

const portsOf = (r: Resource): string[] | undefined =>
  r.kind === 'security-group'
    ? r.ports.map((p) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`))
    : undefined;

/** The HTTP API's use cases: each takes the authenticated token, and checks the policy as it reads now. */
export function apiUseCases(deps: Deps, use: Uses) {
  const tokens = (): TokenStore => {
    if (deps.tokens === undefined) throw new Error('the HTTP API needs the token store');
    return deps.tokens;
  };
  const links = (): ApiRequestStore => {
    if (deps.apiRequests === undefined) throw new Error('the HTTP API needs the API request store');
    return deps.apiRequests;
  };

  async function view(request: AccessRequest, link: ApiRequestLink | undefined): Promise<ApiRequestView> {
    const grant = request.state === 'approved' ? await deps.grants.byRequest(request.id) : undefined;
    const resource = findResource(deps.policy(), request.resourceId) ?? request.resourceAtRequest;
    const status: ApiStatus =
      request.state === 'pending'
        ? 'pending'
        : request.state !== 'approved'
          ? request.state
          : grant === undefined || grant.state === 'opening'
            ? 'opening'
            : grant.state === 'active'
              ? 'active'
              : grant.state === 'failed'
                ? 'failed'
                : 'ended';
    const live = status === 'pending' || status === 'opening' || status === 'active';
    const message =
      request.state === 'cancelled' && link?.leaseLapsedAt !== undefined
        ? 'the lease lapsed: the client stopped renewing it'
        : status === 'denied' || status === 'failed' || status === 'timed_out' || status === 'cancelled'
          ? request.note
          : undefined;
    return {
      id: request.id,
      resource: request.resourceId,
      status,
      duration: formatDuration(request.durationMs),
      reason: request.reason,
      ...(request.source === undefined ? {} : { from: request.source.cidr }),
      createdAt: request.createdAt.toISOString(),
      ...(grant === undefined
        ? {}
        : {
            grant: {
              id: grant.id,
              startsAt: grant.startsAt.toISOString(),
              expiresAt: grant.expiresAt.toISOString(),
              ...(grant.endedAt === undefined ? {} : { endedAt: grant.endedAt.toISOString() }),
              ...(grant.endReason === undefined
                ? {}
                : { endReason: grant.endedBy === LEASE_ACTOR ? 'lease-expired' : grant.endReason }),
              ...(request.source === undefined ? {} : { address: request.source.cidr }),
              ...(resource?.kind === 'security-group'
                ? { protocol: resource.protocol, ports: portsOf(resource) }
                : {}),
              ...(resource === undefined ? {} : { region: resource.region }),
              ...(resource?.kind === 'aws-role' ? { roleArn: resource.roleArn } : {}),
            },
          }),
      // While held, when it lapses unless renewed; once lapsed, when it did. Released (ended otherwise): not shown.
      ...(link?.leaseTtlMs === undefined || (link.leaseExpiresAt ?? link.leaseLapsedAt) === undefined
        ? {}
        : {
            lease: {
              ttl: formatDuration(link.leaseTtlMs),
              expiresAt: (link.leaseExpiresAt ?? link.leaseLapsedAt ?? request.createdAt).toISOString(),
            },
          }),
      ...(message === undefined || live ? {} : { message }),
    };
  }

  /** The request, if this token made it. */
  async function own(
    token: ApiToken,
    id: string,
  ): Promise<{ request: AccessRequest; link: ApiRequestLink } | undefined> {
    const link = await links().get(id);
    if (link === undefined || link.tokenId !== token.id) return undefined;
    const request = await deps.requests.get(id);
    return request === undefined ? undefined : { request, link };
  }

  return {
    /**
     * The token behind `Authorization: Bearer …`: its secret (or, within a rotation's overlap, its
     * previous one) compared in constant time, not revoked, not expired, its owner still an admin under
     * the policy now — then counted against the token's rate limit. Each call is noted on the token
     * (`last_used_at`); what it changes is audited by the use case that changes it.
     */
    async authenticate(
      presented: string | undefined,
      limitPerMinute: number,
      /**
       * `ending`: only to end what the token holds (`done`): its secret suffices, revoked, expired or
       * orphaned — ending access is never refused.
       */
      purpose: 'any' | 'ending' = 'any',
    ): Promise<Result<ApiToken, ApiError>> {
      const unauthorized = (message: string) => err('UNAUTHORIZED', { message });
      if (presented === undefined) return unauthorized('send the token as Authorization: Bearer <token>');
      const parsed = parsePresentedToken(presented);
      if (parsed === undefined) return unauthorized('that is not a hallpass API token');
      const token = await tokens().get(parsed.tokenId);
      const now = deps.clock.now();
      const current = tokenMatches(presented, token?.secretHash);
      const previous =
        !current &&
        token?.previousValidUntil !== undefined &&
        now < token.previousValidUntil &&
        tokenMatches(presented, token.previousHash);
      if (token === undefined || (!current && !previous))
        return unauthorized(
          token?.previousHash !== undefined && tokenMatches(presented, token.previousHash)
            ? 'this secret was rotated and its overlap has ended: use the new one'
            : 'unknown token',
        );
      if (purpose === 'ending') {
        await tokens().touch(token.id, now);
        return ok(token);
      }
      if (token.revokedAt !== undefined) return unauthorized('this token was revoked');
      if (token.expiresAt <= now)
        return unauthorized(`this token expired at ${token.expiresAt.toISOString()}`);
      const owner = await deps.directory.actor(token.ownerId);
      if (!isAdmin(deps.policy(), owner))
        return unauthorized('the admin who owns this token is no longer an admin: it acts for nobody');
      if (!(await deps.rateLimits.admit(`api:${token.id}`, limitPerMinute, 60_000, now)))
        return err('RATE_LIMITED', { retryAfterSeconds: 60 });
      await tokens().touch(token.id, now);
      return ok(token);
    },

    /** What this token may ask for: its own list, as far as the policy still describes it. */
    resources(token: ApiToken): ApiResourceView[] {
      const policy = deps.policy();
      return token.resources.flatMap((id) => {
        const r = findResource(policy, id);
        if (r === undefined) return [];
        return [
          {
            id: r.id,
            kind: r.kind,
            ...(r.description === undefined ? {} : { description: r.description }),
            maxDuration: formatDuration(r.maxDuration),
            ...(r.defaultDuration === undefined
              ? {}
              : { defaultDuration: formatDuration(r.defaultDuration) }),
            ...(r.kind === 'security-group' ? { protocol: r.protocol, ports: portsOf(r) } : {}),
            region: r.region,
            autoApprove:
              r.autoApprove ||
              (r.automation?.autoApproveWithin !== undefined && token.autoApproveWithinMs !== undefined),
          },
        ];
      });
    },

    async create(token: ApiToken, body: ApiCreate): Promise<Result<ApiRequestView, ApiError | SubmitError>> {
      if (!token.resources.includes(body.resource))
        return forbidden(
          `this token may not ask for ${body.resource}; it may ask for: ${token.resources.join(', ')}`,
        );
      if (findResource(deps.policy(), body.resource) === undefined)
        return forbidden(`${body.resource} is not in the policy any more`);
      if (
        body.leaseTtlMs !== undefined &&
        (body.leaseTtlMs < MIN_LEASE_TTL_MS || body.leaseTtlMs > MAX_LEASE_TTL_MS)
      )
        return err('INVALID', {
          path: 'lease.ttl',
          message: `a lease lasts between ${formatDuration(MIN_LEASE_TTL_MS)} and ${formatDuration(MAX_LEASE_TTL_MS)}`,
        });
      if (body.agent !== undefined && body.leaseTtlMs === undefined)
        return err('INVALID', {
          path: 'lease',
          message: "an agent's request must carry a lease (lease.ttl)",
        });
      const submitted = await use.submitRequest({
        actor: actorOf(token),
        resourceId: body.resource,
        durationMs: body.durationMs,
        address: body.from,
        reason: body.reason,
        automation: {
          tokenId: token.id,
          tokenName: token.name,
          ownerId: token.ownerId,
          autoApproveWithinMs: token.autoApproveWithinMs,
          agent: body.agent,
          leaseTtlMs: body.leaseTtlMs,
        },
      });
      if (!submitted.ok) return submitted;
      const found = await own(token, submitted.value.request.id);
      if (found === undefined) throw new Error(`request ${submitted.value.request.id} lost its API record`);
      return ok(await view(found.request, found.link));
    },

    async get(token: ApiToken, id: string): Promise<Result<ApiRequestView, ApiError>> {
      const found = await own(token, id);
      if (found === undefined) return notFound(id);
      return ok(await view(found.request, found.link));
    },

    /** Ends the grant now (or cancels the request while pending); idempotent on what has ended. */
    async done(token: ApiToken, id: string): Promise<Result<ApiRequestView, ApiError>> {
      const found = await own(token, id);
      if (found === undefined) return notFound(id);
      const actor = actorOf(token);
      const { request } = found;
      if (request.state === 'pending') await use.cancelRequest({ requestId: id, actor });
      else if (request.state === 'approved') {
        const grant = await deps.grants.byRequest(id);
        if (grant?.state === 'active') await use.revokeGrant({ grantId: grant.id, actor, reason: 'done' });
        else if (grant?.state === 'opening') {
          // Still opening: closed at once all the same (the close waits for the open's lock).
          try {
            const closed = await use.closeGrant(grant.id, 'done', actor.userId);
            if (closed !== undefined) await use.announceClosed(closed);
          } catch (error) {
            deps.logger.warn(
              { grantId: grant.id, err: describeError(error) },
              'done: close failed; the scheduler retries',
            );
            deps.wakeup.wake();
          }
        }
      }
      await links().release(id);
      const after = await own(token, id);
      return ok(await view(after?.request ?? request, after?.link ?? found.link));
    },

    /** Pushes the lease forward by its ttl; 409 once nothing is live any more. */
    async renew(token: ApiToken, id: string): Promise<Result<{ leaseExpiresAt: string }, ApiError>> {
      const found = await own(token, id);
      if (found === undefined) return notFound(id);
      const { link } = found;
      const current = await view(found.request, link);
      if (link.leaseTtlMs === undefined)
        return err('CONFLICT', { message: 'this request has no lease', request: current });
      const live =
        current.status === 'pending' || current.status === 'opening' || current.status === 'active';
      const expiresAt = addMilliseconds(deps.clock.now(), link.leaseTtlMs);
      if (!live || !(await links().renew(id, expiresAt)))
        return err('CONFLICT', {
          message: `nothing is live any more: the request is ${current.status}`,
          request: current,
        });
      return ok({ leaseExpiresAt: expiresAt.toISOString() });
    },

    /**
     * Fresh STS credentials for an active role grant, for the time it has left: never stored, sent only
     * to the caller, and each issue audited (without them). The session has the grant's name, so the
     * deny written at the grant's end cuts it off too; it never outlives the grant's first session
     * (whose expiry the deny is kept until), so a grant with under 15 minutes left gets a 409.
     */
    async credentials(
      token: ApiToken,
      id: string,
    ): Promise<Result<SessionCredentials & { readonly region: string }, ApiError>> {
      const found = await own(token, id);
      if (found === undefined) return notFound(id);
      const current = await view(found.request, found.link);
      const resource = findResource(deps.policy(), found.request.resourceId);
      if (resource?.kind !== 'aws-role')
        return err('CONFLICT', { message: 'credentials are for aws-role resources', request: current });
      const grant = await deps.grants.byRequest(id);
      if (grant?.state !== 'active')
        return err('CONFLICT', {
          message: `no active grant: the request is ${current.status}`,
          request: current,
        });
      const now = deps.clock.now();
      const first = await deps.roleSessions.get(grant.id);
      let maxSeconds = 3600;
      try {
        maxSeconds = await deps.roles.maxSessionSeconds(resource.roleArn);
      } catch {
        // STS refuses anything longer than the role allows anyway.
      }
      const bound =
        first === undefined
          ? Number.POSITIVE_INFINITY
          : Math.floor((first.expiresAt.getTime() - now.getTime()) / 1000);
      const seconds = Math.min(sessionSeconds(grant, now, maxSeconds), bound);
      if (seconds < MIN_SESSION_SECONDS)
        return err('CONFLICT', {
          message:
            'too little of the grant is left for a new STS session (15 minutes at least): use the credentials already issued',
          request: current,
        });
      const { session, credentials } = await deps.roles.start({
        roleArn: resource.roleArn,
        region: resource.region,
        grantId: grant.id,
        requesterId: grant.requesterId,
        sourceIdentity: automationSourceIdentity(token.name),
        durationSeconds: seconds,
      });
      await deps.audit.append({
        at: now,
        actor: automationRequester(token.name),
        type: 'credentials.issued',
        requestId: id,
        grantId: grant.id,
        details: {
          token: token.name,
          roleArn: resource.roleArn,
          sessionName: session.sessionName,
          sessionExpiresAt: session.expiresAt.toISOString(),
        },
      });
      return ok({ ...credentials, region: resource.region });
    },
  };
}

export type ApiUseCases = ReturnType<typeof apiUseCases>;
