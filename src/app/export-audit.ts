import { type Actor, isAdmin, type Policy } from '../domain/policy';
import { err, ok, type Result } from '../domain/result';
import { exportFilename, toCsv, withPolicyFallback } from './audit-export';
import type { AuditExportSource, ExportWindow } from './audit-ports';
import type { AuditLog, Clock } from './ports';

const DAY_MS = 86_400_000;

type Deps = {
  readonly clock: Clock;
  readonly policy: () => Policy;
  readonly auditExport: AuditExportSource;
  readonly audit: Pick<AuditLog, 'append'>;
};

export type ExportAuditCommand = { readonly actor: Actor; readonly days: number };

/** The CSV file to hand to the admin. */
export type AuditExportFile = {
  readonly window: ExportWindow;
  readonly filename: string;
  readonly csv: string;
  /** Requests in the file. */
  readonly rows: number;
};

export type ExportAuditError = 'NOT_ADMIN';

/**
 * `/access audit <days>`: the audit export of the last `days` days (requests created in
 * `[now - days, now)`) as CSV, for admins only — decided from the policy in force at this moment.
 * A refusal reads nothing and records nothing; an export is itself recorded (`audit.exported`), since
 * who took a copy of the trail is part of the trail.
 */
export const exportAudit =
  (deps: Deps) =>
  (cmd: ExportAuditCommand): Result<AuditExportFile, ExportAuditError> => {
    const policy = deps.policy();
    if (!isAdmin(policy, cmd.actor)) return err('NOT_ADMIN', { userId: cmd.actor.userId });
    const until = deps.clock.now();
    // Whole 24-hour days, not calendar days: the window does not shift with the server's time zone.
    const window = { since: new Date(until.getTime() - cmd.days * DAY_MS), until };
    const rows = withPolicyFallback(deps.auditExport.rows(window), policy);
    deps.audit.append({
      at: until,
      actor: cmd.actor.userId,
      type: 'audit.exported',
      details: {
        since: window.since.toISOString(),
        until: window.until.toISOString(),
        rows: rows.length,
        format: 'csv',
      },
    });
    return ok({ window, filename: exportFilename(window, 'csv'), csv: toCsv(rows), rows: rows.length });
  };
