import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import type {
  AuditExportRow,
  AuditExportSource,
  AuditKeyring,
  ChainStatus,
  ResourceKind,
} from '../../app/audit-ports';
import {
  type AuditRecord,
  type AuditRecordSource,
  ChainProjection,
  checkAgainstTables,
} from '../../app/audit-record';
import {
  type AuditChainReport,
  GENESIS_HASH,
  type VerifyOptions,
  verifyAuditChain,
  verifyAuditChainAsync,
} from './audit-log';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { approvals, auditEvents, grants, requests, roleSessions } from './schema';

const date = (ms: number | null | undefined): Date | undefined =>
  ms === null || ms === undefined ? undefined : new Date(ms);
const text = (s: string | null | undefined): string | undefined => s ?? undefined;

/**
 * What the *tables* say (`AuditExportSource`) on SQLite — the working state the chain is checked
 * against (see `createSqliteAuditRecordSource`), never exported as it is: one query for the requests of the window with their grant, role
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
    rows: async (window) =>
      withDbErrors('auditExport.rows', () => {
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
        const started = new Map<string, number>();
        for (const e of db
          .select({ grantId: auditEvents.grantId, at: sql<number>`min(${auditEvents.at})` })
          .from(auditEvents)
          .where(eq(auditEvents.type, 'grant.opened'))
          .groupBy(auditEvents.grantId)
          .all()) {
          if (e.grantId !== null) started.set(e.grantId, e.at);
        }

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
            startedAt: date(g === null ? undefined : started.get(g.id)),
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

/** A chain report as the use cases see it, with a broken log's stored head so it can still be named. */
function chainStatus(db: Db, report: AuditChainReport): ChainStatus {
  if (report.ok) {
    return {
      ok: true,
      events: report.events,
      head: { count: report.lastSeq, hash: report.head },
      unkeyed: report.unkeyed,
      keyIds: report.keyIds,
      accepted: report.accepted,
    };
  }
  const last = withDbErrors('auditRecord.head', () =>
    db
      .select({ seq: auditEvents.seq, hash: auditEvents.hash })
      .from(auditEvents)
      .orderBy(desc(auditEvents.seq))
      .limit(1)
      .get(),
  );
  return {
    ok: false,
    firstBrokenSeq: report.firstBrokenSeq,
    reason: report.reason,
    message: report.message,
    detectedAtSeq: report.detectedAtSeq,
    detectedHash: report.detectedHash,
    head: { count: last?.seq ?? 0, hash: last?.hash ?? GENESIS_HASH },
  };
}

/**
 * One reading of the record: the walk's options, which project every event as it goes and read the
 * tables once it has reached the last event (in the walk's read transaction, so a request made or
 * decided meanwhile is on both sides), and the record once the walk has run.
 */
function recordReading(db: Db, keys: AuditKeyring | undefined) {
  const projection = new ChainProjection();
  let tables: AuditExportRow[] = [];
  const options: VerifyOptions = {
    keys,
    onEvent: (e) => projection.add(e),
    atEnd: async () => {
      tables = await createSqliteAuditExportSource(db).rows();
    },
  };
  const record = (report: AuditChainReport): AuditRecord => {
    const { rows, mismatches } = checkAgainstTables(projection.records(), tables);
    return { chain: chainStatus(db, report), rows, mismatches };
  };
  return { options, record };
}

/**
 * The whole record in one pass (the CLI): walks and verifies the chain, projecting every event as it
 * goes, then compares the tables. Synchronous, over one snapshot of the log.
 */
export function readAuditRecord(db: Db, keys?: AuditKeyring): AuditRecord {
  const reading = recordReading(db, keys);
  return reading.record(verifyAuditChain(db, reading.options));
}

/**
 * `AuditRecordSource` for the running bot: the same, but the chain is read a page at a time between
 * turns of the event loop, so a long log never holds up a close.
 */
export function createSqliteAuditRecordSource(db: Db, keys?: AuditKeyring): AuditRecordSource {
  return {
    read: async () => {
      const reading = recordReading(db, keys);
      return reading.record(await verifyAuditChainAsync(db, reading.options));
    },
  };
}
