import { errorText } from '../../../views/errors';
import type { Subcommand } from './subcommand';

/** `/access revoke <grant-id>`: ends a grant now. */
export const revoke: Subcommand<'revoke'> = async (ctx, { cmd, context }) => {
  const result = await ctx.useCases.revokeGrant({ grantId: cmd.grantId, actor: await context.actor() });
  if (!result.ok) return context.reply({ text: errorText(result) });
  return context.reply({ text: `Grant ${result.value.id} for ${result.value.resourceId} is closed.` });
};
