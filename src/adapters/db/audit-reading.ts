/**
 * Reading the audit record back, engine-independent: how the tables' rows become export rows, how a
 * walk's report becomes the use cases' `ChainStatus`, and how one walk both verifies the chain and
 * projects it. Each engine supplies only its queries (`audit-export-query.ts` for SQLite,
 * `pg/audit-record.ts` for PostgreSQL) and the `AuditLogReader` the CLI and start-up use.
 */
import type {
  AuditExportRow,
  AuditHead,
  AuditKeyring,
  ChainStatus,
  ResourceKind,
} from '../../app/audit-ports';
import { type AuditRecord, ChainProjection, checkAgainstTables } from '../../app/audit-record';
import {
  type AuditChainReport,
  type AuditRow,
  GENESIS_HASH,
  type HeadCheck,
  type VerifyOptions,
} from './audit-chain';
import type * as schema from './schema';

/**
 * The audit log as the CLI and start-up read it, on either engine. Every method reads only; `read`
 * walks the chain and reads the tables in one consistent snapshot.
 */
export interface AuditLogReader {
  /** Key ids that sealed events in the log (unkeyed ones left out). */
  keyIds(): Promise<string[]>;
  /** The whole record: the chain verified under `keys`, projected, and checked against the tables. */
  read(keys: AuditKeyring | undefined): Promise<AuditRecord>;
  /**
   * The chain alone, verified under `keys`: what start-up must know before anything is appended (no
   * projection, no tables — their check only logs, and runs once hallpass serves).
   */
  verifyChain(keys: AuditKeyring | undefined): Promise<ChainStatus>;
  /** Whether the log still holds a published head (see `checkHead`). */
  checkHead(head: AuditHead): Promise<HeadCheck>;
  /** The `audit.break_accepted` events on record, in `seq` order. */
  breakAcceptances(): Promise<AuditRow[]>;
}

/** One request as the export query joins it: the request, its grant, and what the export needs beside. */
export type ExportJoin = {
  readonly request: typeof schema.requests.$inferSelect;
  readonly grant: typeof schema.grants.$inferSelect | null;
  /** The role of the grant's session. */
  readonly roleArn: string | null;
  /** For an extension: the source of the request whose grant it extends, and that grant's role. */
  readonly originCidr: string | null;
  readonly extendedRoleArn: string | null;
};

const date = (ms: number | null | undefined): Date | undefined =>
  ms === null || ms === undefined ? undefined : new Date(ms);
const text = (s: string | null | undefined): string | undefined => s ?? undefined;

/**
 * The export rows of the joined requests (in their order), given every approval vote of those requests
 * in the order recorded and the time of each grant's first `grant.opened` event.
 *
 * Where each field comes from: `address` is the request's `source_cidr` (an extension's: that of the
 * request it extends); `role_arn` the grant's `role_sessions` row; `kind` follows from which of the
 * two the database holds, and is left blank when neither (a role request that never opened) — the
 * policy may fill it in, the database does not guess. `approved_at` is the grant's `starts_at` (the
 * clock starts at approval), or the request's `decided_at` while it is `approved` without a grant of
 * its own (an extension); never for break-glass, which nobody approved. `started_at` is the time of
 * the grant's `grant.opened` audit event: the moment AWS access began.
 */
export function toExportRows(
  found: readonly ExportJoin[],
  votes: readonly { readonly requestId: string; readonly approverId: string }[],
  opened: readonly { readonly grantId: string | null; readonly at: number }[],
): AuditExportRow[] {
  const approvers = new Map<string, string[]>();
  for (const v of votes) approvers.set(v.requestId, [...(approvers.get(v.requestId) ?? []), v.approverId]);
  const started = new Map<string, number>();
  for (const e of opened) if (e.grantId !== null) started.set(e.grantId, e.at);

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
      approvers: approvers.get(r.id) ?? [],
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
}

/**
 * A chain report as the use cases see it; a broken log is named by its last event's stored seal
 * (`last`, unproven), so it can still be told apart.
 */
export function chainStatus(
  report: AuditChainReport,
  last: { readonly seq: number; readonly hash: string | null } | undefined,
): ChainStatus {
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
 * One reading of the record: the walk's options, which project every event as it goes, and the record
 * once the walk has run and the tables were read (in the walk's snapshot, so a request made or decided
 * meanwhile is on both sides).
 */
export function recordReading(keys: AuditKeyring | undefined): {
  readonly options: VerifyOptions;
  record(
    report: AuditChainReport,
    tables: readonly AuditExportRow[],
    last: { readonly seq: number; readonly hash: string | null } | undefined,
  ): AuditRecord;
} {
  const projection = new ChainProjection();
  return {
    options: { keys, onEvent: (e) => projection.add(e) },
    record: (report, tables, last) => {
      const { rows, mismatches } = checkAgainstTables(projection.records(), tables);
      return { chain: chainStatus(report, last), rows, mismatches };
    },
  };
}
