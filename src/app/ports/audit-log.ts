import type { AuditHead } from '../audit-ports';

/** Every type of event hallpass appends to the audit log. */
export const AUDIT_EVENT_TYPES = [
  'request.submitted',
  'request.approval_recorded',
  'request.approval_withdrawn',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.timed_out',
  'request.failed',
  'grant.opened',
  'grant.extended',
  'grant.closing',
  'grant.closed',
  'grant.failed',
  'grant.recovered',
  'grant.reviewed',
  'grant.policy_changed',
  /** Access followed a person's identity in Slack (deactivated, left a group): what it ended, and why. */
  'identity.changed',
  'grant.deny_removed',
  'grant.connections_cut',
  'grant.connections_not_cut',
  'grant.connections_cut_lifted',
  'reconcile.orphan_revoked',
  'reconcile.drift',
  'audit.exported',
  'audit.searched',
  'audit.head_published',
  'audit.break_accepted',
  'token.created',
  'token.rotated',
  'token.revoked',
  'lease.lapsed',
  'credentials.issued',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** An append-only audit trail: every transition, with actor, time and details. */
export type AuditEvent = {
  readonly at: Date;
  readonly actor: string;
  readonly type: AuditEventType;
  readonly requestId?: string | undefined;
  readonly grantId?: string | undefined;
  readonly details?: Record<string, unknown> | undefined;
};

/**
 * An event as read back: the column is text, and a row written by another version of hallpass may
 * carry a type this one does not append, so a read event's type is any string.
 */
export type RecordedAuditEvent = Omit<AuditEvent, 'type'> & { readonly type: string };

export interface AuditLog {
  append(event: AuditEvent): Promise<void>;
  /**
   * Appends these events in this order, as consecutive links of the chain (one lock and one read of
   * the last event for all of them, not one per event): what `append` in a loop would record.
   */
  appendAll(events: readonly AuditEvent[]): Promise<void>;
  /** Events in the order they were appended, optionally for one request. */
  list(filter?: { requestId?: string }): Promise<RecordedAuditEvent[]>;
  /** The log's head as it stands: the last event's `seq` and seal (0 and 64 zeros when empty). */
  head(): Promise<AuditHead>;
  /** The last event of this type, if any (when the head was last published, …). */
  lastOfType(type: AuditEventType): Promise<AuditEvent | undefined>;
}
