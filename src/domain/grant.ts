import { addMilliseconds } from 'date-fns/addMilliseconds';

/**
 * What was opened in AWS for an approved request. States are written *before* the AWS call they
 * announce (`opening`, `closing`), so a crash leaves a record start-up can finish.
 */
export type GrantState = 'opening' | 'active' | 'closing' | 'closed' | 'failed';

export type EndReason = 'expired' | 'revoked' | 'done' | 'failed';

export type Grant = {
  /** `grt_…` */
  readonly id: string;
  readonly requestId: string;
  readonly resourceId: string;
  readonly requesterId: string;
  readonly state: GrantState;
  /** Approval time: the clock starts at approval, not at the request. */
  readonly startsAt: Date;
  /** Planned end. */
  readonly expiresAt: Date;
  /** Actual end: when AWS confirmed the close. */
  readonly endedAt?: Date | undefined;
  readonly endReason?: EndReason | undefined;
  readonly endedBy?: string | undefined;
  /** When the requester was warned of the coming end (cleared by an extension). */
  readonly warnedAt?: Date | undefined;
  /** Opened by break-glass, without approval. */
  readonly breakGlass: boolean;
  /** The approver who reviewed a break-glass grant afterwards, and when. */
  readonly reviewedBy?: string | undefined;
  readonly reviewedAt?: Date | undefined;
  /** Failed attempts at closing it so far. */
  readonly closeAttempts: number;
  /** When a close that failed is tried again (a `closing` grant without it is due at once). */
  readonly retryAt?: Date | undefined;
};

/** Whether a grant of this length gets a warning `warnBeforeMs` before its end: never for grants shorter than twice that. */
export const deservesWarning = (
  grant: Pick<Grant, 'startsAt' | 'expiresAt'>,
  warnBeforeMs: number,
): boolean => warnBeforeMs > 0 && grant.expiresAt.getTime() - grant.startsAt.getTime() >= 2 * warnBeforeMs;

/** `expires_at` = approval time + duration. */
export const plannedEnd = (approvedAt: Date, durationMs: number): Date =>
  addMilliseconds(approvedAt, durationMs);

/** Live grants hold AWS access (or are about to): they keep shared rules open. */
export const isLive = (state: GrantState): boolean =>
  state === 'opening' || state === 'active' || state === 'closing';
