import { err } from '../../../../domain/result';
import type { ListenerContext } from '../../context';
import { errorText } from '../../views/errors';
import type { ButtonArgs } from './button';

/** "Approve": the button's value only names the request; who may approve is read from the policy now. */
export const approveAction =
  (ctx: ListenerContext) =>
  async ({ action, context }: ButtonArgs): Promise<void> => {
    const actor = await context.actor();
    const result = await ctx.useCases.approveRequest({ requestId: action.value ?? '', actor });
    if (!result.ok) return context.reply({ text: errorText(result) });
    const { request, withdrawn, approvals, needed } = result.value;
    if (withdrawn.length === 0) return;
    // Earlier votes that no longer counted at the quorum: the clicker hears why the request still waits.
    await context.reply({
      text: errorText(
        err('VOTES_WITHDRAWN', {
          resourceId: request.resourceId,
          count: withdrawn.length,
          have: approvals.length,
          need: needed,
        }),
      ),
    });
  };
