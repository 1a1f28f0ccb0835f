/**
 * The record as evidence: what the audit export shows is derived from the
 * hash-chained events, not from the `requests`, `approvals` and `grants` tables — anyone with the
 * database file can UPDATE a table, nobody can change a keyed event unseen. The tables are the bot's
 * working state; they are *checked* against the chain field by field, and every disagreement is
 * named (`verify`, and the export's `table_differs` column). Pure: events in, rows out.
 *
 * Where each exported field comes from in the chain:
 * - `request.submitted` (actor = requester, at = requested): resource, duration, address, reason,
 *   break-glass; for an extension (`details.kind`) also the grant it extends (`grantId`).
 * - `request.approval_recorded`: one approver each (actor), in vote order;
 *   `request.approval_withdrawn` takes one back (`details.approverId`: no longer an approver at the quorum).
 * - `request.approved` / `denied` / `cancelled` / `timed_out` / `failed`: the state, who decided
 *   (actor), the note (`details.note` / `details.reason`); `request.approved` with a `grantId` opens the
 *   grant record: `starts_at` = its time, `expires_at` = `details.expiresAt`.
 * - `grant.opened` (started_at, role ARN), `grant.extended` (`details.to`: the new planned end; it
 *   also approves the extension request it names), `grant.closing`, `grant.recovered`, `grant.closed`
 *   (ended_at, end reason, who ended it), `grant.failed`, `grant.reviewed`.
 * Events recorded before a field was put in the chain leave it unknown: the export shows the table's
 * value and lists the field in `not_in_chain`, so nothing unproven passes as proven.
 */
import type { EndReason, GrantState } from '../domain/grant';
import { plannedEnd } from '../domain/grant';
import type { RequestState } from '../domain/request';
import { type AuditExportField, toExportRecord } from './audit-export-format';

export type { AuditRecord, AuditRecordSource, TableMismatch } from './audit-ports';

import type { AuditExportRow, ChainEvent, TableMismatch } from './audit-ports';
import { TIMED_OUT_NOTE } from './due-work';
import { STILL_CLOSING } from './open-grant';

/** The row fields, by name, that the chain may leave unknown. */
type RowKey = Exclude<keyof AuditExportRow, 'tableDiffers' | 'notInChain'>;

/** Which export column each row field is. */
const FIELD_OF: Record<RowKey, AuditExportField> = {
  requestId: 'request_id',
  requestKind: 'request_kind',
  extendsGrantId: 'extends_grant_id',
  grantId: 'grant_id',
  resourceId: 'resource_id',
  resourceKind: 'kind',
  requesterId: 'requester',
  approvers: 'approvers',
  decidedBy: 'decided_by',
  address: 'address',
  roleArn: 'role_arn',
  reason: 'reason',
  decisionNote: 'decision_note',
  state: 'state',
  grantState: 'grant_state',
  requestedAt: 'requested_at',
  approvedAt: 'approved_at',
  startedAt: 'started_at',
  expiresAt: 'expires_at',
  endedAt: 'ended_at',
  endReason: 'end_reason',
  endedBy: 'ended_by',
  durationMs: 'duration_requested_ms',
  breakGlass: 'break_glass',
  reviewedBy: 'reviewed_by',
  reviewedAt: 'reviewed_at',
};

/** Where the bot keeps each exported field, for a person reading a disagreement. */
export const TABLE_COLUMN_OF: Readonly<Partial<Record<AuditExportField, string>>> = {
  request_id: 'requests.id',
  grant_id: 'grants.id',
  resource_id: 'requests.resource_id',
  requester: 'requests.requester_id',
  approvers: 'approvals.approver_id',
  decided_by: 'requests.decided_by',
  address: 'requests.source_cidr',
  role_arn: 'role_sessions.role_arn',
  reason: 'requests.reason',
  state: 'requests.state',
  grant_state: 'grants.state',
  requested_at: 'requests.created_at',
  approved_at: 'grants.starts_at (an extension: requests.decided_at)',
  started_at: 'audit_events',
  expires_at: 'grants.expires_at',
  ended_at: 'grants.ended_at',
  end_reason: 'grants.end_reason',
  ended_by: 'grants.ended_by',
  duration_requested_ms: 'requests.duration_ms',
  request_kind: 'requests.kind',
  extends_grant_id: 'requests.extends_grant_id',
  decision_note: 'requests.note',
  break_glass: 'requests.break_glass / grants.break_glass',
  reviewed_by: 'grants.reviewed_by',
  reviewed_at: 'grants.reviewed_at',
};

