import { type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';

/**
 * Batches of ids, for the stores' `…All` methods (a batch of closes), on both engines. One statement
 * binds at most `IDS_PER_STATEMENT` ids in its `IN (…)`: SQLite refuses more bound parameters than its
 * limit (999 before 3.32), PostgreSQL more than 65,535, and a very long list plans badly anyway. A batch
 * of 5,000 ids is then ten statements.
 */

/** The most ids one statement binds. */
export const IDS_PER_STATEMENT = 500;

/** Text in code-unit order: SQLite's BINARY collation (and PostgreSQL's `COLLATE "C"`) for ASCII ids. */
export const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * `ids` without repeats (an id in two lists would be counted, or moved, twice), in code-unit order so
 * batches and what they return come out in one order on every engine, cut into lists of at most `size`.
 */
export function idChunks(ids: readonly string[], size = IDS_PER_STATEMENT): string[][] {
  const unique = [...new Set(ids)].sort(byText);
  const chunks: string[][] = [];
  for (let i = 0; i < unique.length; i += size) chunks.push(unique.slice(i, i + size));
  return chunks;
}

/** Items of a batch in id order (an UPDATE … RETURNING returns its rows in no set order). */
export const inIdOrder = <T extends { readonly id: string }>(items: T[]): T[] =>
  items.sort((a, b) => byText(a.id, b.id));

/**
 * SQLite's `column IN (…ids)` as one SQL text whatever the number of ids: the list is bound as a single
 * JSON array and read back with `json_each`. drizzle's `inArray` writes one `?` per id, so each length
 * of list is a statement of its own: batches of closes of every size from 1 to `IDS_PER_STATEMENT`
 * filled the connection's statement cache with one-off statements, pushed the hot ones out, and kept
 * their compiled programs in native memory until collected. The planner still looks each id up by
 * `column`'s index (an `IN` over a subquery becomes index probes).
 */
export const sqliteIdIn = (column: SQLiteColumn, ids: readonly string[]): SQL =>
  sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;
