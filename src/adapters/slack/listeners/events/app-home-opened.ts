import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { ListenerContext, Scope } from '../../context';
import { homeView } from '../../views/home';

/**
 * Publishes the Home tab for the person who opened it — their grants, what waits for their
 * approval, everything active — and remembers them so the tab is refreshed when anything changes.
 */
export const appHomeOpened =
  (ctx: ListenerContext) =>
  async ({
    event,
    client,
    context,
  }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs<Scope>): Promise<void> => {
    if (event.tab !== 'home') return;
    if (ctx.home !== undefined) return ctx.home.publish(event.user);
    const view = homeView({
      ...(await ctx.useCases.dashboard(await context.actor())),
      now: ctx.clock.now(),
      warnBefore: ctx.useCases.policy().warnBefore,
    });
    await client.views.publish({ user_id: event.user, view });
  };
