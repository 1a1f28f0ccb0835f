import { slackDate } from '../../../escape';
import { errorText } from '../../../views/errors';
import { noticeMessage } from '../../../views/notices';
import type { Subcommand } from './subcommand';

/**
 * `/access <resource> [<duration>] [from <address>] [--break-glass] <reason…>`: asks for access. Without
 * `from` on a network resource, and with `HALLPASS_PUBLIC_URL` set, the answer is a one-time link that
 * records the address the requester's browser comes from and continues the request (see `offerAddressLink`).
 */
export const request: Subcommand<'request'> = async (ctx, { cmd, context }) => {
  const ask = { actor: await context.actor(), ...cmd };
  const result = await ctx.useCases.submitRequest(ask);
  if (!result.ok) {
    if (result.error === 'ADDRESS_REQUIRED') {
      const link = await ctx.useCases.offerAddressLink(ask);
      if (link !== undefined) {
        return context.reply({
          text: `${result.detail.resourceId} opens a network rule for the address you connect from. Open this link from that machine, before ${slackDate(link.expiresAt)} (once, within 10 minutes), and your request continues with its address: ${link.url}\nOr ask again with \`from\` and your address (an IP or a CIDR).`,
        });
      }
    }
    return context.reply({ text: errorText(result) });
  }
  const { card } = result.value;
  if (card === undefined) return context.reply({ text: `Request ${result.value.request.id} was recorded.` });
  return context.reply(noticeMessage({ type: 'request-submitted', card }, 'requester'));
};
