/**
 * The audit export as files: rows → CSV (RFC 4180) or JSON Lines. Pure: no clock, no I/O.
 *
 * One row per request, with its grant if it got one. Field order is `AUDIT_EXPORT_FIELDS`, the same in
 * both formats. Timestamps are ISO-8601 UTC to the millisecond (`2026-11-01T09:30:00.000Z`).
 *
 * CSV: a header row, CRLF line ends, a field quoted (with `"` doubled) when it holds a comma, a quote,
 * CR or LF; absent values are empty; `approvers` are joined with `;`. Spreadsheet formula injection:
 * a reason like `=HYPERLINK(…)` would run as a formula when an auditor opens the file in Excel or
 * Sheets, so every cell that starts with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'` (OWASP's
 * advice). No value hallpass itself writes starts with one of those, so only user text is changed,
 * and visibly so; the JSONL export is never altered.
 *
 * JSONL: one JSON object per line, same field names; absent values are `null`, `approvers` is an
 * array, `duration_requested_ms` a number and `break_glass` a boolean.
 */
import { AUDIT_DATE_FORMS, parseAuditDate } from '../domain/audit-search';
import { formatDuration } from '../domain/duration';
import type { Policy } from '../domain/policy';
import { type Err, err, ok, type Result } from '../domain/result';
import type { AuditExportRow, ExportWindow } from './audit-ports';

/** Column order of both formats. */
export const AUDIT_EXPORT_FIELDS = [
  'request_id',
  'grant_id',
  'resource_id',
  'kind',
  'requester',
  'approvers',
  'decided_by',
  'address',
  'role_arn',
  'reason',
  'state',
  'grant_state',
  'requested_at',
  'approved_at',
  'started_at',
  'expires_at',
  'ended_at',
  'end_reason',
  'ended_by',
  'duration_requested',
  'duration_requested_ms',
  'request_kind',
  'extends_grant_id',
  'decision_note',
  // Break-glass: opened without approval. A row with break_glass = true and no reviewed_at is an
  // unreviewed break-glass grant, the thing an auditor looks for first.
  'break_glass',
  'reviewed_by',
  'reviewed_at',
  // Chain checks: every field above comes from the hash-chained events. `not_in_chain` lists
  // those shown from the tables or the policy instead (older events did not record them: unproven);
  // `table_differs` those the requests / approvals / grants tables say differently (the row shows the
  // chain's value; `verify` names both). Empty and empty: every field is proven by the chain.
  'not_in_chain',
  'table_differs',
] as const;

export type AuditExportField = (typeof AUDIT_EXPORT_FIELDS)[number];
export type AuditExportValue = string | number | boolean | readonly string[] | null;
/** One exported row, by field name. */
export type AuditExportRecord = Readonly<Record<AuditExportField, AuditExportValue>>;

export type ExportFormat = 'csv' | 'jsonl';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'jsonl'];

const iso = (d: Date | undefined): string | null => (d === undefined ? null : d.toISOString());
const opt = (s: string | undefined): string | null => s ?? null;

/** A row as named fields, in export order. */
export function toExportRecord(row: AuditExportRow): AuditExportRecord {
  return {
    request_id: row.requestId,
    grant_id: opt(row.grantId),
    resource_id: row.resourceId,
    kind: opt(row.resourceKind),
    requester: row.requesterId,
    approvers: [...row.approvers],
    decided_by: opt(row.decidedBy),
    address: opt(row.address),
    role_arn: opt(row.roleArn),
    reason: row.reason,
    state: row.state,
    grant_state: opt(row.grantState),
    requested_at: row.requestedAt.toISOString(),
    approved_at: iso(row.approvedAt),
    started_at: iso(row.startedAt),
    expires_at: iso(row.expiresAt),
    ended_at: iso(row.endedAt),
    end_reason: opt(row.endReason),
    ended_by: opt(row.endedBy),
    duration_requested: formatDuration(row.durationMs),
    duration_requested_ms: row.durationMs,
    request_kind: row.requestKind,
    extends_grant_id: opt(row.extendsGrantId),
    decision_note: opt(row.decisionNote),
    break_glass: row.breakGlass,
    reviewed_by: opt(row.reviewedBy),
    reviewed_at: iso(row.reviewedAt),
    not_in_chain: [...(row.notInChain ?? [])],
    table_differs: [...(row.tableDiffers ?? [])],
  };
}

