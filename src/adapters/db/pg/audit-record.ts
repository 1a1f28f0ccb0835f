import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { AuditExportRow, AuditExportSource, AuditKeyring, ExportWindow } from '../../../app/audit-ports';
import type { AuditRecord, AuditRecordSource } from '../../../app/audit-record';
import { type AuditLogReader, chainStatus, recordReading, toExportRows } from '../audit-reading';
import { type AuditStartup, type AuditStartupArgs, verifyAtStart } from '../audit-startup';
import type { PgDb } from '../open-pg';
import { approvals, auditEvents, grants, requests, roleSessions } from '../pg-schema';
import {
  breakAcceptanceRows,
  checkPostgresHead,
  type PgExecutor,
  postgresKeyIdsInLog,
  READ_SNAPSHOT,
  walkPostgresChain,
  withPgErrors,
} from './audit-log';

/**
 * The audit record on PostgreSQL: the same export rows, record and start-up check as on SQLite
 * (audit-reading.ts, audit-startup.ts), over PostgreSQL's queries. A whole reading — the walk and the
 * tables — is one read-only snapshot, so requests made or decided by any replica meanwhile are on
 * neither side or on both.
 */

/** Request ids in byte order, as SQLite compares text: ties on `created_at` come out alike on both engines. */
const byteOrder = sql`${requests.id} COLLATE "C"`;

/** The export rows from the tables (see `createSqliteAuditExportSource`), as `db` sees them. */
async function exportRows(db: PgExecutor, window?: ExportWindow): Promise<AuditExportRow[]> {
  const inWindow =
    window === undefined
      ? undefined
      : and(gte(requests.createdAt, window.since.getTime()), lt(requests.createdAt, window.until.getTime()));
  const extended = alias(grants, 'extended');
  const origin = alias(requests, 'origin');
  const extendedRole = alias(roleSessions, 'extended_role');
  // When each grant's access began: its first `grant.opened` event (bigint: read back as a number).
  const opened = await db
    .select({ grantId: auditEvents.grantId, at: sql<number>`min(${auditEvents.at})`.mapWith(Number) })
    .from(auditEvents)
    .where(eq(auditEvents.type, 'grant.opened'))
    .groupBy(auditEvents.grantId);
  const found = await db
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
    .orderBy(asc(requests.createdAt), asc(byteOrder));
  const votes = await db
    .select({ requestId: approvals.requestId, approverId: approvals.approverId })
    .from(approvals)
    .innerJoin(requests, eq(requests.id, approvals.requestId))
    .where(inWindow)
    .orderBy(asc(approvals.id));
  return toExportRows(found, votes, opened);
}

/** What the tables say, on PostgreSQL (`AuditExportSource`). */
export function createPostgresAuditExportSource(db: () => PgExecutor): AuditExportSource {
  return { rows: (window) => withPgErrors('auditExport.rows', () => exportRows(db(), window)) };
}

/**
 * The whole record in one read-only snapshot: walks and verifies the chain, projecting every event as
 * it goes, then reads the tables and compares them.
 */
export function readPostgresAuditRecord(db: PgDb, keys?: AuditKeyring): Promise<AuditRecord> {
  return withPgErrors('auditRecord.read', () =>
    db.transaction((tx) => readPostgresAuditRecordIn(tx, keys), READ_SNAPSHOT),
  );
}

/**
 * The same reading as `db` sees the database: inside a transaction of the caller's own (a copy checks
 * what it wrote before it commits, see db-copy.ts), which must be one snapshot for the reading to be one.
 */
export async function readPostgresAuditRecordIn(db: PgExecutor, keys?: AuditKeyring): Promise<AuditRecord> {
  const reading = recordReading(keys);
  const report = await walkPostgresChain(db, reading.options);
  const tables = await exportRows(db);
  return reading.record(report, tables, await lastEventIn(db));
}

/** The last event's seq and stored seal: what names a broken log. */
async function lastEventIn(db: PgExecutor): Promise<{ seq: number; hash: string | null } | undefined> {
  const [last] = await db
    .select({ seq: auditEvents.seq, hash: auditEvents.hash })
    .from(auditEvents)
    .orderBy(desc(auditEvents.seq))
    .limit(1);
  return last;
}

/** `AuditRecordSource` for the running bot on PostgreSQL. */
export function createPostgresAuditRecordSource(db: PgDb, keys?: AuditKeyring): AuditRecordSource {
  return { read: () => readPostgresAuditRecord(db, keys) };
}

/** The audit log of a PostgreSQL database as the CLI and start-up read it. */
export function createPostgresAuditLogReader(db: PgDb): AuditLogReader {
  return {
    keyIds: () => postgresKeyIdsInLog(db),
    read: (keys) => readPostgresAuditRecord(db, keys),
    verifyChain: (keys) =>
      withPgErrors('auditRecord.verifyChain', () =>
        db.transaction(async (tx) => {
          const report = await walkPostgresChain(tx, { keys });
          return chainStatus(report, await lastEventIn(tx));
        }, READ_SNAPSHOT),
      ),
    checkHead: (head) => checkPostgresHead(db, head),
    breakAcceptances: () => withPgErrors('audit.breakAcceptances', () => breakAcceptanceRows(db)),
  };
}

/** `verifyAuditLogAtStart` for a PostgreSQL database: the same checks, refusals and acceptance. */
export function verifyPostgresAuditLogAtStart(
  args: AuditStartupArgs & { readonly db: PgDb },
): Promise<AuditStartup> {
  return verifyAtStart(createPostgresAuditLogReader(args.db), args);
}
