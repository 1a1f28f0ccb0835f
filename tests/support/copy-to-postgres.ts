import type Database from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';

/** Tables in an order their foreign keys allow (a request before its grant, a grant before its rows). */
const TABLES = [
  'requests',
  'grants',
  'approvals',
  'role_sessions',
  'rule_holds',
  'connection_cuts',
  'backstops',
  'outbox',
  'audit_events',
] as const;

/** The identity column of each table that has one (SQLite's AUTOINCREMENT keys). */
const IDENTITY: Partial<Record<(typeof TABLES)[number], string>> = {
  approvals: 'id',
  rule_holds: 'id',
  connection_cuts: 'id',
  outbox: 'id',
  audit_events: 'seq',
};

/**
 * Copies every row of a SQLite hallpass database into an empty, migrated PostgreSQL one, column for
 * column as stored (the two schemas share names and values), the way an operator moving to PostgreSQL
 * would: the audit triggers are off for the copy (legacy events have no seal), and each identity
 * continues after the copied keys.
 */
export function copySqliteToPostgres(sqlite: Database.Database, pool: Pool): Promise<void> {
  return withAuditTriggersOff(pool, async (client) => {
    for (const table of TABLES) {
      const rows = sqlite.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
      for (const row of rows) {
        const columns = Object.keys(row);
        await client.query(
          `INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')}) OVERRIDING SYSTEM VALUE VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          columns.map((c) => row[c]),
        );
      }
      const key = IDENTITY[table];
      if (key !== undefined && rows.length > 0) {
        await client.query(
          `SELECT setval(pg_get_serial_sequence('${table}', '${key}'), max(${key})) FROM ${table}`,
        );
      }
    }
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
