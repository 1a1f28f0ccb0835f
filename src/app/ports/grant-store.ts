import type { EndReason, Grant, GrantState } from '../../domain/grant';
import type { Err, Result } from '../../domain/result';
import type { DueQuery } from './due-query';

export type NewGrant = Pick<
  Grant,
  'id' | 'requestId' | 'resourceId' | 'requesterId' | 'startsAt' | 'expiresAt'
> &
  Partial<Pick<Grant, 'breakGlass'>>;

/** Grants. Each state change is a compare-and-set on the expected current states. */
export interface GrantStore {
  /** Inserts a grant in state `opening`. */
  insert(grant: NewGrant): Promise<Grant>;
  get(id: string): Promise<Grant | undefined>;
  /** The grants of these ids that exist, in id order (reconciliation reads a group's grants at once). */
  getAll(ids: readonly string[]): Promise<Grant[]>;
  byRequest(requestId: string): Promise<Grant | undefined>;
  /** Moves the grant to `to` if it is in one of `from`; `patch` sets end fields. */
  move(
    id: string,
    from: readonly GrantState[],
    to: GrantState,
    patch?: { endedAt?: Date; endReason?: EndReason; endedBy?: string },
  ): Promise<Result<Grant, Err<'STATE_CHANGED', { readonly state: GrantState }>>>;
  /**
   * `move` for many grants in one statement (a batch of closes): moves each of `ids` that is in one of
   * `from` to `to`, and returns the grants it moved, in no particular order. Ids not found or in
   * another state are left as they are and not returned.
   */
  moveAll(
    ids: readonly string[],
    from: readonly GrantState[],
    to: GrantState,
    patch?: { endedAt?: Date; endReason?: EndReason; endedBy?: string },
  ): Promise<Grant[]>;
  /** Grants in the given states, earliest expiry first; `requesterId` narrows to one person's. */
  list(states: readonly GrantState[], requesterId?: string): Promise<Grant[]>;
  /**
   * Grants due to be closed: `active` and `opening` ones at `expires_at`; a `closing` one (a close that
   * has not finished) at once, or at its `retry_at` after a failed attempt.
   */
  readonly closes: DueQuery<Grant>;
  /**
   * Records a failed close attempt on a `closing` grant: counts it and sets when to try again.
   * Returns the grant as it is now (`undefined` if it is no longer closing).
   */
  closeFailed(id: string, retryAt: Date): Promise<Grant | undefined>;
  /** Moves an active grant's planned end (an approved extension) and clears its warning. */
  extend(id: string, expiresAt: Date): Promise<Result<Grant, Err<'STATE_CHANGED'>>>;
  /** Active, unwarned grants long enough to deserve a warning, each due `warnBeforeMs` before its end. */
  warnings(warnBeforeMs: number): DueQuery<Grant>;
  /** Marks the grant warned for its current end; false when it already was (another replica got there first). */
  markWarned(id: string, at: Date): Promise<boolean>;
  /** Records the approver's review of a break-glass grant; refused if already reviewed. */
  markReviewed(id: string, by: string, at: Date): Promise<Result<Grant, Err<'ALREADY_REVIEWED'>>>;
  /** Break-glass grants nobody has reviewed yet, oldest first. */
  unreviewedBreakGlass(): Promise<Grant[]>;
}
