import { errorText } from '../../../views/errors';
import type { Subcommand } from './subcommand';

/** `/access cancel <request-id>`: withdraws one's own pending request. */
export const cancel: Subcommand<'cancel'> = async (ctx, { cmd, context }) => {
  const result = await ctx.useCases.cancelRequest({ requestId: cmd.requestId, actor: await context.actor() });
  if (!result.ok) return context.reply({ text: errorText(result) });
  return context.reply({ text: `Request ${result.value.id} is cancelled.` });
};
