import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { ListenerContext } from '../../context';
import { homeView } from '../../views/home';

/** Publishes the Home tab for the person who opened it: how to use hallpass, their pending and active requests. */
export const appHomeOpened =
  (ctx: ListenerContext) =>
  async ({ event, client }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs) => {
    if (event.tab !== 'home') return;
    try {
      const mine = ctx.uc.overview(event.user);
      await client.views.publish({
        user_id: event.user,
        view: homeView({ userId: event.user, ...mine, now: ctx.clock.now() }),
      });
    } catch (error) {
      ctx.logger.error({ err: String(error), user: event.user }, 'could not publish the Home tab');
    }
  };
