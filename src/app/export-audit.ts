import { type Actor, isAdmin } from '../domain/policy';
import { type Err, err, ok, type Result } from '../domain/result';
import { exportFilename, toCsv, withPolicyFallback } from './audit-export-format';
import type { AuditHead, ChainStatus, ExportWindow } from './audit-ports';
import type { AuditRecordSource } from './audit-record';
import { type PublishHeadDeps, publishHead } from './publish-head';

const DAY_MS = 86_400_000;

type Deps = PublishHeadDeps & { readonly auditRecord: AuditRecordSource };

export type ExportAuditCommand = { readonly actor: Actor; readonly days: number };

/** The CSV file to hand to the admin. */
export type AuditExportFile = {
  readonly window: ExportWindow;
  readonly filename: string;
  readonly csv: string;
  /** Requests in the file. */
  readonly rows: number;
  /** What the walk of the chain found (the file says nothing it cannot show; a break is said out loud). */
  readonly chain: ChainStatus;
  /** Requests in the file whose tables disagree with the chain (`table_differs`). */
  readonly disagreeing: number;
  /** The head published with this export, when the policy names an audit channel. */
  readonly published?: AuditHead | undefined;
};

export type ExportAuditError = Err<'NOT_ADMIN', { readonly userId: string }>;

/**
 * `/access audit <days>`: the audit export of the last `days` days (requests made in
 * `[now - days, now)`) as CSV, for admins only — decided from the policy in force at this moment.
 * Every row is derived from the hash-chained events and checked against the tables (see
 * audit-record.ts). A refusal reads nothing and records nothing; an export is itself recorded
 * (`audit.exported`), since who took a copy of the trail is part of the trail, and the head after it
 * is published in the audit channel, so the copy can be checked against the log later.
 */
export const exportAudit =
  (deps: Deps) =>
  async (cmd: ExportAuditCommand): Promise<Result<AuditExportFile, ExportAuditError>> => {
    const policy = deps.policy();
    if (!isAdmin(policy, cmd.actor)) return err('NOT_ADMIN', { userId: cmd.actor.userId });
    const record = await deps.auditRecord.read();
    const until = deps.clock.now();
    // Whole 24-hour days, not calendar days: the window does not shift with the server's time zone.
    const window = { since: new Date(until.getTime() - cmd.days * DAY_MS), until };
    const inWindow = record.rows.filter(
      (r) => r.requestedAt.getTime() >= window.since.getTime() && r.requestedAt.getTime() < until.getTime(),
    );
    const rows = withPolicyFallback(inWindow, policy);
    const disagreeing = rows.filter((r) => (r.tableDiffers?.length ?? 0) > 0).length;
    await deps.audit.append({
      at: until,
      actor: cmd.actor.userId,
      type: 'audit.exported',
      details: {
        since: window.since.toISOString(),
        until: window.until.toISOString(),
        rows: rows.length,
        format: 'csv',
        chainOk: record.chain.ok,
        disagreeing,
      },
    });
    const published = await publishHead(
      deps,
      {
        kind: 'export',
        by: cmd.actor.userId,
        rows: rows.length,
        since: window.since.toISOString(),
        until: window.until.toISOString(),
      },
      record.chain,
      record.mismatches.length,
    );
    return ok({
      window,
      filename: exportFilename(window, 'csv'),
      csv: toCsv(rows),
      rows: rows.length,
      chain: record.chain,
      disagreeing,
      published,
    });
  };
