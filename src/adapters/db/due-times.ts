/**
 * When each kind of due work is due, as SQL over a table's columns: written once for both engines (as
 * `schema-shared.ts` writes the CHECKs once), so SQLite and PostgreSQL wake for the same rows at the
 * same moments. Plain SQL both read alike: CASE, COALESCE and integer arithmetic on epoch milliseconds
 * (integer division truncates on both).
 */
import { type Column, eq, gte, type SQL, sql } from 'drizzle-orm';

/**
 * One piece of a due time: the rows `waiting` picks are due at `at`. A due time made of pieces an index
 * can serve each (an equality on the index's first column, its second column as the time) is read
 * piece by piece, not by evaluating one expression over every waiting row (see the due-query builders).
 */
export type DuePart = { readonly waiting: SQL; readonly at: SQL<number | null> };

type GrantColumns = { state: Column; retryAt: Column; expiresAt: Column };

/**
 * When a grant is due to be closed — the one definition that both "what is due now"
 * (`closes.due`) and "when is the next thing due" (`closes.next`) read, so they cannot disagree:
 * - `active`, and `opening` (an open still running, or one a failure left behind): at `expires_at`;
 * - `closing`: a close was started and has not finished (a crash, an AWS failure, a failed rollback):
 *   due at once, or at `retry_at` when the last attempt failed;
 * - `closed`, `failed`: never.
 * One piece per state, so the `(state, expires_at)` index answers "when next" with thousands of grants
 * live (a few index reads, not a pass over every live grant at every wake).
 */
export const grantCloseParts = (t: GrantColumns): DuePart[] => [
  { waiting: eq(t.state, 'active'), at: sql<number | null>`${t.expiresAt}` },
  { waiting: eq(t.state, 'opening'), at: sql<number | null>`${t.expiresAt}` },
  { waiting: eq(t.state, 'closing'), at: sql<number | null>`COALESCE(${t.retryAt}, 0)` },
];

/** `grantCloseParts` as one expression (NULL for a grant not due ever): how due grants are ordered. */
export const grantCloseAt = (t: GrantColumns): SQL<number | null> =>
  sql<number | null>`(CASE ${sql.join(
    grantCloseParts(t).map((p) => sql`WHEN ${p.waiting} THEN ${p.at}`),
    sql` `,
  )} END)`;

/** Warned grants must be at least twice the warning time long (`deservesWarning` in the domain). */
export const longEnoughToWarn = (t: { startsAt: Column; expiresAt: Column }, warnBeforeMs: number): SQL =>
  gte(sql`${t.expiresAt} - ${t.startsAt}`, 2 * warnBeforeMs);

/** Half-way through a request's approval time: when its approvers are reminded. */
export const reminderAt = (t: { createdAt: Column; approvalDeadline: Column }): SQL<number> =>
  sql<number>`(${t.createdAt} + (${t.approvalDeadline} - ${t.createdAt}) / 2)`;
