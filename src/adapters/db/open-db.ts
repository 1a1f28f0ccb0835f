import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { withDbErrors } from './db-error';
import * as schema from './schema';

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
 * The repository's `drizzle/` folder. Both `src/adapters/db` (ts-jest, tsx) and the compiled
 * `dist/adapters/db` sit three levels below the repository root, so one relative path serves both.
 */
export const MIGRATIONS_FOLDER = path.resolve(__dirname, '../../../drizzle');

/** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

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
    });
    const db = drizzle({ client: sqlite, schema });
    withDbErrors('db.migrate', () => migrate(db, { migrationsFolder }));
    return {
      db,
      sqlite,
      close: () => {
        if (sqlite.open) sqlite.close();
      },
    };
  } catch (e) {
    sqlite.close();
    throw e;
  }
}
