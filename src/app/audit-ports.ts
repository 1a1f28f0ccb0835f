import type { EndReason, GrantState } from '../domain/grant';
import type { RequestKind, RequestState } from '../domain/request';

/** What a resource opens. */
export type ResourceKind = 'security-group' | 'aws-role';

/**
 * One request as the audit export reports it, with its grant if it got one. Facts from the
 * database only: where the database cannot say something (the kind or role of a request that never
 * opened), the field is absent and the policy may fill it in (`withPolicyFallback`).
 */
export type AuditExportRow = {
  /** `req_…` */
  readonly requestId: string;
  /** `access`, or `extension` (more time on `extendsGrantId`; then `durationMs` is the extra time). */
  readonly requestKind: RequestKind;
  readonly extendsGrantId?: string | undefined;
  /** The grant this request opened, if any (an extension opens none: see `extendsGrantId`). */
  readonly grantId?: string | undefined;
  readonly resourceId: string;
  readonly resourceKind?: ResourceKind | undefined;
  readonly requesterId: string;
  /** Everyone who approved, in the order the votes were recorded. */
  readonly approvers: readonly string[];
  /** Who moved the request out of `pending`: the last approver, the denier, or `hallpass` (auto-approval, timeout). */
  readonly decidedBy?: string | undefined;
  /** Source CIDR of a security-group request. */
  readonly address?: string | undefined;
  /** Role of an `aws-role` request. */
  readonly roleArn?: string | undefined;
  readonly reason: string;
  /** The deny reason, or the failure in plain words. */
  readonly decisionNote?: string | undefined;
  readonly state: RequestState;
  readonly grantState?: GrantState | undefined;
  readonly requestedAt: Date;
  /** When the approval that opened the grant was given (absent for break-glass: nobody approved). */
  readonly approvedAt?: Date | undefined;
  /** When AWS access actually began (the rule opened, the session issued). */
  readonly startedAt?: Date | undefined;
  /** Planned end (after any extension). */
  readonly expiresAt?: Date | undefined;
  /** Actual end: when AWS confirmed the close. */
  readonly endedAt?: Date | undefined;
  readonly endReason?: EndReason | undefined;
  readonly endedBy?: string | undefined;
  readonly durationMs: number;
  /** Opened without approval; `reviewedBy` / `reviewedAt` stay empty until an approver reviews it. */
  readonly breakGlass: boolean;
  readonly reviewedBy?: string | undefined;
  readonly reviewedAt?: Date | undefined;
};

/** A half-open time window `[since, until)`. */
export type ExportWindow = { readonly since: Date; readonly until: Date };

/** Reads what the audit export reports. */
export interface AuditExportSource {
  /** Every request created in `[since, until)`, oldest first, each with its grant if any. */
  rows(window: ExportWindow): AuditExportRow[];
}
