import { asc, eq } from 'drizzle-orm';
import type { AuditEvent, AuditLog } from '../../app/ports';
import { DbError, withDbErrors } from './db-error';
import type { Db } from './open-db';
import { auditEvents } from './schema';

type AuditRow = typeof auditEvents.$inferSelect;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseDetails(row: AuditRow): Record<string, unknown> | undefined {
  if (row.details === null) return undefined;
  const parsed: unknown = JSON.parse(row.details);
  if (!isRecord(parsed)) {
    throw new DbError(
      'audit.list',
      'INVALID_ROW',
      `audit event ${row.seq} has details that are not an object`,
    );
  }
  return parsed;
}

const toEvent = (row: AuditRow): AuditEvent => {
  const details = parseDetails(row);
  return {
    at: new Date(row.at),
    actor: row.actor,
    type: row.type,
    ...(row.requestId !== null ? { requestId: row.requestId } : {}),
    ...(row.grantId !== null ? { grantId: row.grantId } : {}),
    ...(details !== undefined ? { details } : {}),
  };
};

/**
 * `AuditLog` on SQLite. Append-only by construction: there is no update or delete here, and the
 * migration's triggers refuse them from anyone else. `details` is stored as JSON, so Dates inside it
 * come back as ISO strings.
 */
export function createSqliteAuditLog(db: Db): AuditLog {
  return {
    append: (event) =>
      withDbErrors('audit.append', () => {
        db.insert(auditEvents)
          .values({
            at: event.at.getTime(),
            actor: event.actor,
            type: event.type,
            requestId: event.requestId ?? null,
            grantId: event.grantId ?? null,
            details: event.details === undefined ? null : JSON.stringify(event.details),
          })
          .run();
      }),

    list: (filter = {}) =>
      withDbErrors('audit.list', () =>
        db
          .select()
          .from(auditEvents)
          .where(filter.requestId === undefined ? undefined : eq(auditEvents.requestId, filter.requestId))
          .orderBy(asc(auditEvents.seq))
          .all()
          .map(toEvent),
      ),
  };
}