/** Cells a spreadsheet would read as a formula (or that hide one after a control character). */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One CSV cell: formula-guarded, then quoted per RFC 4180 when needed. */
export function csvCell(value: AuditExportValue): string {
  let text: string;
  if (value === null) text = '';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else text = value.join(';');
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV with a header row; every record (the header too) ends in CRLF. */
export function toCsv(rows: readonly AuditExportRow[]): string {
  const lines = [AUDIT_EXPORT_FIELDS.join(',')];
  for (const row of rows) {
    const record = toExportRecord(row);
    lines.push(AUDIT_EXPORT_FIELDS.map((f) => csvCell(record[f])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** One JSON object per line (LF), keys in export order; empty for no rows. */
export function toJsonl(rows: readonly AuditExportRow[]): string {
  return rows.map((row) => `${JSON.stringify(toExportRecord(row))}\n`).join('');
}

export function renderExport(rows: readonly AuditExportRow[], format: ExportFormat): string {
  return format === 'csv' ? toCsv(rows) : toJsonl(rows);
}

/**
 * Fills in what the database cannot know from the policy in force now: the kind of a request that
 * never opened (no address, no role session) and, for a role resource, its role ARN. Facts the
 * database holds are never overwritten; a resource no longer in the policy stays blank. What the
 * policy fills in is listed in `not_in_chain`: the policy of today is not the record.
 */
export function withPolicyFallback(rows: readonly AuditExportRow[], policy: Policy): AuditExportRow[] {
  const byId = new Map(policy.resources.map((r) => [r.id, r]));
  return rows.map((row) => {
    const resource = byId.get(row.resourceId);
    if (resource === undefined) return row;
    const resourceKind = row.resourceKind ?? resource.kind;
    const roleArn =
      row.roleArn ??
      (resource.kind === 'aws-role' && resourceKind === 'aws-role' ? resource.roleArn : undefined);
    const filled = [
      ...(row.resourceKind === undefined ? ['kind'] : []),
      ...(row.roleArn === undefined && roleArn !== undefined ? ['role_arn'] : []),
    ];
    if (filled.length === 0) return row;
    const notInChain = (row.notInChain ?? []).includes('*')
      ? row.notInChain
      : [...(row.notInChain ?? []), ...filled];
    return { ...row, resourceKind, roleArn, notInChain };
  });
}

/** `hallpass-audit-<from>-<to>.csv`, with the window's UTC dates. */
export function exportFilename(window: ExportWindow, format: ExportFormat): string {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  return `hallpass-audit-${day(window.since)}-${day(window.until)}.${format}`;
}

// --- Dates on the command line -------------------------------------------------------------------

export type ExportWindowError =
  | Err<'MISSING_SINCE', { readonly flag: '--since' }>
  | Err<'INVALID_DATE', { readonly flag: '--since' | '--until'; readonly input: string }>
  | Err<'EMPTY_WINDOW', { readonly since: string; readonly until: string }>;

/** The forms `--since` / `--until` accept, for error messages. */
export const DATE_FORMS = AUDIT_DATE_FORMS;

/**
 * A date as the export's `--since` / `--until` take it: `YYYY-MM-DD` (midnight UTC), or a full
 * ISO-8601 date-time with `Z` or a `±HH:MM` offset (seconds and milliseconds optional). A date-time
 * without an offset is refused: which midnight it meant would depend on the machine's time zone.
 */
export const parseExportDate = parseAuditDate;

/**
 * The export window from `--since` (required) and `--until` (default: `now`). Errors name the flag
 * and echo the input.
 */
export function parseExportWindow(
  flags: { readonly since?: string | undefined; readonly until?: string | undefined },
  now: Date,
): Result<ExportWindow, ExportWindowError> {
  if (flags.since === undefined) return err('MISSING_SINCE', { flag: '--since' });
  const since = parseExportDate(flags.since);
  if (since === undefined) return err('INVALID_DATE', { flag: '--since', input: flags.since });
  let until = now;
  if (flags.until !== undefined) {
    const parsed = parseExportDate(flags.until);
    if (parsed === undefined) return err('INVALID_DATE', { flag: '--until', input: flags.until });
    until = parsed;
  }
  if (until.getTime() <= since.getTime()) {
    return err('EMPTY_WINDOW', { since: since.toISOString(), until: until.toISOString() });
  }
  return ok({ since, until });
}
