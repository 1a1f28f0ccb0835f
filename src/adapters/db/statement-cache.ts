import type Database from 'better-sqlite3';

/** How many prepared statements a connection keeps: far more than the distinct queries hallpass runs. */
export const STATEMENT_CACHE_SIZE = 256;

/** A bounded cache of prepared statements keyed by their SQL; what `withStatementCache` installs. */
export type StatementCache = {
  /** A prepared statement for `sql`: the cached one when free, else a new one (kept unless busy). */
  prepare(sql: string): Database.Statement;
  /** How many statements are kept now (at most the bound). */
  readonly size: number;
  /** SQL of the kept statements, least recently used first (tests: the eviction order). */
  keys(): string[];
};

/**
 * A least-recently-used cache of at most `max` prepared statements of `sqlite`, keyed by SQL.
 *
 * drizzle prepares every query it runs again (`client.prepare(sql)` on each call): SQLite parses and
 * plans the statement anew each time, about 160 µs against a few µs to run a prepared one. The SQL
 * drizzle builds for a query is the same text every time (values are bound, never inlined), so one
 * prepared statement per text serves every call.
 *
 * A statement handed out is as `prepare` would make it: raw, pluck and expand modes are switched off
 * (drizzle switches raw on for queries with selected fields and reads rows as objects otherwise, so a
 * statement left raw by one call would give the next one arrays). A statement still busy (an
 * unfinished `iterate()`) is never handed out twice: its caller gets a fresh, uncached one. An evicted
 * statement is only forgotten; whoever still holds it can keep running it.
 */
export function createStatementCache(sqlite: Database.Database, max = STATEMENT_CACHE_SIZE): StatementCache {
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`a statement cache holds at least 1, not ${max}`);
  // A Map iterates in insertion order: re-inserting on each hit keeps the least recently used first.
  const kept = new Map<string, Database.Statement>();
  return {
    prepare(sql) {
      const cached = kept.get(sql);
      if (cached !== undefined && !cached.busy) {
        kept.delete(sql);
        kept.set(sql, cached);
        if (cached.reader) cached.raw(false).pluck(false).expand(false);
        return cached;
      }
      const statement = sqlite.prepare(sql);
      if (cached === undefined) {
        kept.set(sql, statement);
        if (kept.size > max) {
          const oldest = kept.keys().next();
          if (oldest.done !== true) kept.delete(oldest.value);
        }
      }
      return statement;
    },
    get size() {
      return kept.size;
    },
    keys: () => [...kept.keys()],
  };
}

/**
 * The connection as drizzle should see it: the same connection (every other method, transactions
 * included, is the connection's own), whose `prepare` goes through a statement cache of `max`.
 */
export function withStatementCache(
  sqlite: Database.Database,
  max = STATEMENT_CACHE_SIZE,
): { readonly client: Database.Database; readonly cache: StatementCache } {
  const cache = createStatementCache(sqlite, max);
  // Every better-sqlite3 method reaches the native connection through `this`, found on the prototype;
  // only `prepare` is this object's own.
  const client: Database.Database = Object.create(sqlite, {
    prepare: { value: (sql: string) => cache.prepare(sql), enumerable: false },
  });
  return { client, cache };
}
