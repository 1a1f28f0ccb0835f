import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { looksLikeDuration, parseDuration } from '../../../../domain/duration';
import { err } from '../../../../domain/result';
import type { ListenerContext } from '../../context';
import { ACTION, BLOCK } from '../../ids';
import { originOf } from '../../origin';
import { replyPrivately } from '../../reply';
import { errorText } from '../../views/errors';

/** The extend form's submit: a bad duration is shown beside the field; otherwise the extension is asked for. */
export const extendSubmitted =
  (ctx: ListenerContext) =>
  async ({ ack, body, view, client }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs) => {
    const user = body.user.id;
    const grantId = view.private_metadata;
    const text = view.state.values[BLOCK.extendDuration]?.[ACTION.extendDurationInput]?.value?.trim() ?? '';
    const durationMs = looksLikeDuration(text) ? parseDuration(text) : undefined;
    if (durationMs === undefined || durationMs === 0) {
      const code = durationMs === 0 ? 'ZERO_DURATION' : 'INVALID_DURATION';
      await ack({
        response_action: 'errors',
        errors: { [BLOCK.extendDuration]: errorText(err(code, { input: text })) },
      });
      return;
    }
    await ack();
    try {
      const actor = await ctx.uc.directory.actor(user, originOf(body));
      const result = await ctx.uc.requestExtension({ grantId, actor, durationMs });
      const message = result.ok
        ? { text: `Asked for ${text} more on grant ${grantId} (request ${result.value.id}).` }
        : { text: errorText(result) };
      await replyPrivately({ client, user, logger: ctx.logger }, message);
    } catch (error) {
      ctx.logger.error({ err: String(error), user }, 'extend failed');
    }
  };
