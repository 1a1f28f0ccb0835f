import type { types } from '@slack/bolt';
import { safeCode } from '../escape';
import { ACTION, BLOCK, CALLBACK } from '../ids';
import { plain, section } from './blocks';
import { LIMITS } from './limits';

/** Longest deny reason accepted; it is shown on the approval message and sent to the requester. */
export const MAX_DENY_REASON_LENGTH = 1000;

/**
 * Opened by the "Deny" button. `private_metadata` carries the request id; the submission is
 * authorized again from the policy, so a forged id gains nothing. The reason is optional.
 */
export function denyModal(requestId: string): types.ModalView {
  return {
    type: 'modal',
    callback_id: CALLBACK.denyModal,
    private_metadata: requestId,
    title: plain('Deny request', LIMITS.modalTitle),
    submit: plain('Deny', LIMITS.modalButton),
    close: plain('Cancel', LIMITS.modalButton),
    blocks: [
      section(`Deny request ${safeCode(requestId, 80)}? The requester and the channel will be told.`),
      {
        type: 'input',
        block_id: BLOCK.denyReason,
        label: plain('Reason (optional)', 100),
        optional: true,
        element: {
          type: 'plain_text_input',
          action_id: ACTION.denyReasonInput,
          multiline: true,
          max_length: MAX_DENY_REASON_LENGTH,
          placeholder: plain('Why not, or what would make it acceptable', LIMITS.placeholder),
        },
      },
    ],
  };
}
