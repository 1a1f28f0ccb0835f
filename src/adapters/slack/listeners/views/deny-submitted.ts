import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import type { ListenerContext } from '../../context';
import { ACTION, BLOCK } from '../../ids';
import { originOf } from '../../origin';
import { replyPrivately } from '../../reply';
import { errorText } from '../../views/errors';

/** The deny modal's submit: the optional reason, then the same authorization as any click. */
export const denySubmitted =
  (ctx: ListenerContext) =>
  async ({ ack, body, view, client }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs) => {
    await ack();
    const user = body.user.id;
    const requestId = view.private_metadata;
    const reason = view.state.values[BLOCK.denyReason]?.[ACTION.denyReasonInput]?.value ?? undefined;
    try {
      const actor = await ctx.uc.directory.actor(user, originOf(body));
      const result = await ctx.uc.denyRequest({ requestId, actor, reason });
      if (!result.ok) {
        const channel = ctx.uc.cardOf(requestId)?.request.message?.channel;
        await replyPrivately({ client, channel, user, logger: ctx.logger }, { text: errorText(result) });
      }
    } catch (error) {
      ctx.logger.error({ err: String(error), user }, 'deny failed');
    }
  };
