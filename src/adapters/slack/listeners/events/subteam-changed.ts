import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { ListenerContext } from '../../context';

const membersChanged = z.object({
  subteam_id: z.string().min(1),
  removed_users: z.array(z.string()).optional(),
});
const updated = z.object({
  subteam: z.object({
    id: z.string().min(1),
    date_delete: z.number().optional(),
    users: z.array(z.string()).optional(),
  }),
});

/**
 * `subteam_members_changed` and `subteam_updated`: a user group changed in Slack (usually an IdP sync).
 * The directory's cached membership is made stale at once — members who left are dropped from it
 * straight away — so the next decision (a vote counted at the quorum, a requester re-checked) reads the
 * group as it is now instead of as it was up to five minutes ago. Open Home tabs are refreshed: their
 * Approve buttons follow who approves now. Then access follows the people who left (see
 * `followIdentity`): what only that group gave them ends.
 */
export const subteamChanged =
  (ctx: ListenerContext) =>
  async ({
    event,
    body,
  }: SlackEventMiddlewareArgs<'subteam_members_changed' | 'subteam_updated'> & AllMiddlewareArgs) => {
    let left: { subteamId: string; users: readonly string[] } | undefined;
    if (event.type === 'subteam_members_changed') {
      const parsed = membersChanged.safeParse(event);
      if (!parsed.success) return ctx.logger.warn({ type: event.type }, 'ignored a malformed group event');
      ctx.useCases.directory.groupsChanged({
        subteamId: parsed.data.subteam_id,
        removedUsers: parsed.data.removed_users ?? [],
        disabled: false,
      });
      left = { subteamId: parsed.data.subteam_id, users: parsed.data.removed_users ?? [] };
    } else {
      const parsed = updated.safeParse(event);
      if (!parsed.success) return ctx.logger.warn({ type: event.type }, 'ignored a malformed group event');
      // A disabled group keeps its members in the event; it grants nothing any more.
      const disabled = (parsed.data.subteam.date_delete ?? 0) > 0;
      ctx.useCases.directory.groupsChanged({ subteamId: parsed.data.subteam.id, removedUsers: [], disabled });
      if (disabled) left = { subteamId: parsed.data.subteam.id, users: parsed.data.subteam.users ?? [] };
    }
    ctx.home?.changed?.();
    if (left === undefined || left.users.length === 0) return;
    const group = (await ctx.useCases.directory.groupHandle(left.subteamId)) ?? left.subteamId;
    await ctx.useCases.identityChanged(body.event_id, {
      userIds: left.users,
      cause: { kind: 'left-group', group },
    });
  };
