import type { SourceCidr } from './cidr';
import type { Resource } from './policy';
import { type Err, err, ok, type Result } from './result';

/**
 * A request's lifecycle. `approved` is terminal for the request itself: from there the grant
 * carries the story (opening → active → closing → closed), and an AWS failure marks the request `failed`.
 */
export type RequestState = 'pending' | 'approved' | 'denied' | 'cancelled' | 'timed_out' | 'failed';

export type RequestEvent = 'approve' | 'deny' | 'cancel' | 'time_out' | 'fail';

const MOVES: Record<RequestState, Partial<Record<RequestEvent, RequestState>>> = {
  pending: {
    approve: 'approved',
    deny: 'denied',
    cancel: 'cancelled',
    time_out: 'timed_out',
    fail: 'failed',
  },
  approved: { fail: 'failed' },
  denied: {},
  cancelled: {},
  timed_out: {},
  failed: {},
};

export function transition(
  state: RequestState,
  event: RequestEvent,
): Result<
  RequestState,
  Err<'INVALID_TRANSITION', { readonly state: RequestState; readonly event: RequestEvent }>
> {
  const next = MOVES[state][event];
  return next === undefined ? err('INVALID_TRANSITION', { state, event }) : ok(next);
}

/** Where the approval message lives, so it can be updated in place after `response_url` expires. */
export type MessageRef = { readonly channel: string; readonly ts: string };

export type AccessRequest = {
  /** `req_…` */
  readonly id: string;
  readonly resourceId: string;
  readonly requesterId: string;
  readonly durationMs: number;
  /** The source address for security-group resources; absent for roles. */
  readonly source?: SourceCidr | undefined;
  readonly reason: string;
  readonly state: RequestState;
  readonly createdAt: Date;
  /** When a still-pending request times out. */
  readonly approvalDeadline: Date;
  readonly decidedAt?: Date | undefined;
  /** The user who decided (last approver, denier, canceller); `hallpass` for timeouts and auto-approval. */
  readonly decidedBy?: string | undefined;
  /** Deny reason, or the failure in plain words. */
  readonly note?: string | undefined;
  readonly message?: MessageRef | undefined;
  /** `access` asks for a new grant; `extension` asks for `durationMs` more on `extendsGrantId`. */
  readonly kind: RequestKind;
  readonly extendsGrantId?: string | undefined;
  /** Opened at once without approval; reviewed afterwards. */
  readonly breakGlass: boolean;
  /** When approvers were reminded (once) of this still-pending request. */
  readonly remindedAt?: Date | undefined;
  /**
   * The resource as the policy described it when the request was made. Never used to authorize (the
   * policy at each click does that); only to describe and announce a request whose resource has since
   * left the policy.
   */
  readonly resourceAtRequest?: Resource | undefined;
};

export type RequestKind = 'access' | 'extension';

export type Approval = { readonly requestId: string; readonly approverId: string; readonly at: Date };

/** The actor id recorded for things hallpass does by itself (timeouts, expiry, auto-approval). */
export const SYSTEM_ACTOR = 'hallpass';