/** Export columns compared with the tables: all but those computed from others (`kind`, the formatted duration). */
const COMPARED: readonly AuditExportField[] = Object.values(FIELD_OF).filter((f) => f !== 'kind');

/** What the chain says about one request: the row, and the fields it cannot say (older events). */
export type ChainRecord = { readonly row: AuditExportRow; readonly unknown: ReadonlySet<RowKey> };

type GrantDraft = {
  readonly id: string;
  readonly requestId: string;
  state: GrantState;
  readonly startsAt: Date;
  expiresAt: Date | undefined;
  startedAt?: Date | undefined;
  endedAt?: Date | undefined;
  endReason?: EndReason | undefined;
  endedBy?: string | undefined;
  reviewedBy?: string | undefined;
  reviewedAt?: Date | undefined;
  roleArn?: string | undefined;
};

type RequestDraft = {
  readonly requestId: string;
  readonly requestKind: 'access' | 'extension';
  readonly extendsGrantId?: string | undefined;
  readonly resourceId?: string | undefined;
  readonly requesterId: string;
  readonly durationMs?: number | undefined;
  readonly address?: string | undefined;
  readonly reason?: string | undefined;
  readonly breakGlass: boolean;
  readonly requestedAt: Date;
  /** An extension recorded before its resource and address were put in the chain: taken from the grant it extends. */
  readonly legacyExtension: boolean;
  state: RequestState;
  decidedBy?: string | undefined;
  decidedAt?: Date | undefined;
  decisionNote?: string | undefined;
  readonly approvers: string[];
  grantId?: string | undefined;
  readonly unknown: Set<RowKey>;
};

const str = (d: ChainEvent['details'], key: string): string | undefined => {
  const v = d?.[key];
  return typeof v === 'string' ? v : undefined;
};
const num = (d: ChainEvent['details'], key: string): number | undefined => {
  const v = d?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};
const date = (d: ChainEvent['details'], key: string): Date | undefined => {
  const v = str(d, key);
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t);
};
const END_REASONS: readonly string[] = ['expired', 'revoked', 'done', 'failed'];
const endReason = (v: string | undefined): EndReason | undefined =>
  v !== undefined && END_REASONS.includes(v) ? (v as EndReason) : undefined;

/**
 * Folds chain events, in `seq` order, into what they say about each request. Feed every event
 * (`add`), then read `records()`. Events of other kinds are ignored; events about an unknown request
 * or grant (the log began mid-way) are ignored too.
 */
export class ChainProjection {
  private readonly requests = new Map<string, RequestDraft>();
  private readonly grants = new Map<string, GrantDraft>();

