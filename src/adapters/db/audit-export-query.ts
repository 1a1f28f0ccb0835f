import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import type { AuditExportRow, AuditExportSource, AuditKeyring, ExportWindow } from '../../app/audit-ports';
import type { AuditRecord, AuditRecordSource } from '../../app/audit-record';
import {
  breakAcceptanceRows,
  checkHead,
  keyIdsInLog,
  verifyAuditChain,
  verifyAuditChainAsync,
} from './audit-log';
import { type AuditLogReader, chainStatus, recordReading, toExportRows } from './audit-reading';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { approvals, auditEvents, grants, requests, roleSessions } from './schema';

/**
 * What the *tables* say (`AuditExportSource`) on SQLite — the working state the chain is checked
 * against (see `createSqliteAuditRecordSource`), never exported as it is: one query for the requests
 * of the window with their grant, role session and — for an extension — the grant it extends; one for
 * their approvals; one for when each grant opened. How the rows are derived: `toExportRows`.
 */
export function createSqliteAuditExportSource(db: Db): AuditExportSource {
  return { rows: async (window) => exportRows(db, window) };
}

/** The export rows from the tables, synchronously (inside a walk's read transaction). */
function exportRows(db: Db, window?: ExportWindow): AuditExportRow[] {
  return withDbErrors('auditExport.rows', () => {
    const inWindow =
      window === undefined
        ? undefined
        : and(
            gte(requests.createdAt, window.since.getTime()),
            lt(requests.createdAt, window.until.getTime()),
          );
    const extended = alias(grants, 'extended');
    const origin = alias(requests, 'origin');
    const extendedRole = alias(roleSessions, 'extended_role');
    // When each grant's access began: its first `grant.opened` event, read once for all grants (the
    // type index), not once per grant.
    const opened = db
      .select({ grantId: auditEvents.grantId, at: sql<number>`min(${auditEvents.at})` })
      .from(auditEvents)
      .where(eq(auditEvents.type, 'grant.opened'))
      .groupBy(auditEvents.grantId)
      .all();
    const found = db
      .select({
        request: requests,
        grant: grants,
        roleArn: roleSessions.roleArn,
        originCidr: origin.sourceCidr,
        extendedRoleArn: extendedRole.roleArn,
      })
      .from(requests)
      .leftJoin(grants, eq(grants.requestId, requests.id))
      .leftJoin(roleSessions, eq(roleSessions.grantId, grants.id))
      .leftJoin(extended, eq(extended.id, requests.extendsGrantId))
      .leftJoin(origin, eq(origin.id, extended.requestId))
      .leftJoin(extendedRole, eq(extendedRole.grantId, extended.id))
      .where(inWindow)
      .orderBy(asc(requests.createdAt), asc(requests.id))
      .all();
    const votes = db
      .select({ requestId: approvals.requestId, approverId: approvals.approverId })
      .from(approvals)
      .innerJoin(requests, eq(requests.id, approvals.requestId))
      .where(inWindow)
      .orderBy(asc(approvals.id))
      .all();
    return toExportRows(found, votes, opened);
  });
}

/** The last event's seq and stored seal: what names a broken log. */
const lastEvent = (db: Db) =>
  withDbErrors('auditRecord.head', () =>
    db
      .select({ seq: auditEvents.seq, hash: auditEvents.hash })
      .from(auditEvents)
      .orderBy(desc(auditEvents.seq))
      .limit(1)
      .get(),
  );

/**
 * The whole record in one pass (the CLI, start-up): walks and verifies the chain, projecting every
 * event as it goes, then — in the walk's read transaction — reads the tables and compares them.
 * Synchronous, over one snapshot of the log.
 */
export function readAuditRecord(db: Db, keys?: AuditKeyring): AuditRecord {
  const reading = recordReading(keys);
  let tables: AuditExportRow[] = [];
  const report = verifyAuditChain(db, {
    ...reading.options,
    atEnd: () => {
      tables = exportRows(db);
    },
  });
  return reading.record(report, tables, lastEvent(db));
}

/**
 * `AuditRecordSource` for the running bot: the same, but the chain is read a page at a time between
 * turns of the event loop, so a long log never holds up a close.
 */
export function createSqliteAuditRecordSource(db: Db, keys?: AuditKeyring): AuditRecordSource {
  return {
    read: async () => {
      const reading = recordReading(keys);
      let tables: AuditExportRow[] = [];
      const report = await verifyAuditChainAsync(db, {
        ...reading.options,
        atEnd: () => {
          tables = exportRows(db);
        },
      });
      return reading.record(report, tables, lastEvent(db));
    },
  };
}

/** The audit log of a SQLite database as the CLI and start-up read it. */
export function createSqliteAuditLogReader(db: Db): AuditLogReader {
  return {
    keyIds: async () => keyIdsInLog(db),
    read: async (keys) => readAuditRecord(db, keys),
    verifyChain: async (keys) => {
      const report = verifyAuditChain(db, { keys });
      return chainStatus(report, lastEvent(db));
    },
    checkHead: async (head) => checkHead(db, head),
    breakAcceptances: async () => withDbErrors('audit.breakAcceptances', () => breakAcceptanceRows(db)),
  };
}
