import {
  checkRequestForm,
  type FormErrors,
  type FormRequest,
  type RequestFormField,
  readRequestForm,
} from '../../../../app/validate-request-form';
import type { ListenerContext } from '../../context';
import { ACTION, BLOCK, BREAK_GLASS_OPTION } from '../../ids';
import { errorText } from '../../views/errors';
import { noticeMessage } from '../../views/notices';
import type { FormRead } from '../middleware';
import type { FormArgs, SubmittedArgs } from './form';

/**
 * How long the form's check waits for the directory before acking anyway. Slack allows 3 seconds; a
 * cold user-group cache can take longer, and then the person's rights are checked after the ack by
 * `submitRequest`, whose refusal comes as a direct message instead of beside the field.
 */
export const FORM_ACTOR_WAIT_MS = 1_500;

/** The request modal's block for each field. */
const BLOCK_OF: Readonly<Record<RequestFormField, string>> = {
  duration: BLOCK.requestDuration,
  reason: BLOCK.requestReason,
  resource: BLOCK.requestResource,
  address: BLOCK.requestAddress,
  breakGlass: BLOCK.requestBreakGlass,
};
const FIELDS = Object.keys(BLOCK_OF) as RequestFormField[];

/** Each field's error, said beside its block. */
function besideFields(errors: FormErrors): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const field of FIELDS) {
    const result = errors[field];
    if (result !== undefined) shown[BLOCK_OF[field]] = errorText(result);
  }
  return shown;
}

/** `promise`'s value, or `undefined` if it takes longer than `ms` (real time: it bounds Slack's wait, not a schedule). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The request form's check, before the ack. What the form alone gets wrong is found without any call
 * (`readRequestForm`); then the person's rights and the policy's rules (`checkRequestForm`), if the
 * directory says who they are in time. Mistakes are shown beside their field in the still-open modal.
 */
export const readRequestSubmit =
  (ctx: ListenerContext) =>
  async ({ view, context }: FormArgs): Promise<FormRead<FormRequest>> => {
    const values = view.state.values;
    const read = readRequestForm(
      {
        resourceId:
          values[BLOCK.requestResource]?.[ACTION.requestResourceSelect]?.selected_option?.value ?? '',
        duration: values[BLOCK.requestDuration]?.[ACTION.requestDurationInput]?.value ?? '',
        address: values[BLOCK.requestAddress]?.[ACTION.requestAddressInput]?.value ?? '',
        reason: values[BLOCK.requestReason]?.[ACTION.requestReasonInput]?.value ?? '',
        breakGlass:
          values[BLOCK.requestBreakGlass]?.[ACTION.requestBreakGlassInput]?.selected_options?.some(
            (o) => o.value === BREAK_GLASS_OPTION,
          ) ?? false,
      },
      ctx.useCases.policy(),
    );
    if (!read.ok) return { ok: false, errors: besideFields(read.errors) };
    const actor = await within(context.actor(), FORM_ACTOR_WAIT_MS);
    const refused = actor === undefined ? undefined : checkRequestForm(read.resource, read.request, actor);
    if (refused !== undefined) return { ok: false, errors: besideFields(refused) };
    return { ok: true, value: read.request };
  };

/** The request form's submit, acked: the request is submitted and the outcome sent as a DM. */
export const requestSubmitted =
  (ctx: ListenerContext) =>
  async ({ context }: SubmittedArgs<FormRequest>): Promise<void> => {
    const result = await ctx.useCases.submitRequest({ actor: await context.actor(), ...context.form });
    if (!result.ok) return context.reply({ text: errorText(result) });
    const { card } = result.value;
    if (card !== undefined)
      await context.reply(noticeMessage({ type: 'request-submitted', card }, 'requester'));
  };
