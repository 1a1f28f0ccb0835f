/**
 * When each kind of due work is due, as SQL over a table's columns: written once for both engines (as
 * `schema-shared.ts` writes the CHECKs once), so SQLite and PostgreSQL wake for the same rows at the
 * same moments. Plain SQL both read alike: CASE, COALESCE and integer arithmetic on epoch milliseconds
 * (integer division truncates on both).
 */
import { type Column, gte, type SQL, sql } from 'drizzle-orm';

/**
 * When a grant is due to be closed — the one definition that both "what is due now"
 * (`closes.due`) and "when is the next thing due" (`closes.next`) read, so they cannot disagree:
 * - `closing`: a close was started and has not finished (a crash, an AWS failure, a failed rollback):
 *   due at once, or at `retry_at` when the last attempt failed;
 * - `active`, and `opening` (an open still running, or one a failure left behind): at `expires_at`;
 * - `closed`, `failed`: never (NULL).
 */
export const grantCloseAt = (t: { state: Column; retryAt: Column; expiresAt: Column }): SQL<number | null> =>
  sql<number | null>`(CASE ${t.state}
  WHEN 'closing' THEN COALESCE(${t.retryAt}, 0)
  WHEN 'active' THEN ${t.expiresAt}
  WHEN 'opening' THEN ${t.expiresAt}
END)`;

/** Warned grants must be at least twice the warning time long (`deservesWarning` in the domain). */
export const longEnoughToWarn = (t: { startsAt: Column; expiresAt: Column }, warnBeforeMs: number): SQL =>
  gte(sql`${t.expiresAt} - ${t.startsAt}`, 2 * warnBeforeMs);

/** Half-way through a request's approval time: when its approvers are reminded. */
export const reminderAt = (t: { createdAt: Column; approvalDeadline: Column }): SQL<number> =>
  sql<number>`(${t.createdAt} + (${t.approvalDeadline} - ${t.createdAt}) / 2)`;
