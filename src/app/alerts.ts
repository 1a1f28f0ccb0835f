import type { Grant } from '../domain/grant';
import type { Policy } from '../domain/policy';
import type { GrantAlert } from './notices';
import type { Notices } from './notify';

export type AlertDeps = {
  readonly policy: () => Policy;
  readonly notices: Pick<Notices, 'deliver'>;
};

/**
 * Posts an alert about `grant` at the top level of `channel` (its resource's) and of the policy's
 * `alertsChannel` when that is another channel — through the outbox, so each goes out once across
 * replicas and waits out a Slack outage. The caller decides the episode (once, not at every retry).
 */
export async function raiseGrantAlert(
  deps: AlertDeps,
  channel: string,
  grant: Grant,
  alert: Pick<GrantAlert, 'what' | 'detail' | 'attempts' | 'admins'>,
): Promise<void> {
  const notice: GrantAlert = {
    type: 'grant-alert',
    grantId: grant.id,
    requestId: grant.requestId,
    resourceId: grant.resourceId,
    requesterId: grant.requesterId,
    expiresAt: grant.expiresAt.toISOString(),
    ...alert,
  };
  for (const to of alertChannels(deps.policy(), channel))
    await deps.notices.deliver({ kind: 'channel', channel: to, notice });
}

/** `channel`, then the policy's `alertsChannel` unless it is the same. */
export const alertChannels = (policy: Policy, channel: string): string[] =>
  policy.alertsChannel === undefined || policy.alertsChannel === channel
    ? [channel]
    : [channel, policy.alertsChannel];
