/**
 * `npm run audit -- search` and `/access audit search …`: the chain-checked record
 * (see audit-record.ts) filtered by person, resource, address, time and end reason. Answers "who had
 * access to prod-db between 02:00 and 03:00 on the 14th" with the grants whose access
 * `[started, ended-or-planned-end)` overlapped that window, with exact planned and actual times.
 */
import {
  type AuditSearchFilters,
  matchesSearch,
  type ResolvedSearchFilters,
  type SearchableRequest,
} from '../domain/audit-search';
import { type Actor, isAdmin, type Policy } from '../domain/policy';
import { type Err, err, ok, type Result } from '../domain/result';
import { toCsv, withPolicyFallback } from './audit-export-format';
import type { AuditExportRow, ChainStatus } from './audit-ports';
import type { AuditRecordSource } from './audit-record';
import type { AuditLog, Clock } from './ports';

/** The facts a search reads, from one row of the record. */
export function searchable(row: AuditExportRow): SearchableRequest {
  const people = [
    row.requesterId,
    ...row.approvers,
    ...(row.decidedBy === undefined ? [] : [row.decidedBy]),
    ...(row.endedBy === undefined ? [] : [row.endedBy]),
    ...(row.reviewedBy === undefined ? [] : [row.reviewedBy]),
  ];
  return {
    people,
    resourceId: row.resourceId,
    address: row.address,
    requestedAt: row.requestedAt,
    startedAt: row.startedAt,
    expiresAt: row.expiresAt,
    endedAt: row.endedAt,
    closing: row.grantState === 'closing',
    endReason: row.endReason,
  };
}

/** The rows that match every filter, in record order (oldest request first). */
export const searchRows = (
  rows: readonly AuditExportRow[],
  filters: ResolvedSearchFilters,
): AuditExportRow[] => rows.filter((row) => matchesSearch(searchable(row), filters));

/** What a search found, and how far the record behind it can be trusted. */
export type AuditSearchResult = {
  readonly rows: readonly AuditExportRow[];
  /** The filters as applied (a handle resolved to the user id). */
  readonly filters: ResolvedSearchFilters;
  /** The rows as the export's CSV, for an answer too long for a message. */
  readonly csv: string;
  readonly chain: ChainStatus;
  /** Requests among the results whose tables disagree with the chain (the rows show the chain's values). */
  readonly disagreeing: number;
};

/** Not an admin, or a `who:@handle` Slack knows nobody by. */
export type SearchAuditError =
  | Err<'NOT_ADMIN', { readonly userId: string }>
  | Err<'SEARCH_UNKNOWN_USER', { readonly handle: string }>;

type Deps = {
  readonly clock: Clock;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly policy: () => Policy;
  readonly auditRecord: AuditRecordSource;
};

/**
 * `/access audit search …`, for admins only (decided from the policy in force now). A search reads
 * the trail, so it is recorded in it too (`audit.searched`, with its filters and how many rows it
 * returned); a refusal reads and records nothing.
 */
export const searchAudit =
  (deps: Deps) =>
  async (cmd: {
    readonly actor: Actor;
    readonly filters: AuditSearchFilters;
    /** Resolves `who:@handle` to a user id (Slack's directory); absent: handles are refused. */
    readonly userIdOf?: ((handle: string) => Promise<string | undefined>) | undefined;
  }): Promise<Result<AuditSearchResult, SearchAuditError>> => {
    const policy = deps.policy();
    if (!isAdmin(policy, cmd.actor)) return err('NOT_ADMIN', { userId: cmd.actor.userId });
    let who: { userId: string } | undefined;
    if (cmd.filters.who !== undefined) {
      if ('userId' in cmd.filters.who) who = cmd.filters.who;
      else {
        const handle = cmd.filters.who.handle;
        const userId = await cmd.userIdOf?.(handle);
        if (userId === undefined) return err('SEARCH_UNKNOWN_USER', { handle });
        who = { userId };
      }
    }
    const f: ResolvedSearchFilters = { ...cmd.filters, who };
    const record = await deps.auditRecord.read();
    const rows = withPolicyFallback(searchRows(record.rows, f), policy);
    await deps.audit.append({
      at: deps.clock.now(),
      actor: cmd.actor.userId,
      type: 'audit.searched',
      details: {
        ...(f.who === undefined ? {} : { who: f.who.userId }),
        ...(f.resourceId === undefined ? {} : { resource: f.resourceId }),
        ...(f.address === undefined ? {} : { address: f.address.cidr }),
        ...(f.from === undefined ? {} : { from: f.from.toISOString() }),
        ...(f.to === undefined ? {} : { to: f.to.toISOString() }),
        ...(f.endReason === undefined ? {} : { end: f.endReason }),
        rows: rows.length,
      },
    });
    return ok({
      rows,
      filters: f,
      csv: toCsv(rows),
      chain: record.chain,
      disagreeing: rows.filter((r) => (r.tableDiffers?.length ?? 0) > 0).length,
    });
  };
