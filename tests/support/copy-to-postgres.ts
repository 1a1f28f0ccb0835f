import type Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { copyDatabase } from '../../src/adapters/db/db-copy';
import { pgHandle } from '../../src/adapters/db/open-pg';
import { postgresCopyTarget } from '../../src/adapters/db/pg/copy';
import * as schema from '../../src/adapters/db/schema';
import { sqliteCopySource } from '../../src/adapters/db/sqlite-copy';

/**
 * Copies every row of a SQLite hallpass database into an empty, migrated PostgreSQL one with
 * `npm run db:copy`'s own copy (src/adapters/db/db-copy.ts), the way an operator moving to PostgreSQL
 * would — forced, so a log a test has tampered with or sealed under a key it does not give is copied
 * as it is (and must still read on PostgreSQL exactly as on SQLite, or the copy throws). The caller
 * keeps both connections open.
 */
export async function copySqliteToPostgres(sqlite: Database.Database, pool: Pool): Promise<void> {
  const source = sqliteCopySource(
    { db: drizzle({ client: sqlite, schema }), sqlite, close: () => {} },
    'sqlite',
  );
  await copyDatabase(source, postgresCopyTarget(pgHandle(pool), 'postgres'), {
    keys: undefined,
    force: true,
  });
}

/**
 * Runs `fn` in one transaction with the audit table's triggers disabled — what its owner (or a
 * superuser) can do to append-only rows — and enabled again before it commits.
 */
export async function withAuditTriggersOff(
  pool: Pool,
  fn: (client: PoolClient) => Promise<void>,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await fn(client);
    await client.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  } finally {
    client.release();
  }
}
