import type { ListenerContext } from '../../context';
import { ACTION, BLOCK } from '../../ids';
import { replyPrivately } from '../../reply';
import { errorText } from '../../views/errors';
import type { FormArgs } from './form';

/** The deny modal's submit (acked at once): the optional reason, then the same authorization as any click. */
export const denySubmitted =
  (ctx: ListenerContext) =>
  async ({ view, client, context }: FormArgs): Promise<void> => {
    const requestId = view.private_metadata;
    const reason = view.state.values[BLOCK.denyReason]?.[ACTION.denyReasonInput]?.value ?? undefined;
    const result = await ctx.useCases.denyRequest({ requestId, actor: await context.actor(), reason });
    if (result.ok) return;
    // A refusal goes where the approval message is, so the approver sees it beside the card.
    const channel = (await ctx.useCases.cardOf(requestId))?.request.message?.channel;
    await replyPrivately(
      { client, channel, user: context.userId, logger: ctx.logger },
      { text: errorText(result) },
    );
  };
