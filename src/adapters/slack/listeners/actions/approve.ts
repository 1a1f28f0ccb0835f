import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { ListenerContext } from '../../context';
import { replyPrivately } from '../../reply';
import { errorText } from '../../views/errors';

/** "Approve": the button's value only names the request; who may approve is read from the policy now. */
export const approveAction =
  (ctx: ListenerContext) =>
  async ({
    ack,
    body,
    action,
    respond,
    client,
    context,
  }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs) => {
    await ack();
    if (context.retryNum !== undefined) return;
    const user = body.user.id;
    try {
      const actor = await ctx.uc.directory.actor(user);
      const result = await ctx.uc.approveRequest({ requestId: action.value ?? '', actor });
      if (!result.ok) {
        await replyPrivately(
          { respond, client, channel: body.channel?.id, user, logger: ctx.logger },
          { text: errorText(result.error, result.detail) },
        );
      }
    } catch (error) {
      ctx.logger.error({ err: String(error), user }, 'approve failed');
    }
  };
