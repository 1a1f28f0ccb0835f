import { errorText } from '../../../views/errors';
import { noticeMessage } from '../../../views/notices';
import type { Subcommand } from './subcommand';

/** `/access <resource> [<duration>] [from <address>] [--break-glass] <reason…>`: asks for access. */
export const request: Subcommand<'request'> = async (ctx, { cmd, context }) => {
  const result = await ctx.useCases.submitRequest({ actor: await context.actor(), ...cmd });
  if (!result.ok) return context.reply({ text: errorText(result) });
  const { card } = result.value;
  if (card === undefined) return context.reply({ text: `Request ${result.value.request.id} was recorded.` });
  return context.reply(noticeMessage({ type: 'request-submitted', card }, 'requester'));
};
