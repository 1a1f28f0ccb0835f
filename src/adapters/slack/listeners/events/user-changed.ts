import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { ListenerContext } from '../../context';

const userChange = z.object({
  user: z.object({ id: z.string().regex(/^[UW][A-Z0-9]+$/), deleted: z.boolean().optional() }),
});

/**
 * `user_change`: a user's account changed in Slack — deactivated (`deleted`), made a guest, moved. What
 * the directory cached about them is forgotten on this replica, then their access follows what they are
 * now (see `followIdentity`): grants and pending requests on resources they may no longer ask for end,
 * votes on resources they no longer approve stop counting. Slack sends this event for every profile
 * edit, so someone with nothing live costs no Slack call.
 */
export const userChanged =
  (ctx: ListenerContext) =>
  async ({ event, body }: SlackEventMiddlewareArgs<'user_change'> & AllMiddlewareArgs): Promise<void> => {
    const parsed = userChange.safeParse(event);
    if (!parsed.success) return ctx.logger.warn({ type: event.type }, 'ignored a malformed user event');
    const { id, deleted } = parsed.data.user;
    ctx.useCases.directory.userChanged(id);
    await ctx.useCases.identityChanged(body.event_id, {
      userIds: [id],
      cause: deleted === true ? { kind: 'deactivated' } : { kind: 'account-changed' },
    });
    ctx.home?.changed?.();
  };
