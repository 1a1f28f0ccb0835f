import type { Grant } from '../domain/grant';
import type { AwsRoleResource } from '../domain/policy';
import type { AccessRequest } from '../domain/request';
import { SYSTEM_ACTOR } from '../domain/request';
import { automationName, automationSourceIdentity } from '../domain/token';
import { describeError, type Notices } from './notify';
import { noteOutcome, type OutcomeDeps } from './outcomes';
import type {
  AuditLog,
  Clock,
  Directory,
  GrantStore,
  Logger,
  Notifier,
  RequestStore,
  RoleSessionStore,
  RoleSessions,
  UnitOfWork,
  Wakeup,
} from './ports';
import { type IssueRevocableDeps, issueRevocable } from './role-revocation';

/** STS will not issue a session shorter than this. */
export const MIN_SESSION_SECONDS = 900;

export type OpenRoleSessionDeps = IssueRevocableDeps &
  OutcomeDeps & {
    readonly clock: Clock;
    readonly logger: Logger;
    readonly uow: UnitOfWork;
    readonly wakeup: Wakeup;
    readonly directory: Pick<Directory, 'emailOf'>;
    readonly roles: Pick<RoleSessions, 'maxSessionSeconds' | 'start'>;
    readonly roleSessions: Pick<RoleSessionStore, 'record'>;
    readonly grants: Pick<GrantStore, 'move'>;
    readonly requests: Pick<RequestStore, 'markFailed'>;
    readonly audit: Pick<AuditLog, 'append'>;
    readonly notifier: Pick<Notifier, 'sendCredentials'>;
    readonly notices: Pick<Notices, 'deliver' | 'refreshCard' | 'tellBoth' | 'card'>;
  };

/**
 * The seconds of session to ask STS for: what is left of the grant, but never below STS's minimum
 * (a shorter grant is cut off by the deny policy at its end) and never above the role's maximum.
 */
export function sessionSeconds(grant: Grant, now: Date, roleMaxSeconds: number): number {
  const left = Math.floor((grant.expiresAt.getTime() - now.getTime()) / 1000);
  return Math.min(Math.max(left, MIN_SESSION_SECONDS), Math.max(roleMaxSeconds, MIN_SESSION_SECONDS));
}

/**
 * Opens an `aws-role` grant: one `AssumeRole` named after the grant, with the requester as
 * `SourceIdentity`. The session's identity and expiry are stored (never its credentials), the grant
 * becomes active, and the credentials go to the requester alone in a direct message. If that message
 * cannot be sent the credentials are lost, so the grant is closed again at once (which denies the session).
 * No session is issued unless it could be revoked early (the role's inline-policy budget could list it
 * with every other live session of the role): the check, AssumeRole and recording run under the role's
 * lock. Throws an `InfraError` when the check or STS refuses; the caller marks the grant failed.
 */
export async function openRoleSession(
  deps: OpenRoleSessionDeps,
  grant: Grant,
  request: AccessRequest,
  resource: AwsRoleResource,
  closeNow: (grantId: string) => Promise<void>,
): Promise<void> {
  // An automation is no Slack user: CloudTrail names it `automation.<name>` (STS's alphabet has no `:`).
  const automation = automationName(grant.requesterId);
  const email = automation === undefined ? await deps.directory.emailOf(grant.requesterId) : undefined;
  const sourceIdentity =
    automation !== undefined ? automationSourceIdentity(automation) : (email ?? grant.requesterId);
  let maxSeconds = 3600;
  try {
    maxSeconds = await deps.roles.maxSessionSeconds(resource.roleArn);
  } catch (error) {
    deps.logger.warn(
      { roleArn: resource.roleArn, err: describeError(error) },
      'iam:GetRole failed; assuming 1h',
    );
  }
  // Under the role's lock: the room check, AssumeRole, and recording the session, so the next
  // session's check counts this one.
  const { credentials, moved } = await issueRevocable(
    deps,
    { roleArn: resource.roleArn, grantId: grant.id },
    async () => {
      const now = deps.clock.now();
      const durationSeconds = sessionSeconds(grant, now, maxSeconds);
      const { session, credentials } = await deps.roles.start({
        roleArn: resource.roleArn,
        region: resource.region,
        grantId: grant.id,
        requesterId: grant.requesterId,
        sourceIdentity,
        durationSeconds,
      });

      const openedAt = deps.clock.now();
      const moved = await deps.uow.tx(async () => {
        await deps.roleSessions.record(grant.id, resource.roleArn, session);
        const m = await deps.grants.move(grant.id, ['opening'], 'active');
        if (m.ok) {
          await deps.audit.append({
            at: openedAt,
            actor: SYSTEM_ACTOR,
            type: 'grant.opened',
            requestId: request.id,
            grantId: grant.id,
            details: {
              roleArn: resource.roleArn,
              sessionName: session.sessionName,
              assumedRoleId: session.assumedRoleId,
              sourceIdentity,
              durationSeconds,
              sessionExpiresAt: session.expiresAt.toISOString(),
              expiresAt: grant.expiresAt.toISOString(),
            },
          });
        }
        return m;
      });
      return { credentials, moved };
    },
  );
  if (!moved.ok) return;
  noteOutcome(deps, 'opened', {
    requestId: request.id,
    grantId: grant.id,
    resourceId: resource.id,
    requesterId: grant.requesterId,
    roleArn: resource.roleArn,
    expiresAt: grant.expiresAt.toISOString(),
  });
  deps.wakeup.wake();
  await deps.notices.refreshCard(request.id);
  const card = await deps.notices.card(request.id);
  if (card === undefined) return;
  // An automation's credentials go only to the API caller (`POST /api/v1/requests/{id}/credentials`,
  // which assumes the role again for the time left): nothing is sent, and these are dropped.
  if (automation !== undefined) {
    await deps.notices.deliver({
      kind: 'thread',
      requestId: request.id,
      notice: { type: 'grant-started', card, grant: moved.value },
    });
    return;
  }
  try {
    await deps.notifier.sendCredentials(grant.requesterId, card, moved.value, credentials);
  } catch (error) {
    deps.logger.error(
      { grantId: grant.id, err: describeError(error) },
      'could not deliver role credentials; closing the grant',
    );
    await closeNow(grant.id);
    const why = 'the credentials could not be delivered by direct message, so the session was cut off again';
    const failedAt = deps.clock.now();
    await deps.uow.tx(async () => {
      await deps.requests.markFailed(request.id, why, failedAt);
      // On the record as in the table: the export shows the request failed, and why.
      await deps.audit.append({
        at: failedAt,
        actor: SYSTEM_ACTOR,
        type: 'request.failed',
        requestId: request.id,
        grantId: grant.id,
        details: { reason: why },
      });
    });
    noteOutcome(deps, 'failed', { requestId: request.id, grantId: grant.id, reason: why });
    await deps.notices.refreshCard(request.id);
    await deps.notices.tellBoth((c) => ({ type: 'request-failed', card: c }), request.id);
    return;
  }
  await deps.notices.deliver({
    kind: 'thread',
    requestId: request.id,
    notice: { type: 'grant-started', card, grant: moved.value },
  });
}
