import { readDuration } from '../../../../app/validate-request-form';
import type { ListenerContext } from '../../context';
import { ACTION, BLOCK } from '../../ids';
import { errorText } from '../../views/errors';
import type { FormRead } from '../middleware';
import type { FormArgs, SubmittedArgs } from './form';

/** The extend form as read: the duration asked for, and as typed (for the answer). */
export type ExtendForm = { readonly durationMs: number; readonly text: string };

/** The extend form's check, before the ack: a duration that does not parse, or is zero, is shown beside the field. */
export async function readExtendForm({ view }: FormArgs): Promise<FormRead<ExtendForm>> {
  const text = view.state.values[BLOCK.extendDuration]?.[ACTION.extendDurationInput]?.value?.trim() ?? '';
  const result = readDuration(text);
  if (result.ok) return { ok: true, value: { durationMs: result.value, text } };
  return { ok: false, errors: { [BLOCK.extendDuration]: errorText(result) } };
}

/** The extend form's submit, acked: the extension is asked for and the outcome sent as a DM. */
export const extendSubmitted =
  (ctx: ListenerContext) =>
  async ({ view, context }: SubmittedArgs<ExtendForm>): Promise<void> => {
    const grantId = view.private_metadata;
    const { durationMs, text } = context.form;
    const result = await ctx.useCases.requestExtension({ grantId, actor: await context.actor(), durationMs });
    await context.reply(
      result.ok
        ? { text: `Asked for ${text} more on grant ${grantId} (request ${result.value.id}).` }
        : { text: errorText(result) },
    );
  };