  add(e: ChainEvent): void {
    const d = e.details;
    const request = e.requestId === undefined ? undefined : this.requests.get(e.requestId);
    const grant = e.grantId === undefined ? undefined : this.grants.get(e.grantId);
    switch (e.type) {
      case 'request.submitted':
        if (e.requestId !== undefined && request === undefined) this.submitted(e.requestId, e);
        return;
      case 'request.approval_recorded':
        request?.approvers.push(e.actor);
        return;
      case 'request.approval_withdrawn': {
        // A vote that no longer counted at the quorum (its approver is no longer one): taken back.
        const withdrawn = str(d, 'approverId');
        const at = withdrawn === undefined ? -1 : (request?.approvers.indexOf(withdrawn) ?? -1);
        if (at >= 0) request?.approvers.splice(at, 1);
        return;
      }
      case 'request.approved':
        if (request === undefined || !this.decided(request, 'approved', e)) return;
        request.decisionNote = str(d, 'note');
        // Auto-approval and break-glass carry a note in the tables that older events did not record.
        if (request.decisionNote === undefined && (d?.['auto'] === true || d?.['breakGlass'] === true))
          request.unknown.add('decisionNote');
        if (e.grantId !== undefined && !this.grants.has(e.grantId)) {
          request.grantId = e.grantId;
          const expires =
            date(d, 'expiresAt') ??
            (request.durationMs === undefined ? undefined : plannedEnd(e.at, request.durationMs));
          this.grants.set(e.grantId, {
            id: e.grantId,
            requestId: request.requestId,
            state: 'opening',
            startsAt: e.at,
            expiresAt: expires,
          });
        }
        return;
      case 'request.denied':
        if (request === undefined || !this.decided(request, 'denied', e)) return;
        request.decisionNote = str(d, 'reason');
        return;
      case 'request.cancelled':
        if (request === undefined || !this.decided(request, 'cancelled', e)) return;
        // A cancellation by hallpass (a lapsed lease) says why; a requester's own carries no note.
        request.decisionNote = str(d, 'note');
        return;
      case 'request.timed_out':
        if (request === undefined || !this.decided(request, 'timed_out', e)) return;
        // Older events did not carry the note; it has always been this sentence.
        request.decisionNote = str(d, 'note') ?? TIMED_OUT_NOTE;
        return;
      case 'request.failed':
        if (request !== undefined) failed(request, str(d, 'reason'), e.at);
        return;
      case 'grant.failed': {
        const of = request ?? (grant === undefined ? undefined : this.requests.get(grant.requestId));
        const why = str(d, 'reason');
        const rollbackFailed = d?.['rollback'] === 'failed';
        if (of !== undefined) {
          const note =
            str(d, 'note') ??
            (why === undefined ? undefined : rollbackFailed ? `${why}; ${STILL_CLOSING}` : why);
          failed(of, note, e.at);
        }
        // `stateChangedTo`: the grant had already moved on, so this failure did not move it.
        if (grant === undefined || d?.['stateChangedTo'] !== undefined) return;
        grant.endReason = 'failed';
        grant.endedBy = e.actor;
        if (rollbackFailed) grant.state = 'closing';
        else {
          grant.state = 'failed';
          grant.endedAt = e.at;
        }
        return;
      }
      case 'grant.opened':
        if (grant === undefined) return;
        if (grant.state === 'opening') grant.state = 'active';
        grant.startedAt ??= e.at;
        grant.roleArn = str(d, 'roleArn') ?? grant.roleArn;
        grant.expiresAt = date(d, 'expiresAt') ?? grant.expiresAt;
        return;
      case 'grant.recovered':
        if (grant === undefined || str(d, 'to') !== 'closing') return;
        grant.state = 'closing';
        grant.endReason = endReason(str(d, 'endReason')) ?? 'expired';
        grant.endedBy = e.actor;
        return;
      case 'grant.closing':
        if (grant === undefined) return;
        grant.state = 'closing';
        grant.endReason = endReason(str(d, 'reason')) ?? grant.endReason;
        grant.endedBy = e.actor;
        return;
      case 'grant.closed': {
        if (grant === undefined) return;
        const reason = endReason(str(d, 'reason')) ?? grant.endReason;
        grant.state = reason === 'failed' ? 'failed' : 'closed';
        grant.endedAt = e.at;
        grant.endReason = reason;
        grant.endedBy = str(d, 'endedBy') ?? e.actor;
        return;
      }
      case 'grant.extended':
        if (grant !== undefined) grant.expiresAt = date(d, 'to') ?? grant.expiresAt;
        // The event names the extension request it approved.
        if (request !== undefined && request.requestKind === 'extension')
          this.decided(request, 'approved', e);
        return;
      case 'grant.reviewed':
        if (grant === undefined) return;
        grant.reviewedBy = e.actor;
        grant.reviewedAt = e.at;
        return;
      default:
        return;
    }
  }

