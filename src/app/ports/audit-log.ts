import type { AuditHead } from '../audit-ports';

/** An append-only audit trail: every transition, with actor, time and details. */
export type AuditEvent = {
  readonly at: Date;
  readonly actor: string;
  readonly type: string;
  readonly requestId?: string | undefined;
  readonly grantId?: string | undefined;
  readonly details?: Record<string, unknown> | undefined;
};

export interface AuditLog {
  append(event: AuditEvent): void;
  /** Events in the order they were appended, optionally for one request. */
  list(filter?: { requestId?: string }): AuditEvent[];
  /** The log's head as it stands: the last event's `seq` and seal (0 and 64 zeros when empty). */
  head(): AuditHead;
  /** The last event of this type, if any (when the head was last published, …). */
  lastOfType(type: string): AuditEvent | undefined;
}
