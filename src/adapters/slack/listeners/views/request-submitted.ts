import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { validateRequest } from '../../../../app/submit-request';
import { MAX_REASON_LENGTH } from '../../../../domain/command';
import { looksLikeDuration, parseDuration } from '../../../../domain/duration';
import { findResource } from '../../../../domain/policy';
import { err } from '../../../../domain/result';
import type { ListenerContext } from '../../context';
import { ACTION, BLOCK, BREAK_GLASS_OPTION } from '../../ids';
import { originOf } from '../../origin';
import { replyPrivately } from '../../reply';
import { errorText } from '../../views/errors';
import { noticeMessage } from '../../views/notices';

const ADDRESS_ERRORS = new Set([
  'ADDRESS_REQUIRED',
  'ADDRESS_NOT_APPLICABLE',
  'INVALID_ADDRESS',
  'ADDRESS_HOST_BITS_SET',
  'ADDRESS_TOO_WIDE',
]);
const DURATION_ERRORS = new Set(['DURATION_REQUIRED', 'DURATION_TOO_SHORT', 'DURATION_TOO_LONG']);
const REASON_ERRORS = new Set(['BREAK_GLASS_REASON_TOO_SHORT']);

/**
 * The request form's submit. Mistakes are shown beside the field in the still-open modal
 * (`response_action: errors`); a valid request is submitted and the outcome sent as a DM.
 */
export const requestSubmitted =
  (ctx: ListenerContext) =>
  async ({ ack, body, view, client }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs) => {
    const user = body.user.id;
    const values = view.state.values;
    const resourceId =
      values[BLOCK.requestResource]?.[ACTION.requestResourceSelect]?.selected_option?.value ?? '';
    const durationText = values[BLOCK.requestDuration]?.[ACTION.requestDurationInput]?.value?.trim() ?? '';
    const addressText = values[BLOCK.requestAddress]?.[ACTION.requestAddressInput]?.value?.trim() ?? '';
    const reason = values[BLOCK.requestReason]?.[ACTION.requestReasonInput]?.value?.trim() ?? '';
    const breakGlass =
      values[BLOCK.requestBreakGlass]?.[ACTION.requestBreakGlassInput]?.selected_options?.some(
        (o) => o.value === BREAK_GLASS_OPTION,
      ) ?? false;

    const errors: Record<string, string> = {};
    let durationMs: number | undefined;
    if (durationText !== '') {
      durationMs = looksLikeDuration(durationText) ? parseDuration(durationText) : undefined;
      if (durationMs === undefined)
        errors[BLOCK.requestDuration] = errorText(err('INVALID_DURATION', { input: durationText }));
      else if (durationMs === 0)
        errors[BLOCK.requestDuration] = errorText(err('ZERO_DURATION', { input: durationText }));
    }
    if (reason === '') errors[BLOCK.requestReason] = errorText(err('MISSING_REASON'));
    if (reason.length > MAX_REASON_LENGTH) {
      errors[BLOCK.requestReason] = errorText(
        err('REASON_TOO_LONG', { length: reason.length, max: MAX_REASON_LENGTH }),
      );
    }
    const cmd = {
      resourceId,
      durationMs,
      address: addressText === '' ? undefined : addressText,
      reason,
      breakGlass,
    };
    const actor = await ctx.uc.directory.actor(user, originOf(body));
    const resource = findResource(ctx.uc.policy(), resourceId);
    if (resource === undefined)
      errors[BLOCK.requestResource] = errorText(err('UNKNOWN_RESOURCE', { resourceId }));
    if (resource !== undefined && Object.keys(errors).length === 0) {
      const valid = validateRequest(resource, { actor, ...cmd });
      if (!valid.ok) {
        const block = ADDRESS_ERRORS.has(valid.error)
          ? BLOCK.requestAddress
          : DURATION_ERRORS.has(valid.error)
            ? BLOCK.requestDuration
            : REASON_ERRORS.has(valid.error)
              ? BLOCK.requestReason
              : valid.error === 'BREAK_GLASS_NOT_ALLOWED'
                ? BLOCK.requestBreakGlass
                : BLOCK.requestResource;
        errors[block] = errorText(valid);
      }
    }
    if (Object.keys(errors).length > 0) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    await ack();
    const reply = (message: Parameters<typeof replyPrivately>[1]) =>
      replyPrivately({ client, user, logger: ctx.logger }, message);
    try {
      const result = await ctx.uc.submitRequest({ actor, ...cmd });
      if (!result.ok) return reply({ text: errorText(result) });
      const card = ctx.uc.cardOf(result.value.request.id);
      if (card !== undefined) await reply(noticeMessage({ type: 'request-submitted', card }, 'requester'));
    } catch (error) {
      ctx.logger.error({ err: String(error), user }, 'request from the form failed');
      await reply({
        text: 'Something went wrong on hallpass’s side; nothing was changed. Please try again in a minute.',
      });
    }
  };
