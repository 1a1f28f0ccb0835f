import type { types } from '@slack/bolt';
import { ACTION } from '../ids';
import { plain } from './blocks';
import { LIMITS } from './limits';

type ActionId = (typeof ACTION)[keyof typeof ACTION];

/** A button carrying an id as its value; the click is authorized from the policy, never from the value. */
export function button(
  actionId: ActionId,
  text: string,
  value: string,
  style?: 'primary' | 'danger',
): types.Button {
  const b: types.Button = {
    type: 'button',
    action_id: actionId,
    text: plain(text, LIMITS.buttonText),
    value: value.slice(0, LIMITS.buttonValue),
  };
  if (style !== undefined) b.style = style;
  return b;
}

/** "Done" ends the access at once: a confirmation keeps a stray click from cutting someone off. */
const DONE_CONFIRM: types.ConfirmationDialog = {
  title: plain('End this access now?', 100),
  text: plain('The access closes at once. You can ask again later if you need it.', 300),
  confirm: plain('End it', 30),
  deny: plain('Keep it', 30),
};

/**
 * "Extend" (opens the extend modal) and "Done" (ends the grant now), both valued with the grant
 * id. `extend: false` leaves Extend out where it cannot work (an AWS role session cannot be lengthened).
 */
export function grantButtons(grantId: string, opts: { extend: boolean }): types.Button[] {
  const done: types.Button = { ...button(ACTION.doneGrant, 'Done', grantId), confirm: DONE_CONFIRM };
  return opts.extend ? [button(ACTION.extendGrant, 'Extend', grantId), done] : [done];
}

/** An actions block; `blockId` must be unique within the message or view. */
export const actions = (blockId: string, elements: types.Button[]): types.ActionsBlock => ({
  type: 'actions',
  block_id: blockId,
  elements,
});
