import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { ListenerContext } from '../../context';
import { denyModal } from '../../views/deny-modal';

/** "Deny": opens the reason modal first — `trigger_id` expires in about 3 s — and decides on submit. */
export const denyAction =
  (ctx: ListenerContext) =>
  async ({
    ack,
    body,
    action,
    client,
    context,
  }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs) => {
    await ack();
    if (context.retryNum !== undefined) return;
    try {
      await client.views.open({ trigger_id: body.trigger_id, view: denyModal(action.value ?? '') });
    } catch (error) {
      ctx.logger.error({ err: String(error), user: body.user.id }, 'could not open the deny modal');
    }
  };
