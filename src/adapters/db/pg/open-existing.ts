import { readMigrationFiles } from 'drizzle-orm/migrator';
import { Pool } from 'pg';
import { DbError, toDbError } from '../db-error';
import { PG_MIGRATIONS_FOLDER, type PgHandle, pgHandle } from '../open-pg';

/** Whether `HALLPASS_DB` names a PostgreSQL database rather than a SQLite file (in ../db-url.ts, which loads no `pg`). */
export { isPostgresUrl } from '../db-url';

/** `url` without its password, to show in a message. */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'the PostgreSQL URL (unparseable)';
  }
}

/** SQLSTATEs and socket errors meaning "no such database here" or "no server answers". */
const NO_DATABASE = new Set(['3D000']);
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '28P01',
  '28000',
]);

/**
 * Opens an existing, already migrated PostgreSQL database without migrating it — the counterpart of
 * `openExistingDatabase` for the audit CLI. Read-only by default: every transaction of the pool starts
 * `READ ONLY` (`default_transaction_read_only`), so any write fails. Migrating is the bot's job. Throws
 * `DbError` `NOT_FOUND` for a database the server does not have, `UNREACHABLE` when no server answers
 * or it refuses the login, and `SCHEMA_OUTDATED` for a database whose migrations lag behind this code.
 */
export async function openExistingPostgres(
  url: string,
  options: { readonly write: boolean },
): Promise<PgHandle> {
  const pool = new Pool({
    connectionString: url,
    max: 2,
    connectionTimeoutMillis: 10_000,
    ...(options.write ? {} : { options: '-c default_transaction_read_only=on' }),
  });
  pool.on('error', () => {});
  const shown = withoutPassword(url);
  try {
    let applied: number | undefined;
    try {
      const table = await pool.query<{ name: string | null }>(
        "SELECT to_regclass('drizzle.__drizzle_migrations')::text AS name",
      );
      const { rows } =
        table.rows[0]?.name === null
          ? { rows: [] }
          : await pool.query<{ at: string | null }>(
              'SELECT max(created_at)::text AS at FROM drizzle.__drizzle_migrations',
            );
      const at = Number(rows[0]?.at ?? Number.NaN);
      applied = Number.isFinite(at) ? at : undefined;
    } catch (e) {
      const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
      const message = e instanceof Error ? e.message : String(e);
      if (NO_DATABASE.has(code)) {
        throw new DbError('db.openExisting', 'NOT_FOUND', `no database at ${shown}: ${message}`, {
          cause: e,
        });
      }
      if (UNREACHABLE.has(code)) {
        throw new DbError('db.openExisting', 'UNREACHABLE', `cannot reach ${shown}: ${message}`, {
          cause: e,
        });
      }
      throw toDbError('db.openExisting', e);
    }
    const latest = readMigrationFiles({ migrationsFolder: PG_MIGRATIONS_FOLDER }).reduce(
      (max, m) => Math.max(max, m.folderMillis),
      0,
    );
    if (applied === undefined || applied < latest) {
      throw new DbError(
        'db.openExisting',
        'SCHEMA_OUTDATED',
        applied === undefined
          ? `${shown} is not a hallpass database (it has no migrations table)`
          : `${shown} has not been migrated to this version of hallpass: start hallpass once to migrate it`,
      );
    }
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return pgHandle(pool);
}