  /** Every request the chain recorded, oldest first (as the export orders them). */
  records(): ChainRecord[] {
    const out: ChainRecord[] = [];
    for (const r of this.requests.values()) out.push(this.record(r));
    return out.sort(
      (a, b) =>
        a.row.requestedAt.getTime() - b.row.requestedAt.getTime() ||
        (a.row.requestId < b.row.requestId ? -1 : a.row.requestId > b.row.requestId ? 1 : 0),
    );
  }

  private submitted(requestId: string, e: ChainEvent): void {
    const d = e.details;
    const extension = d?.['kind'] === 'extension';
    const resourceId = str(d, 'resourceId');
    const legacyExtension = extension && resourceId === undefined;
    const draft: RequestDraft = {
      requestId,
      requestKind: extension ? 'extension' : 'access',
      extendsGrantId: extension ? e.grantId : undefined,
      resourceId,
      requesterId: e.actor,
      durationMs: num(d, 'durationMs'),
      address: str(d, 'source'),
      reason: str(d, 'reason'),
      breakGlass: d?.['breakGlass'] === true,
      requestedAt: e.at,
      legacyExtension,
      state: 'pending',
      approvers: [],
      unknown: new Set(),
    };
    if (draft.reason === undefined) draft.unknown.add('reason');
    if (draft.durationMs === undefined) draft.unknown.add('durationMs');
    if (resourceId === undefined && !legacyExtension) draft.unknown.add('resourceId');
    this.requests.set(requestId, draft);
  }

  /** A decision moves only a pending request (the store's compare-and-set); says whether it did. */
  private decided(request: RequestDraft, to: RequestState, e: ChainEvent): boolean {
    if (request.state !== 'pending') return false;
    request.state = to;
    request.decidedBy = e.actor;
    request.decidedAt = e.at;
    return true;
  }

  private record(r: RequestDraft): ChainRecord {
    const grant = r.grantId === undefined ? undefined : this.grants.get(r.grantId);
    const extended = r.extendsGrantId === undefined ? undefined : this.grants.get(r.extendsGrantId);
    const origin = extended === undefined ? undefined : this.requests.get(extended.requestId);
    const unknown = new Set(r.unknown);
    let resourceId = r.resourceId;
    let address = r.address;
    if (r.legacyExtension) {
      // Older extension events named only the grant: its request says resource and address.
      resourceId = origin?.resourceId;
      address = origin?.address;
      if (resourceId === undefined) unknown.add('resourceId');
      if (origin === undefined) unknown.add('address');
    }
    const roleArn = grant?.roleArn ?? extended?.roleArn;
    const approvedAt = r.breakGlass
      ? undefined
      : grant !== undefined
        ? grant.startsAt
        : r.state === 'approved'
          ? r.decidedAt
          : undefined;
    if (grant !== undefined && grant.expiresAt === undefined) unknown.add('expiresAt');
    const row: AuditExportRow = {
      requestId: r.requestId,
      requestKind: r.requestKind,
      extendsGrantId: r.extendsGrantId,
      grantId: grant?.id,
      resourceId: resourceId ?? '',
      resourceKind: address !== undefined ? 'security-group' : roleArn !== undefined ? 'aws-role' : undefined,
      requesterId: r.requesterId,
      approvers: [...r.approvers],
      decidedBy: r.decidedBy,
      address,
      roleArn,
      reason: r.reason ?? '',
      decisionNote: r.decisionNote,
      state: r.state,
      grantState: grant?.state,
      requestedAt: r.requestedAt,
      approvedAt,
      startedAt: grant?.startedAt,
      expiresAt: grant?.expiresAt,
      endedAt: grant?.endedAt,
      endReason: grant?.endReason,
      endedBy: grant?.endedBy,
      durationMs: r.durationMs ?? 0,
      breakGlass: r.breakGlass,
      reviewedBy: grant?.reviewedBy,
      reviewedAt: grant?.reviewedAt,
    };
    return { row, unknown };
  }
}

