import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { parseCommand } from '../../../../domain/command';
import { type Actor, standingRefusal } from '../../../../domain/policy';
import { err } from '../../../../domain/result';
import type { ListenerContext } from '../../context';
import { originOf } from '../../origin';
import { replyPrivately } from '../../reply';
import { errorText } from '../../views/errors';
import { helpMessage } from '../../views/help';
import { listMessage } from '../../views/list';
import { noticeMessage } from '../../views/notices';
import { loadingModal, noResourcesModal, requestModal } from '../../views/request-modal';
import { resourcesMessage } from '../../views/resources';
import { auditCommand, auditSearchCommand } from './audit';

/**
 * `/access …`: ack at once (Slack allows 3 s), then parse and call one use case. Every answer is
 * private to the person who typed the command.
 */
export const accessCommand =
  (ctx: ListenerContext) =>
  async ({
    command,
    ack,
    respond,
    client,
    context,
  }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    await ack();
    // A redelivery of a command we already acked must not create a second request.
    if (context.retryNum !== undefined) return;
    const user = command.user_id;
    const reply = (message: Parameters<typeof replyPrivately>[1]) =>
      replyPrivately({ respond, client, channel: command.channel_id, user, logger: ctx.logger }, message);

    if (!ctx.uc.admitCommand(user)) return reply({ text: errorText(err('RATE_LIMITED')) });
    // Who is asking, as Slack says now and from where the command was typed (another workspace, a guest…).
    const origin = originOf(command);
    const whoIs = (): Promise<Actor> => ctx.uc.directory.actor(user, origin);
    /** Why someone who may ask for nothing does not count here at all (a guest, another workspace…), if that is why. */
    const whyNothing = (actor: Actor): string | undefined => {
      const refusal = standingRefusal(undefined, actor);
      return refusal === undefined ? undefined : errorText(err(refusal));
    };
    const parsed = parseCommand(command.text ?? '');
    if (!parsed.ok) return reply({ text: errorText(parsed) });
    const cmd = parsed.value;
    try {
      switch (cmd.kind) {
        case 'form': {
          // trigger_id lives about 3 s: open a placeholder first, then fill it in.
          const opened = await client.views.open({ trigger_id: command.trigger_id, view: loadingModal() });
          const actor = await whoIs();
          const resources = ctx.uc.resourcesFor(actor);
          const view =
            resources.length === 0
              ? noResourcesModal(whyNothing(actor))
              : requestModal(resources, command.channel_id);
          if (opened.view?.id !== undefined) await client.views.update({ view_id: opened.view.id, view });
          return;
        }
        case 'help':
          return reply(helpMessage());
        case 'resources': {
          const actor = await whoIs();
          const resources = ctx.uc.resourcesFor(actor);
          const why = resources.length === 0 ? whyNothing(actor) : undefined;
          return reply(
            why === undefined ? resourcesMessage(resources, ctx.uc.lingeringConnections()) : { text: why },
          );
        }
        case 'list': {
          const actor = await whoIs();
          return reply(
            listMessage({
              ...ctx.uc.dashboard(actor),
              now: ctx.clock.now(),
              resources: ctx.uc.policy().resources,
            }),
          );
        }
        case 'revoke': {
          const actor = await whoIs();
          const result = await ctx.uc.revokeGrant({ grantId: cmd.grantId, actor });
          if (!result.ok) return reply({ text: errorText(result) });
          return reply({ text: `Grant ${result.value.id} for ${result.value.resourceId} is closed.` });
        }
        case 'extend': {
          const actor = await whoIs();
          const result = await ctx.uc.requestExtension({
            grantId: cmd.grantId,
            actor,
            durationMs: cmd.durationMs,
          });
          if (!result.ok) return reply({ text: errorText(result) });
          const card = ctx.uc.cardOf(result.value.id);
          return reply(
            card?.request.state === 'pending'
              ? {
                  text: `Asked for more time on ${cmd.grantId} (request ${result.value.id}); its approvers were asked in <#${card.resource.channel}>.`,
                }
              : {
                  text: `Request ${result.value.id} for more time on ${cmd.grantId} is ${card?.request.state ?? 'recorded'}.`,
                },
          );
        }
        case 'cancel': {
          const actor = await whoIs();
          const result = await ctx.uc.cancelRequest({ requestId: cmd.requestId, actor });
          if (!result.ok) return reply({ text: errorText(result) });
          return reply({ text: `Request ${result.value.id} is cancelled.` });
        }
        case 'audit': {
          // Admin rights are for members only: a guest or another workspace's user is told so here.
          const refusal = standingRefusal(undefined, await whoIs());
          if (refusal !== undefined) return reply({ text: errorText(err(refusal, { admin: true })) });
          return auditCommand(ctx, { user, days: cmd.days, client, reply });
        }
        case 'audit-search': {
          // As for the export: admin rights are for members only.
          const refusal = standingRefusal(undefined, await whoIs());
          if (refusal !== undefined) return reply({ text: errorText(err(refusal, { admin: true })) });
          return auditSearchCommand(ctx, { user, filters: cmd.filters, client, reply });
        }
        case 'request': {
          const actor = await whoIs();
          const result = await ctx.uc.submitRequest({ actor, ...cmd });
          if (!result.ok) return reply({ text: errorText(result) });
          const card = ctx.uc.cardOf(result.value.request.id);
          if (card === undefined) return reply({ text: `Request ${result.value.request.id} was recorded.` });
          return reply(noticeMessage({ type: 'request-submitted', card }, 'requester'));
        }
      }
    } catch (error) {
      ctx.logger.error({ err: String(error), user, text: command.text }, '/access failed');
      return reply({
        text: 'Something went wrong on hallpass’s side; nothing was changed. Please try again in a minute.',
      });
    }
  };
