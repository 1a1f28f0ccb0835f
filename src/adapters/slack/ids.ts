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
  /** Request modal: the break-glass checkbox (one option, value `BREAK_GLASS_OPTION`); shown only when an offered resource allows it. */
  requestBreakGlassInput: 'request_break_glass_input',
  /** "Done" on the requester's grant notices and App Home; `value` is the grant id. Ends the grant now. */
  doneGrant: 'done_grant',
  /** "Extend" on the requester's grant notices and App Home; `value` is the grant id. Opens the extend modal. */
  extendGrant: 'extend_grant',
  /** "Review" on a break-glass approval message and App Home; `value` is the grant id. */
  reviewGrant: 'review_grant',
  /** "Cancel" on a pending request in App Home; `value` is the request id. */
  cancelRequest: 'cancel_request',
  /** Extend modal: how much more time, as typed (`30m`). */
  extendDurationInput: 'extend_duration_input',
} as const;

/** The value of the request modal's one break-glass checkbox option. */
export const BREAK_GLASS_OPTION = 'break-glass';

/** Modal `callback_id`s. */
export const CALLBACK = {
  /** `private_metadata` = the request id being denied. */
  denyModal: 'deny_modal',
  /** `private_metadata` = the channel id where `/access` was typed, or `''` (opened from elsewhere). */
  requestModal: 'request_modal',
  /** `private_metadata` = the grant id to extend. */
  extendModal: 'extend_modal',
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
  requestBreakGlass: 'request_break_glass',
  extendDuration: 'extend_duration',
  /** The actions block holding Extend / Done in a requester's grant notice. */
  grantActions: 'grant_actions',
  /** The actions block holding Review on a break-glass approval message. */
  reviewActions: 'review_actions',
} as const;

/**
 * Prefixes of per-item actions blocks (App Home lists one block per grant or request). Slack wants
 * an `action_id` unique only within its block, so every item's buttons keep the plain `ACTION`
 * ids and listeners match them exactly; the item's own `block_id` (`<prefix>:<id>`) keeps the
 * blocks apart — block ids must be unique within a message or view.
 */
export const ITEM_BLOCK = {
  myGrant: 'my_grant',
  myRequest: 'my_request',
  toApprove: 'to_approve',
  toReview: 'to_review',
} as const;

/** The `block_id` of one item's actions block, e.g. `my_grant:grt_abc`; at most 255 characters. */
export const itemBlockId = (prefix: (typeof ITEM_BLOCK)[keyof typeof ITEM_BLOCK], id: string): string =>
  `${prefix}:${id}`.slice(0, 255);

export type ActionId = (typeof ACTION)[keyof typeof ACTION];
export type CallbackId = (typeof CALLBACK)[keyof typeof CALLBACK];
export type BlockId = (typeof BLOCK)[keyof typeof BLOCK];
