import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { DbError, withDbErrors } from './db-error';
import * as schema from './schema';
import { withStatementCache } from './statement-cache';

/** The drizzle database over our schema. */
export type Db = BetterSQLite3Database<typeof schema>;

/** An open, migrated database: drizzle for queries, the raw connection for transactions and pragmas. */
export type DbHandle = {
  readonly db: Db;
  readonly sqlite: Database.Database;
  /** Closes the connection; calling it again does nothing. */
  close(): void;
};

/**
 * The repository's `drizzle/sqlite/` folder. Both `src/adapters/db` (ts-jest, tsx) and the compiled
 * `dist/adapters/db` sit three levels below the repository root, so one relative path serves both.
 * Moving the folder (it was `drizzle/`) changes nothing for an existing database: the migrator
 * compares each migration's journal `when` with the newest `created_at` it recorded, never a path.
 */
export const MIGRATIONS_FOLDER = path.resolve(__dirname, '../../../drizzle/sqlite');

/** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;
/**
 * SQLite's page cache, in KiB (`PRAGMA cache_size` takes it negative). better-sqlite3 builds SQLite with
 * 16 MiB per connection, which a growing database fills: a jemalloc heap profile of the soak put all of
 * the process's native growth in it and in compiled statements. The hot pages — live grants and holds,
 * waiting outbox rows, the audit tail — fit in far less, and a miss is a read from the OS's file cache.
 * Measured: 10,000 requests opened and closed end 14–16 MiB lower, acks and mass expiry unchanged.
 */
export const PAGE_CACHE_KIB = 4_000;

const isMemory = (file: string): boolean => file === ':memory:' || file === '';

/**
 * Opens (creating if needed) the SQLite database at `file`, or an in-memory one for `:memory:`, and
 * brings its schema up to date. Running it on an up-to-date database changes nothing.
 */
export function openDatabase(file: string, options: { migrationsFolder?: string } = {}): DbHandle {
  const migrationsFolder = options.migrationsFolder ?? MIGRATIONS_FOLDER;
  const sqlite = withDbErrors('db.open', () => {
    if (!isMemory(file)) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    return new Database(file);
  });
  try {
    withDbErrors('db.configure', () => {
      // WAL lets readers (an admin's `sqlite3` shell, a backup) run while the bot writes; a memory db has no WAL.
      if (!isMemory(file)) sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      sqlite.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    });
    const handle = handleOver(sqlite);
    withDbErrors('db.migrate', () => migrate(handle.db, { migrationsFolder }));
    return handle;
  } catch (e) {
    sqlite.close();
    throw e;
  }
}

/**
 * The handle over an open connection: drizzle for queries, the raw connection, an idempotent close.
 * drizzle prepares through a statement cache, so a query it runs again reuses its prepared statement.
 */
function handleOver(sqlite: Database.Database): DbHandle {
  return {
    db: drizzle({ client: withStatementCache(sqlite).client, schema }),
    sqlite,
    close: () => {
      if (sqlite.open) sqlite.close();
    },
  };
}

/**
 * Opens an existing database for reading only (the audit CLI): never creates a file, never migrates,
 * and `query_only` makes any write fail. Migrating is the bot's job — a newer CLI migrating under an
 * older running bot could break it. Throws `DbError` `NOT_FOUND` for a missing file and
 * `SCHEMA_OUTDATED` for a database whose migrations lag behind this code (start hallpass once).
 */
export function openDatabaseReadOnly(file: string): DbHandle {
  return openExistingDatabase(file, { write: false });
}

/**
 * Opens an existing, already migrated database without migrating it: read-only (`query_only`), or —
 * for the audit CLI recording an export and queuing its head publication — writable. Never creates
 * a file; throws `NOT_FOUND` / `SCHEMA_OUTDATED` as `openDatabaseReadOnly` does.
 */
export function openExistingDatabase(file: string, options: { readonly write: boolean }): DbHandle {
  if (!existsSync(file)) throw new DbError('db.openReadOnly', 'NOT_FOUND', `no database at ${file}`);
  const sqlite = withDbErrors('db.openReadOnly', () => new Database(file, { fileMustExist: true }));
  try {
    withDbErrors('db.openReadOnly', () => {
      if (!options.write) sqlite.pragma('query_only = ON');
      else sqlite.pragma('foreign_keys = ON');
      sqlite.pragma('busy_timeout = 5000');
    });
    const latest = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).reduce(
      (max, m) => Math.max(max, m.folderMillis),
      0,
    );
    const applied = withDbErrors('db.openReadOnly', () => {
      const table = sqlite
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
        .get();
      if (table === undefined) return undefined;
      const row: unknown = sqlite.prepare('SELECT max(created_at) AS at FROM __drizzle_migrations').get();
      const at = typeof row === 'object' && row !== null && 'at' in row ? Number(row.at) : Number.NaN;
      return Number.isFinite(at) ? at : undefined;
    });
    if (applied === undefined || applied < latest) {
      throw new DbError(
        'db.openReadOnly',
        'SCHEMA_OUTDATED',
        applied === undefined
          ? `${file} is not a hallpass database (it has no migrations table)`
          : `${file} has not been migrated to this version of hallpass: start hallpass once to migrate it`,
      );
    }
    return handleOver(sqlite);
  } catch (e) {
    sqlite.close();
    throw e;
  }
}
