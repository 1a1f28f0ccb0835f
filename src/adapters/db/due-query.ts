import { and, asc, lte, type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import type { SyncDueQuery } from './sync-gate';

/**
 * A `DueQuery` on one table, built from one predicate (`waiting`: rows this kind of work still has to
 * do) and one due time (`at`, epoch ms): `due` and `next` read exactly the same rows, so they cannot
 * disagree. A row whose `at` is NULL is never due.
 */
export function sqliteDueQuery<TTable extends SQLiteTable, T>(spec: {
  /** For error messages, e.g. `grants.closes`. */
  readonly name: string;
  readonly db: Db;
  readonly table: TTable;
  readonly waiting: SQL | undefined;
  readonly at: SQL<number | null>;
  /** Orders rows due at the same moment (the primary key). */
  readonly tiebreak: SQLiteColumn;
  readonly toItem: (row: TTable['$inferSelect']) => T;
}): SyncDueQuery<T> {
  const { db, table, waiting, at } = spec;
  return {
    due: (now) =>
      withDbErrors(`${spec.name}.due`, () =>
        (
          db
            .select()
            .from(table as SQLiteTable)
            .where(and(waiting, lte(at, now.getTime())))
            .orderBy(asc(at), asc(spec.tiebreak))
            .all() as TTable['$inferSelect'][]
        ).map(spec.toItem),
      ),
    next: () =>
      withDbErrors(`${spec.name}.next`, () => {
        const row = db
          .select({ at: sql<number | null>`min(${at})` })
          .from(table as SQLiteTable)
          .where(waiting)
          .get();
        return row?.at == null ? undefined : new Date(row.at);
      }),
  };
}
