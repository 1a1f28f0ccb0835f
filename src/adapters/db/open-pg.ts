import path from 'node:path';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { Pool, type PoolConfig } from 'pg';
import { toDbError } from './db-error';
import * as pgSchema from './pg-schema';

/** The drizzle database over the PostgreSQL schema. */
export type PgDb = NodePgDatabase<typeof pgSchema>;

/** An open, migrated PostgreSQL database: drizzle for queries, the pool for raw clients. */
export type PgHandle = {
  readonly db: PgDb;
  readonly pool: Pool;
  /** Ends the pool; calling it again does nothing. */
  close(): Promise<void>;
};

/** The repository's `drizzle/postgres/` folder (found from `src/` and `dist/` alike, as `MIGRATIONS_FOLDER`). */
export const PG_MIGRATIONS_FOLDER = path.resolve(__dirname, '../../../drizzle/postgres');

/**
 * The session-level advisory lock held while migrating (ASCII 'hallpass' as a bigint), so replicas
 * starting at once migrate one after another. A string: it does not fit a JavaScript number.
 */
export const PG_MIGRATION_LOCK_KEY = '7521412065683141491';

/**
 * The transaction-level advisory lock the `audit_events_linked` trigger takes before it reads the last
 * event (ASCII 'hp:audit'), so appends queue as SQLite's single writer does. Written into the
 * migration `drizzle/postgres/0001_audit_append_only_and_chain.sql`; a writer that reads the last hash
 * before appending takes it first (`SELECT pg_advisory_xact_lock(…)`).
 */
export const PG_AUDIT_APPEND_LOCK_KEY = '7525579167591852404';

export type OpenPostgresOptions = {
  /** Where the migrations are; the repository's `drizzle/postgres/` by default. */
  readonly migrationsFolder?: string;
  /** Pool settings besides the URL (size, timeouts). */
  readonly pool?: Omit<PoolConfig, 'connectionString'>;
  /**
   * Called when an idle pooled connection fails (the server restarted, a network cut). The pool has
   * already dropped it and the next query opens a new one; without a listener such an error would end
   * the process.
   */
  readonly onIdleError?: (error: Error) => void;
};

/**
 * Connects to the PostgreSQL database at `url` and brings its schema up to date. Migrating happens on
 * one dedicated connection holding `pg_advisory_lock(PG_MIGRATION_LOCK_KEY)`: a replica starting while
 * another migrates waits for it, then finds nothing left to do — drizzle's migrator creates its schema
 * and table with IF NOT EXISTS and applies the missing migrations in one transaction, neither of which
 * is safe to run twice at once. Running it on an up-to-date database changes nothing. Failures are
 * `DbError`s named `db.open` or `db.migrate`; the pool is ended before one is thrown.
 */
export async function openPostgres(url: string, options: OpenPostgresOptions = {}): Promise<PgHandle> {
  const migrationsFolder = options.migrationsFolder ?? PG_MIGRATIONS_FOLDER;
  const pool = new Pool({ ...options.pool, connectionString: url });
  pool.on('error', (e) => options.onIdleError?.(e));
  try {
    await migrateLocked(pool, migrationsFolder);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return pgHandle(pool);
}

/** The handle over an open pool: drizzle for queries, the pool, an idempotent close. */
export function pgHandle(pool: Pool): PgHandle {
  let closed = false;
  return {
    db: drizzle({ client: pool, schema: pgSchema }),
    pool,
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

async function migrateLocked(pool: Pool, migrationsFolder: string): Promise<void> {
  const client = await pool.connect().catch((e: unknown) => {
    throw toDbError('db.open', e);
  });
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PG_MIGRATION_LOCK_KEY]);
    await migrate(drizzle({ client }), { migrationsFolder });
    await client.query('SELECT pg_advisory_unlock($1)', [PG_MIGRATION_LOCK_KEY]);
    client.release();
  } catch (e) {
    // Destroying the connection releases the session lock, whatever state the failure left it in.
    client.release(true);
    throw toDbError('db.migrate', e);
  }
}
