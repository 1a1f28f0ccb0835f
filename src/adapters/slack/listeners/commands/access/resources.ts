import { resourcesMessage } from '../../../views/resources';
import { whyNothing } from './standing';
import type { Subcommand } from './subcommand';

/** `/access resources`: what this person may request, or why nothing. */
export const resources: Subcommand<'resources'> = async (ctx, { context }) => {
  const actor = await context.actor();
  const mine = ctx.useCases.resourcesFor(actor);
  const why = mine.length === 0 ? whyNothing(actor) : undefined;
  return context.reply(
    why === undefined ? resourcesMessage(mine, ctx.useCases.lingeringConnections()) : { text: why },
  );
};
