import { errorText } from '../../../views/errors';
import type { Subcommand } from './subcommand';

/** `/access extend <grant-id> <duration>`: asks for more time on one's own grant. */
export const extend: Subcommand<'extend'> = async (ctx, { cmd, context }) => {
  const actor = await context.actor();
  const result = await ctx.useCases.requestExtension({
    grantId: cmd.grantId,
    actor,
    durationMs: cmd.durationMs,
  });
  if (!result.ok) return context.reply({ text: errorText(result) });
  const asked = result.value;
  return context.reply(
    asked.state === 'pending'
      ? {
          text: `Asked for more time on ${cmd.grantId} (request ${asked.id}); its approvers were asked in <#${asked.approversChannel}>.`,
        }
      : { text: `Request ${asked.id} for more time on ${cmd.grantId} is ${asked.state}.` },
  );
};
