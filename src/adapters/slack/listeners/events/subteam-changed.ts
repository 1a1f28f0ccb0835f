import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { ListenerContext } from '../../context';

const membersChanged = z.object({
  subteam_id: z.string().min(1),
  removed_users: z.array(z.string()).optional(),
});
const updated = z.object({
  subteam: z.object({ id: z.string().min(1), date_delete: z.number().optional() }),
});

/**
 * `subteam_members_changed` and `subteam_updated`: a user group changed in Slack (usually an IdP sync).
 * The directory's cached membership is made stale at once — members who left are dropped from it
 * straight away — so the next decision (a vote counted at the quorum, a requester re-checked) reads the
 * group as it is now instead of as it was up to five minutes ago. Open Home tabs are refreshed: their
 * Approve buttons follow who approves now.
 */
export const subteamChanged =
  (ctx: ListenerContext) =>
  async ({
    event,
  }: SlackEventMiddlewareArgs<'subteam_members_changed' | 'subteam_updated'> & AllMiddlewareArgs) => {
    if (event.type === 'subteam_members_changed') {
      const parsed = membersChanged.safeParse(event);
      if (!parsed.success) return ctx.logger.warn({ type: event.type }, 'ignored a malformed group event');
      ctx.useCases.directory.groupsChanged({
        subteamId: parsed.data.subteam_id,
        removedUsers: parsed.data.removed_users ?? [],
        disabled: false,
      });
    } else {
      const parsed = updated.safeParse(event);
      if (!parsed.success) return ctx.logger.warn({ type: event.type }, 'ignored a malformed group event');
      ctx.useCases.directory.groupsChanged({
        subteamId: parsed.data.subteam.id,
        removedUsers: [],
        // A disabled group keeps its members in the event; it grants nothing any more.
        disabled: (parsed.data.subteam.date_delete ?? 0) > 0,
      });
    }
    ctx.home?.changed?.();
  };
