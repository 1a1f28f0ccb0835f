import type { types } from '@slack/bolt';
import { formatDuration } from '../../../domain/duration';
import type { Grant } from '../../../domain/grant';
import type { Resource } from '../../../domain/policy';
import { safeCode, slackDate } from '../escape';
import { ACTION, BLOCK, CALLBACK } from '../ids';
import { plain, section, timeLeft } from './blocks';
import { resourceTitle } from './describe';
import { LIMITS } from './limits';

const TITLE = 'Extend access';
/** Longest duration text the parser accepts (src/domain/duration.ts). */
const DURATION_INPUT_MAX = 24;
/** What the placeholder suggests when at least this much is left. */
const SUGGESTED = 30 * 60_000;

/**
 * How much longer a grant may still become: a resource's `maxDuration` bounds the whole grant,
 * from its original start to its (extended) end. Never negative.
 */
export const extensionRoom = (grant: Pick<Grant, 'startsAt' | 'expiresAt'>, resource: Resource): number =>
  Math.max(0, resource.maxDuration - (grant.expiresAt.getTime() - grant.startsAt.getTime()));

/**
 * Opened by the "Extend" button: asks how much more time, saying the current end and the most
 * that can still be added. `private_metadata` is the grant id; the submission is authorized and
 * checked again by the use case, so a stale modal or a forged id gains nothing. When nothing can
 * be added (a role session, a grant no longer active, the maximum reached) it is a modal that
 * says so, without submit.
 */
export function extendModal(input: { grant: Grant; resource: Resource; now: Date }): types.ModalView {
  const { grant, resource, now } = input;
  const id = safeCode(grant.id, 80);
  if (resource.kind === 'aws-role') {
    return notice(
      grant.id,
      `Grant ${id} is an AWS role session on ${resourceTitle(resource)}, and a role session cannot be lengthened once issued. When it ends, ask for a new grant.`,
    );
  }
  if (grant.state !== 'active') {
    return notice(grant.id, `Grant ${id} is no longer active, so there is nothing to extend.`);
  }
  const ending = `Grant ${id} on ${resourceTitle(resource)} ends at ${slackDate(grant.expiresAt)} (${timeLeft(grant.expiresAt, now)}).`;
  const room = extensionRoom(grant, resource);
  const total = `${resource.id} allows at most ${formatDuration(resource.maxDuration)} in all from the start (${slackDate(grant.startsAt)})`;
  if (room < 1000) {
    return notice(
      grant.id,
      `${ending}\n${total}, and this grant has reached it: ask for a new grant when it ends.`,
    );
  }
  const approval = resource.autoApprove
    ? 'It is granted at once (this resource needs no approval).'
    : `The approvers of ${resource.id} are asked, as for a new request.`;
  return {
    type: 'modal',
    callback_id: CALLBACK.extendModal,
    private_metadata: grant.id,
    title: plain(TITLE, LIMITS.modalTitle),
    submit: plain('Ask', LIMITS.modalButton),
    close: plain('Cancel', LIMITS.modalButton),
    blocks: [
      section(`${ending}\n${total}, so you can ask for at most *${formatDuration(room)}* more. ${approval}`),
      {
        type: 'input',
        block_id: BLOCK.extendDuration,
        label: plain('How much more time', 100),
        element: {
          type: 'plain_text_input',
          action_id: ACTION.extendDurationInput,
          placeholder: plain(`e.g. ${formatDuration(Math.min(SUGGESTED, room))}`, LIMITS.placeholder),
          max_length: DURATION_INPUT_MAX,
        },
        hint: plain(`Like 15m, 1h or 1h30m; at most ${formatDuration(room)}.`, LIMITS.inputHint),
      },
    ],
  };
}

/** A modal that only explains, without submit; `private_metadata` still names the grant. */
function notice(grantId: string, text: string): types.ModalView {
  return {
    type: 'modal',
    private_metadata: grantId,
    title: plain(TITLE, LIMITS.modalTitle),
    close: plain('Close', LIMITS.modalButton),
    blocks: [section(text)],
  };
}
