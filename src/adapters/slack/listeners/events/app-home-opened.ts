import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { ListenerContext } from '../../context';
import { originOf } from '../../origin';
import { homeView } from '../../views/home';

/**
 * Publishes the Home tab for the person who opened it — their grants, what waits for their
 * approval, everything active — and remembers them so the tab is refreshed when anything changes.
 */
export const appHomeOpened =
  (ctx: ListenerContext) =>
  async ({ event, body, client }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs) => {
    if (event.tab !== 'home') return;
    try {
      if (ctx.home !== undefined) {
        await ctx.home.publish(event.user);
        return;
      }
      const actor = await ctx.uc.directory.actor(event.user, originOf(body));
      const view = homeView({
        ...ctx.uc.dashboard(actor),
        now: ctx.clock.now(),
        warnBefore: ctx.uc.policy().warnBefore,
      });
      await client.views.publish({ user_id: event.user, view });
    } catch (error) {
      ctx.logger.error({ err: String(error), user: event.user }, 'could not publish the Home tab');
    }
  };
