import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { err } from '../../../../domain/result';
import type { ListenerContext } from '../../context';
import { originOf } from '../../origin';
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
      const actor = await ctx.uc.directory.actor(user, originOf(body));
      const result = await ctx.uc.approveRequest({ requestId: action.value ?? '', actor });
      const route = { respond, client, channel: body.channel?.id, user, logger: ctx.logger };
      if (!result.ok) {
        await replyPrivately(route, { text: errorText(result) });
      } else if (result.value.withdrawn.length > 0) {
        // Earlier votes that no longer counted at the quorum: the clicker hears why the request still waits.
        const card = ctx.uc.cardOf(result.value.request.id);
        await replyPrivately(route, {
          text: errorText(
            err('VOTES_WITHDRAWN', {
              resourceId: result.value.request.resourceId,
              count: result.value.withdrawn.length,
              have: result.value.approvals.length,
              need: card?.resource.approvals,
            }),
          ),
        });
      }
    } catch (error) {
      ctx.logger.error({ err: String(error), user }, 'approve failed');
    }
  };
