import type { ClientBase, PoolClient } from 'pg';
import { type DbHandle, openDatabase } from '../../src/adapters/db/open-db';
import { openPostgres, type PgHandle } from '../../src/adapters/db/open-pg';

/**
 * The same raw SQL against SQLite and PostgreSQL, for the tests that hold the two schemas to the same
 * behaviour. Statements use `?` placeholders (turned into `$1`, `$2`, … for PostgreSQL) and plain SQL
 * both engines read alike. What an engine did is reduced to an `Outcome`, so the two can be compared.
 */

export type Engine = {
  readonly name: 'sqlite' | 'postgres';
  /** Runs one statement; returns its rows (none for a write). Throws the driver's error. */
  run(sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
};

/** A migrated SQLite database. */
export const sqliteEngine = (handle: DbHandle): Engine => ({
  name: 'sqlite',
  run: async (sql, params = []) => {
    const statement = handle.sqlite.prepare(sql);
    if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
    statement.run(...params);
    return [];
  },
});

/**
 * A PostgreSQL connection inside a transaction the test opened (and rolls back). Each statement runs
 * under a savepoint, so a refused one leaves the transaction usable, as a refused statement leaves a
 * SQLite connection.
 */
export const pgEngine = (client: ClientBase): Engine => ({
  name: 'postgres',
  run: async (sql, params = []) => {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    await client.query('SAVEPOINT statement');
    try {
      const result = await client.query(text, [...params]);
      await client.query('RELEASE SAVEPOINT statement');
      return result.rows as Record<string, unknown>[];
    } catch (e) {
      await client.query('ROLLBACK TO SAVEPOINT statement');
      throw e;
    }
  },
});

/** How a statement ended: done, or refused by which kind of rule. */
export type Outcome = 'ok' | 'check' | 'unique' | 'not-null' | 'foreign-key' | 'trigger' | `other ${string}`;

const SQLITE_CODES: Record<string, Outcome> = {
  SQLITE_CONSTRAINT_CHECK: 'check',
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_NOTNULL: 'not-null',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign-key',
  SQLITE_CONSTRAINT_TRIGGER: 'trigger',
};

/** SQLSTATEs; the audit triggers raise 23000 (integrity_constraint_violation). */
const PG_CODES: Record<string, Outcome> = {
  '23514': 'check',
  '23505': 'unique',
  '23502': 'not-null',
  '23503': 'foreign-key',
  '23000': 'trigger',
};

export type Result = { readonly outcome: Outcome; readonly message: string };

/** Runs `sql` and says how it ended, with the engine's message ('' when it succeeded). */
export async function attempt(engine: Engine, sql: string, params: readonly unknown[] = []): Promise<Result> {
  try {
    await engine.run(sql, params);
    return { outcome: 'ok', message: '' };
  } catch (e) {
    // Read, not `instanceof Error`: a driver's error may come from another realm than jest's sandbox.
    const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
    const message = typeof e === 'object' && e !== null && 'message' in e ? String(e.message) : String(e);
    const table = engine.name === 'sqlite' ? SQLITE_CODES : PG_CODES;
    return { outcome: table[code] ?? `other ${code}: ${message}`, message };
  }
}

/**
 * Both engines, fresh for each test: a migrated SQLite database in memory, and a PostgreSQL connection
 * to `database` (migrated once, in `beforeAll`) inside a transaction rolled back after the test.
 */
export function withBothEngines(database: { readonly url: string }): {
  readonly engines: readonly [Engine, Engine];
  readonly sqlite: DbHandle;
  readonly postgres: PgHandle;
} {
  let postgres: PgHandle | undefined;
  let current: { sqlite: DbHandle; client: PoolClient; engines: [Engine, Engine] } | undefined;
  beforeAll(async () => {
    postgres = await openPostgres(database.url);
  });
  afterAll(async () => {
    await postgres?.close();
  });
  beforeEach(async () => {
    if (postgres === undefined) throw new Error('PostgreSQL did not open');
    const sqlite = openDatabase(':memory:');
    const client = await postgres.pool.connect();
    await client.query('BEGIN');
    current = { sqlite, client, engines: [sqliteEngine(sqlite), pgEngine(client)] };
  });
  afterEach(async () => {
    if (current === undefined) return;
    await current.client.query('ROLLBACK');
    current.client.release();
    current.sqlite.close();
    current = undefined;
  });
  const now = () => {
    if (current === undefined || postgres === undefined)
      throw new Error('the engines exist only inside tests');
    return { ...current, postgres };
  };
  return {
    get engines() {
      return now().engines;
    },
    get sqlite() {
      return now().sqlite;
    },
    get postgres() {
      return now().postgres;
    },
  };
}
