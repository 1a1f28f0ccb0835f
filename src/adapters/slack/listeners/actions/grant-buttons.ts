import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { findResource } from '../../../../domain/policy';
import { err } from '../../../../domain/result';
import type { ListenerContext } from '../../context';
import { originOf } from '../../origin';
import { replyPrivately } from '../../reply';
import { errorText, type Failure } from '../../views/errors';
import { extendModal } from '../../views/extend-modal';

type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

/** Answers the clicker privately with the sentence for a refusal. */
const refuse = (ctx: ListenerContext, args: ButtonArgs, failure: Failure) =>
  replyPrivately(
    {
      respond: args.respond,
      client: args.client,
      channel: args.body.channel?.id,
      user: args.body.user.id,
      logger: ctx.logger,
    },
    { text: errorText(failure) },
  );

/** "Done" on the requester's start message or warning: ends their grant now (reason `done`). */
export const doneAction = (ctx: ListenerContext) => async (args: ButtonArgs) => {
  await args.ack();
  if (args.context.retryNum !== undefined) return;
  try {
    const actor = await ctx.uc.directory.actor(args.body.user.id, originOf(args.body));
    const result = await ctx.uc.revokeGrant({ grantId: args.action.value ?? '', actor, reason: 'done' });
    if (!result.ok) await refuse(ctx, args, result);
  } catch (error) {
    ctx.logger.error({ err: String(error), user: args.body.user.id }, 'done failed');
  }
};

/** "Extend": opens the extend form first (trigger_id lives ~3 s); the request is made on submit. */
export const extendAction = (ctx: ListenerContext) => async (args: ButtonArgs) => {
  await args.ack();
  if (args.context.retryNum !== undefined) return;
  const grant = ctx.uc.grantOf(args.action.value ?? '');
  const resource = grant === undefined ? undefined : findResource(ctx.uc.policy(), grant.resourceId);
  if (grant === undefined || resource === undefined) {
    await refuse(ctx, args, err('UNKNOWN_GRANT', { grantId: args.action.value }));
    return;
  }
  try {
    await args.client.views.open({
      trigger_id: args.body.trigger_id,
      view: extendModal({ grant, resource, now: ctx.clock.now() }),
    });
  } catch (error) {
    ctx.logger.error({ err: String(error), user: args.body.user.id }, 'could not open the extend form');
  }
};

/** "Review" on a break-glass grant's approval message. */
export const reviewAction = (ctx: ListenerContext) => async (args: ButtonArgs) => {
  await args.ack();
  if (args.context.retryNum !== undefined) return;
  try {
    const actor = await ctx.uc.directory.actor(args.body.user.id, originOf(args.body));
    const result = await ctx.uc.reviewGrant({ grantId: args.action.value ?? '', actor });
    if (!result.ok) await refuse(ctx, args, result);
  } catch (error) {
    ctx.logger.error({ err: String(error), user: args.body.user.id }, 'review failed');
  }
};

/** "Cancel" on the requester's own pending request. */
export const cancelAction = (ctx: ListenerContext) => async (args: ButtonArgs) => {
  await args.ack();
  if (args.context.retryNum !== undefined) return;
  try {
    const actor = await ctx.uc.directory.actor(args.body.user.id, originOf(args.body));
    const result = await ctx.uc.cancelRequest({ requestId: args.action.value ?? '', actor });
    if (!result.ok) await refuse(ctx, args, result);
  } catch (error) {
    ctx.logger.error({ err: String(error), user: args.body.user.id }, 'cancel failed');
  }
};
