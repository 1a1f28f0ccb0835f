import { and, asc, lte, or, type SQL, sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { DueQuery } from '../../../app/ports';
import { leastOfParts } from '../due-query';
import type { DuePart } from '../due-times';
import type { PgContext } from './unit-of-work';

/**
 * `sqliteDueQuery`'s twin: a `DueQuery` on one table, built from one predicate (`waiting`) and one due
 * time (`at`, epoch ms) — the same SQL fragments the SQLite stores use (`due-times.ts`), so both
 * engines find the same rows due at the same moments. A row whose `at` is NULL is never due.
 */
export function pgDueQuery<TTable extends PgTable, T>(spec: {
  /** For error messages, e.g. `grants.closes`. */
  readonly name: string;
  readonly ctx: PgContext;
  readonly table: TTable;
  readonly waiting?: SQL | undefined;
  /** As `sqliteDueQuery`'s: the due time in pieces an index serves each. */
  readonly parts?: readonly DuePart[];
  readonly at: SQL<number | null>;
  /** Orders rows due at the same moment (the primary key; text goes through `bytewise`). */
  readonly tiebreak: PgColumn | SQL;
  readonly toItem: (row: TTable['$inferSelect']) => T;
}): DueQuery<T> {
  const { ctx, table, waiting, at, parts } = spec;
  const dueBy = (now: Date) =>
    parts === undefined
      ? and(waiting, lte(at, now.getTime()))
      : or(...parts.map((p) => and(p.waiting, lte(p.at, now.getTime()))));
  return {
    due: (now) =>
      ctx.read(`${spec.name}.due`, async (db) => {
        const rows = (await db
          .select()
          .from(table as PgTable)
          .where(dueBy(now))
          .orderBy(asc(at), asc(spec.tiebreak))) as TTable['$inferSelect'][];
        return rows.map(spec.toItem);
      }),
    next: () =>
      ctx.read(`${spec.name}.next`, async (db) => {
        // bigint arrives as a string: read the minimum back as a number (NULL stays null).
        if (parts !== undefined) {
          const { rows } = await db.execute<{ at: string | null }>(leastOfParts(table, parts));
          const least = rows[0]?.at;
          return least == null ? undefined : new Date(Number(least));
        }
        const [row] = await db
          .select({ at: sql`min(${at})`.mapWith(Number) })
          .from(table as PgTable)
          .where(waiting);
        return row?.at == null ? undefined : new Date(row.at);
      }),
  };
}
