/**
 * Every action_id, callback_id and block_id hallpass puts in Block Kit, in one place: views
 * write them, listeners match on them. Values are part of in-flight messages and modals, so
 * renaming one breaks buttons already posted — add, do not rename.
 */

/** Button and input `action_id`s. */
export const ACTION = {
  /** "Approve" on the approval message; `value` is the request id (authorization is decided at click time, never from the value). */
  approveRequest: 'approve_request',
  /** "Deny" on the approval message; `value` is the request id. Opens the deny modal. */
  denyRequest: 'deny_request',
  /** Deny modal: the optional reason (multiline plain text). */
  denyReasonInput: 'deny_reason_input',
  /** Request modal: the resource picker (static select; option value = resource id). */
  requestResourceSelect: 'request_resource_select',
  /** Request modal: the duration as typed (`30m`, `1h30m`). */
  requestDurationInput: 'request_duration_input',
  /** Request modal: the source address (optional; required for security groups). */
  requestAddressInput: 'request_address_input',
  /** Request modal: the reason (multiline). */
  requestReasonInput: 'request_reason_input',
} as const;

/** Modal `callback_id`s. */
export const CALLBACK = {
  /** `private_metadata` = the request id being denied. */
  denyModal: 'deny_modal',
  /** `private_metadata` = the channel id where `/access` was typed, or `''` (opened from elsewhere). */
  requestModal: 'request_modal',
} as const;

/** `block_id`s; view submissions are read as `state.values[block_id][action_id]`. */
export const BLOCK = {
  /** The actions block holding Approve / Deny. */
  approvalActions: 'approval_actions',
  denyReason: 'deny_reason',
  requestResource: 'request_resource',
  requestDuration: 'request_duration',
  requestAddress: 'request_address',
  requestReason: 'request_reason',
} as const;

export type ActionId = (typeof ACTION)[keyof typeof ACTION];
export type CallbackId = (typeof CALLBACK)[keyof typeof CALLBACK];
export type BlockId = (typeof BLOCK)[keyof typeof BLOCK];
