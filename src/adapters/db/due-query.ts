import { and, asc, lte, or, type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { withDbErrors } from './db-error';
import type { DuePart } from './due-times';
import type { Db } from './open-db';
import type { SyncDueQuery } from './sync-gate';

/**
 * A `DueQuery` on one table, built from one predicate (`waiting`: rows this kind of work still has to
 * do) and one due time (`at`, epoch ms): `due` and `next` read exactly the same rows, so they cannot
 * disagree. A row whose `at` is NULL is never due. Given `parts` instead of `waiting` (`DuePart`), the
 * due time is theirs, read piece by piece: `next` is the least of each piece's minimum and `due` the rows
 * any piece finds due; `at` must be the same time as one expression (it orders what is due).
 */
export function sqliteDueQuery<TTable extends SQLiteTable, T>(spec: {
  /** For error messages, e.g. `grants.closes`. */
  readonly name: string;
  readonly db: Db;
  readonly table: TTable;
  readonly waiting?: SQL | undefined;
  readonly parts?: readonly DuePart[];
  readonly at: SQL<number | null>;
  /** Orders rows due at the same moment (the primary key). */
  readonly tiebreak: SQLiteColumn;
  readonly toItem: (row: TTable['$inferSelect']) => T;
}): SyncDueQuery<T> {
  const { db, table, waiting, at, parts } = spec;
  // `next` has no parameter of its own: on one table it is built and prepared once, at its first run
  // (the scheduler asks after every change). The parts' statement is drizzle SQL, run as it is built.
  let nextOfTable: { get(): { at: number | null } | undefined } | undefined;
  const nextOnTable = () => {
    nextOfTable ??= db
      .select({ at: sql<number | null>`min(${at})` })
      .from(table as SQLiteTable)
      .where(waiting)
      .prepare();
    return nextOfTable.get();
  };
  const dueBy = (now: Date) =>
    parts === undefined
      ? and(waiting, lte(at, now.getTime()))
      : or(...parts.map((p) => and(p.waiting, lte(p.at, now.getTime()))));
  return {
    due: (now) =>
      withDbErrors(`${spec.name}.due`, () =>
        (
          db
            .select()
            .from(table as SQLiteTable)
            .where(dueBy(now))
            .orderBy(asc(at), asc(spec.tiebreak))
            .all() as TTable['$inferSelect'][]
        ).map(spec.toItem),
      ),
    next: () =>
      withDbErrors(`${spec.name}.next`, () => {
        const row =
          parts === undefined ? nextOnTable() : db.get<{ at: number | null }>(leastOfParts(table, parts));
        return row?.at == null ? undefined : new Date(row.at);
      }),
  };
}

/** The least of each part's minimum due time, in one statement both engines read alike (NULL when none). */
export function leastOfParts(table: unknown, parts: readonly DuePart[]): SQL {
  return sql`SELECT min(x) AS at FROM (${sql.join(
    parts.map((p) => sql`SELECT min(${p.at}) AS x FROM ${table} WHERE ${p.waiting}`),
    sql` UNION ALL `,
  )}) AS parts`;
}
