import type { AccessRequest, Approval, MessageRef, RequestState } from '../../domain/request';
import type { Err, Result } from '../../domain/result';
import type { DueQuery } from './due-query';

export type NewRequest = Pick<
  AccessRequest,
  'id' | 'resourceId' | 'requesterId' | 'durationMs' | 'source' | 'reason' | 'createdAt' | 'approvalDeadline'
> &
  Partial<Pick<AccessRequest, 'kind' | 'extendsGrantId' | 'breakGlass' | 'resourceAtRequest'>>;

/** A request that has already left `pending` (its state now). */
export type NotPending = Err<'NOT_PENDING', { readonly state: RequestState }>;
/** A second vote by the same approver. */
export type AlreadyApproved = Err<'ALREADY_APPROVED', { readonly approverId: string }>;

/** Requests and their approvals. Every state change is a compare-and-set on `pending`. */
export interface RequestStore {
  insert(request: NewRequest): Promise<AccessRequest>;
  get(id: string): Promise<AccessRequest | undefined>;
  /** The requests of these ids that exist, in no particular order (a batch of closes). */
  getAll(ids: readonly string[]): Promise<AccessRequest[]>;
  attachMessage(id: string, ref: MessageRef): Promise<void>;
  /** Records one approver's vote on a pending request; a second vote by the same person is refused. */
  addApproval(
    id: string,
    approverId: string,
    at: Date,
  ): Promise<Result<readonly Approval[], NotPending | AlreadyApproved>>;
  approvals(id: string): Promise<Approval[]>;
  /**
   * Takes back a vote on a pending request that no longer counts (its approver is no longer one, see
   * `approveRequest`), so the card shows only votes that count and the approver may vote again once
   * they are one again. Nothing on a decided request.
   */
  withdrawApproval(id: string, approverId: string): Promise<void>;
  /** Moves a request from `pending` to `to`, only if it is still pending. */
  decide(
    id: string,
    to: Exclude<RequestState, 'pending' | 'failed'>,
    by: string,
    at: Date,
    note?: string,
  ): Promise<Result<AccessRequest, NotPending>>;
  /** Marks an approved (or pending) request failed, with the failure in plain words. */
  markFailed(id: string, note: string, at: Date): Promise<AccessRequest>;
  /** Pending requests, oldest first; `requesterId` narrows to one person's. */
  listPending(requesterId?: string): Promise<AccessRequest[]>;
  /** Pending requests, each due to time out at its approval deadline. */
  readonly timeouts: DueQuery<AccessRequest>;
  /** Pending requests whose approvers were not reminded yet, each due at half its approval time. */
  readonly reminders: DueQuery<AccessRequest>;
  /** Marks the request's approvers reminded; false when they already were (another replica got there first). */
  markReminded(id: string, at: Date): Promise<boolean>;
  /** A pending extension request for this grant, if any. */
  pendingExtension(grantId: string): Promise<AccessRequest | undefined>;
}