/** A failure note stands once written: a retried failure path does not replace it (as the store does). */
function failed(request: RequestDraft, note: string | undefined, at: Date): void {
  if (request.state === 'failed') return;
  if (request.state !== 'pending' && request.state !== 'approved') return;
  request.state = 'failed';
  request.decisionNote = note;
  request.decidedAt = at;
}

/** One sentence per disagreement, for `verify` and the logs. */
export function describeMismatch(m: TableMismatch): string {
  switch (m.kind) {
    case 'not-in-tables':
      return `request ${m.requestId}: in the audit chain but not in the requests table (the row was deleted).`;
    case 'not-in-chain':
      return `request ${m.requestId}: in the requests table but never recorded in the audit chain (the row was inserted).`;
    case 'field':
      return `request ${m.requestId}${m.grantId === undefined ? '' : ` (grant ${m.grantId})`}: ${m.field} is ${m.table} in the tables (${m.column}) but ${m.chain} in the audit chain.`;
  }
}

const show = (v: unknown): string => JSON.stringify(v ?? null);

/**
 * The export's rows: each request as the chain says it, with what the chain cannot say (older events)
 * filled in from the tables and listed in `notInChain`, and every field the tables say differently
 * listed in `tableDiffers` (the row shows the chain's value). A request only in the tables is kept,
 * from the tables, with `notInChain: ['*']`; one only in the chain has `tableDiffers: ['*']`. Also
 * returns each disagreement on its own, for `verify`.
 */
export function checkAgainstTables(
  chain: readonly ChainRecord[],
  tables: readonly AuditExportRow[],
): { rows: AuditExportRow[]; mismatches: TableMismatch[] } {
  const byId = new Map(tables.map((r) => [r.requestId, r]));
  const seen = new Set<string>();
  const rows: AuditExportRow[] = [];
  const mismatches: TableMismatch[] = [];
  for (const { row: chained, unknown } of chain) {
    const table = byId.get(chained.requestId);
    seen.add(chained.requestId);
    const notInChain = [...unknown].map((k) => FIELD_OF[k]);
    if (table === undefined) {
      mismatches.push({ kind: 'not-in-tables', requestId: chained.requestId });
      rows.push({ ...chained, notInChain, tableDiffers: ['*'] });
      continue;
    }
    // What the chain cannot say is shown from the tables, and marked so.
    const filled: Record<string, unknown> = { ...chained };
    for (const k of unknown) filled[k] = table[k];
    const row = filled as AuditExportRow;
    const a = toExportRecord(row);
    const b = toExportRecord(table);
    const differs: AuditExportField[] = [];
    for (const field of COMPARED) {
      if (notInChain.includes(field)) continue;
      if (show(a[field]) === show(b[field])) continue;
      differs.push(field);
      mismatches.push({
        kind: 'field',
        requestId: row.requestId,
        grantId: row.grantId ?? table.grantId,
        field,
        column: TABLE_COLUMN_OF[field] ?? field,
        table: show(b[field]),
        chain: show(a[field]),
      });
    }
    rows.push({ ...row, notInChain, tableDiffers: differs });
  }
  for (const table of tables) {
    if (seen.has(table.requestId)) continue;
    mismatches.push({ kind: 'not-in-chain', requestId: table.requestId });
    rows.push({ ...table, notInChain: ['*'], tableDiffers: [] });
  }
  rows.sort(
    (x, y) =>
      x.requestedAt.getTime() - y.requestedAt.getTime() ||
      (x.requestId < y.requestId ? -1 : x.requestId > y.requestId ? 1 : 0),
  );
  return { rows, mismatches };
}
