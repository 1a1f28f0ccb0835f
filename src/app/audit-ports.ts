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
  /**
   * Fields shown from the tables (or the policy) because the chain does not record them — events
   * written before hallpass put them in the chain: unproven. `*`: the chain has no such request at all.
   */
  readonly notInChain?: readonly string[] | undefined;
  /** Fields the tables say differently from the chain (the row shows the chain's). `*`: no such row in the tables. */
  readonly tableDiffers?: readonly string[] | undefined;
};

/** A half-open time window `[since, until)`. */
export type ExportWindow = { readonly since: Date; readonly until: Date };

/**
 * Reads what the requests / approvals / grants tables say, in the export's terms. The export itself is
 * derived from the hash-chained events (src/app/audit-record.ts); these rows are what it is checked
 * against.
 */
export interface AuditExportSource {
  /** Every request created in `[since, until)` (every request, without a window), oldest first, each with its grant if any. */
  rows(window?: ExportWindow): Promise<AuditExportRow[]>;
}

// --- The keyed chain -------------------------------------------------------------------

/**
 * One key of the audit chain's HMAC-SHA-256. `id` is recorded on every event it seals (so older keys can
 * still verify older events after a rotation); `secret` never reaches the database, the logs or Slack.
 */
export type AuditKey = { readonly id: string; readonly secret: Uint8Array };

/** The keys a process knows: `current` seals new events; `old` ones only verify. Both may be absent (unkeyed). */
export type AuditKeyring = {
  readonly current?: AuditKey | undefined;
  readonly old?: readonly AuditKey[] | undefined;
};

/** A published head: the log had `count` events (the last one's `seq`) and its last seal was `hash`. */
export type AuditHead = {
  readonly count: number;
  readonly hash: string;
  /** The key that sealed that event, when the log says (absent: unkeyed, or not read). */
  readonly keyId?: string | undefined;
};

/** An audit event as the chain holds it, with its place in the log. */
export type ChainEvent = {
  readonly seq: number;
  readonly at: Date;
  readonly actor: string;
  readonly type: string;
  readonly requestId?: string | undefined;
  readonly grantId?: string | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
};

/** A break found in the chain and accepted on purpose (`HALLPASS_AUDIT_ACCEPT_BROKEN`), on the record. */
export type AcceptedBreak = {
  /** The break as reported: the first event whose link does not hold. */
  readonly seq: number;
  readonly reason: string;
  readonly message: string;
  /** The `audit.break_accepted` event that accepted it, and when. */
  readonly acceptedBySeq: number;
  readonly acceptedAt: Date;
};

/** What a walk of the chain found, in terms the use cases and the CLI can show. */
export type ChainStatus =
  | {
      readonly ok: true;
      /** Events checked. */
      readonly events: number;
      /** The head to publish or compare: the last event's seq and seal. */
      readonly head: AuditHead;
      /** Events sealed with plain SHA-256 (or not sealed at all): proven against accidents only. */
      readonly unkeyed: number;
      /** Key ids that sealed events, in the order they first appear. */
      readonly keyIds: readonly string[];
      readonly accepted: readonly AcceptedBreak[];
    }
  | {
      readonly ok: false;
      readonly firstBrokenSeq: number;
      readonly reason: string;
      readonly message: string;
      /** The event where the walk found the break, and its stored seal (what an acceptance names). */
      readonly detectedAtSeq: number;
      readonly detectedHash: string | null;
      /** The last event's seq and stored seal, unproven (so a broken log can still be named). */
      readonly head: AuditHead;
    };

/** One exported field of one request on which the tables and the chain disagree. */
export type TableMismatch =
  | {
      readonly kind: 'field';
      readonly requestId: string;
      readonly grantId?: string | undefined;
      /** The export column (`reason`, `ended_at`, …). */
      readonly field: string;
      /** Where the bot keeps it (`requests.reason`). */
      readonly column: string;
      /** The value in the tables and in the chain, as the export writes them (JSON). */
      readonly table: string;
      readonly chain: string;
    }
  /** The chain recorded a request the tables no longer hold (a deleted row). */
  | { readonly kind: 'not-in-tables'; readonly requestId: string }
  /** The tables hold a request the chain never recorded (an inserted row). */
  | { readonly kind: 'not-in-chain'; readonly requestId: string };

/** The record as the export, `verify` and search read it: the chain checked, every request derived from it. */
export type AuditRecord = {
  readonly chain: ChainStatus;
  /** Every request, oldest first: from the chain, checked against the tables (see `checkAgainstTables`). */
  readonly rows: readonly AuditExportRow[];
  readonly mismatches: readonly TableMismatch[];
};

/** Reads the whole record: walks (and verifies) the chain once, projects it, reads the tables, compares. */
export interface AuditRecordSource {
  read(): Promise<AuditRecord>;
}
