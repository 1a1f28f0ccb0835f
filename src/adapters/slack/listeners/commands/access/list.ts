import { listMessage } from '../../../views/list';
import type { Subcommand } from './subcommand';

/** `/access list`: this person's requests and grants, what waits for their approval, everything active. */
export const list: Subcommand<'list'> = async (ctx, { context }) => {
  const actor = await context.actor();
  return context.reply(
    listMessage({
      ...(await ctx.useCases.dashboard(actor)),
      now: ctx.clock.now(),
      resources: ctx.useCases.policy().resources,
    }),
  );
};
