import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { alias } from 'drizzle-orm/sqlite-core';
import type { AuditExportRow, AuditExportSource, ResourceKind } from '../../app/audit-ports';
import { DbError, withDbErrors } from './db-error';
import { type Db, type DbHandle, MIGRATIONS_FOLDER } from './open-db';
import * as schema from './schema';
import { approvals, auditEvents, grants, requests, roleSessions } from './schema';

const date = (ms: number | null | undefined): Date | undefined =>
  ms === null || ms === undefined ? undefined : new Date(ms);
const text = (s: string | null | undefined): string | undefined => s ?? undefined;

/**
 * `AuditExportSource` on SQLite: one query for the requests of the window with their grant, role
 * session and — for an extension — the grant it extends; one for their approvals.
 *
 * Where each field comes from: `address` is the request's `source_cidr` (an extension's: that of the
 * request it extends); `role_arn` the grant's `role_sessions` row; `kind` follows from which of the
 * two the database holds, and is left blank when neither (a role request that never opened) — the
 * policy may fill it in, the database does not guess. `approved_at` is the grant's `starts_at` (the
 * clock starts at approval), or the request's `decided_at` while it is `approved` without a grant of
 * its own (an extension); never for break-glass, which nobody approved. `started_at` is the time of
 * the grant's `grant.opened` audit event: the moment AWS access began.
 */
export function createSqliteAuditExportSource(db: Db): AuditExportSource {
  return {
    rows: ({ since, until }) =>
      withDbErrors('auditExport.rows', () => {
        const inWindow = and(
          gte(requests.createdAt, since.getTime()),
          lt(requests.createdAt, until.getTime()),
        );
        const extended = alias(grants, 'extended');
        const origin = alias(requests, 'origin');
        const extendedRole = alias(roleSessions, 'extended_role');
        const startedAt = sql<
          number | null
        >`(SELECT min(${auditEvents.at}) FROM ${auditEvents} WHERE ${auditEvents.grantId} = ${grants.id} AND ${auditEvents.type} = 'grant.opened')`;

        const found = db
          .select({
            request: requests,
            grant: grants,
            roleArn: roleSessions.roleArn,
            originCidr: origin.sourceCidr,
            extendedRoleArn: extendedRole.roleArn,
            startedAt,
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

        const votes = new Map<string, string[]>();
        for (const v of db
          .select({ requestId: approvals.requestId, approverId: approvals.approverId })
          .from(approvals)
          .innerJoin(requests, eq(requests.id, approvals.requestId))
          .where(inWindow)
          .orderBy(asc(approvals.id))
          .all()) {
          votes.set(v.requestId, [...(votes.get(v.requestId) ?? []), v.approverId]);
        }

        return found.map(({ request: r, grant: g, ...f }): AuditExportRow => {
          const address = text(r.sourceCidr ?? f.originCidr);
          const roleArn = text(f.roleArn ?? f.extendedRoleArn);
          const resourceKind: ResourceKind | undefined =
            address !== undefined ? 'security-group' : roleArn !== undefined ? 'aws-role' : undefined;
          const breakGlass = r.breakGlass || (g?.breakGlass ?? false);
          const approvedAt = breakGlass
            ? undefined
            : g !== null
              ? new Date(g.startsAt)
              : r.state === 'approved'
                ? date(r.decidedAt)
                : undefined;
          return {
            requestId: r.id,
            requestKind: r.kind,
            extendsGrantId: text(r.extendsGrantId),
            grantId: g?.id,
            resourceId: r.resourceId,
            resourceKind,
            requesterId: r.requesterId,
            approvers: votes.get(r.id) ?? [],
            decidedBy: text(r.decidedBy),
            address,
            roleArn,
            reason: r.reason,
            decisionNote: text(r.note),
            state: r.state,
            grantState: g?.state,
            requestedAt: new Date(r.createdAt),
            approvedAt,
            startedAt: date(f.startedAt),
            expiresAt: date(g?.expiresAt),
            endedAt: date(g?.endedAt),
            endReason: g?.endReason ?? undefined,
            endedBy: text(g?.endedBy),
            durationMs: r.durationMs,
            breakGlass,
            reviewedBy: text(g?.reviewedBy),
            reviewedAt: date(g?.reviewedAt),
          };
        });
      }),
  };
}

/**
 * Opens an existing database for reading only (the audit CLI): never creates a file, never migrates,
 * and `query_only` makes any write fail. Migrating is the bot's job — a newer CLI migrating under an
 * older running bot could break it. Throws `DbError` `NOT_FOUND` for a missing file and
 * `SCHEMA_OUTDATED` for a database whose migrations lag behind this code (start hallpass once).
 */
export function openDatabaseReadOnly(file: string): DbHandle {
  if (!existsSync(file)) throw new DbError('db.openReadOnly', 'NOT_FOUND', `no database at ${file}`);
  const sqlite = withDbErrors('db.openReadOnly', () => new Database(file, { fileMustExist: true }));
  try {
    withDbErrors('db.openReadOnly', () => {
      sqlite.pragma('query_only = ON');
      sqlite.pragma('busy_timeout = 5000');
    });
    const latest = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).reduce(
      (max, m) => Math.max(max, m.folderMillis),
      0,
    );
    const applied = withDbErrors('db.openReadOnly', () => {
      const table = sqlite
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
        .get();
      if (table === undefined) return undefined;
      const row: unknown = sqlite.prepare('SELECT max(created_at) AS at FROM __drizzle_migrations').get();
      const at = typeof row === 'object' && row !== null && 'at' in row ? Number(row.at) : Number.NaN;
      return Number.isFinite(at) ? at : undefined;
    });
    if (applied === undefined || applied < latest) {
      throw new DbError(
        'db.openReadOnly',
        'SCHEMA_OUTDATED',
        applied === undefined
          ? `${file} is not a hallpass database (it has no migrations table)`
          : `${file} has not been migrated to this version of hallpass: start hallpass once to migrate it`,
      );
    }
    return {
      db: drizzle({ client: sqlite, schema }),
      sqlite,
      close: () => {
        if (sqlite.open) sqlite.close();
      },
    };
  } catch (e) {
    sqlite.close();
    throw e;
  }
}
