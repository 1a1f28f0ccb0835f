import { findResource } from '../../../../domain/policy';
import { err } from '../../../../domain/result';
import type { ListenerContext } from '../../context';
import { errorText } from '../../views/errors';
import { extendModal } from '../../views/extend-modal';
import type { ButtonArgs } from './button';

/** "Extend": opens the extend form first (trigger_id lives ~3 s); the request is made on submit. */
export const extendAction =
  (ctx: ListenerContext) =>
  async ({ body, action, client, context }: ButtonArgs): Promise<void> => {
    const grant = await ctx.useCases.grantOf(action.value ?? '');
    const resource = grant === undefined ? undefined : findResource(ctx.useCases.policy(), grant.resourceId);
    if (grant === undefined || resource === undefined) {
      await context.reply({ text: errorText(err('UNKNOWN_GRANT', { grantId: action.value })) });
      return;
    }
    await client.views.open({
      trigger_id: body.trigger_id,
      view: extendModal({ grant, resource, now: ctx.clock.now() }),
    });
  };
