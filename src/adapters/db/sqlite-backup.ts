import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DbError, toDbError, withDbErrors } from './db-error';

/** What `backupSqlite` made. */
export type SqliteBackup = {
  /** The backup file: one self-contained SQLite file (rollback journal, no `-wal` beside it). */
  readonly file: string;
  readonly bytes: number;
  /** Migrations applied to the database backed up (and so to the copy). */
  readonly migrations: number;
  /** Events in the copy's audit log. */
  readonly auditEvents: number;
};

/** How long the backup's reads wait for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

/** The largest page count better-sqlite3 takes for one step: the whole database in one read. */
const ALL_PAGES = 0x7fffffff;

/**
 * Copies the hallpass SQLite database `from` into the new file `to` while hallpass may be running on it
 * and writing: SQLite's online backup API (better-sqlite3's `backup`), taken in one step so the copy is
 * one consistent snapshot, pages still in the write-ahead log included. Copying `hallpass.db` with
 * `cp` is not a backup: the latest commits may be in `hallpass.db-wal` only, and a copy taken during a
 * checkpoint can be torn. The writer is never blocked (WAL readers do not block it).
 *
 * The copy is written next to `to` under a temporary name, switched to a rollback journal (a single
 * file, restorable and readable on its own), checked with `PRAGMA integrity_check`, and only then
 * renamed to `to`: a failed backup leaves nothing at `to`. The source is not migrated and may be from
 * an older version of hallpass (a backup before an upgrade). Throws `DbError` `NOT_FOUND` for a missing
 * source, `NOT_HALLPASS` for a file without hallpass's migrations table, `TARGET_EXISTS` when `to` exists,
 * and `INTEGRITY` when the copy does not pass the check.
 */
export async function backupSqlite(from: string, to: string): Promise<SqliteBackup> {
  if (!existsSync(from)) throw new DbError('db.backup', 'NOT_FOUND', `no database at ${from}`);
  if (existsSync(to)) {
    throw new DbError('db.backup', 'TARGET_EXISTS', `${to} already exists: give the backup a new file name`);
  }
  const source = withDbErrors('db.backup', () => new Database(from, { fileMustExist: true }));
  const partial = path.join(path.dirname(path.resolve(to)), `.${path.basename(to)}.partial-${process.pid}`);
  try {
    withDbErrors('db.backup', () => source.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`));
    const migrations = countRows(source, '__drizzle_migrations');
    if (migrations === undefined) {
      throw new DbError(
        'db.backup',
        'NOT_HALLPASS',
        `${from} is not a hallpass database (no migrations table)`,
      );
    }
    mkdirSync(path.dirname(partial), { recursive: true });
    await source.backup(partial, { progress: () => ALL_PAGES }).catch((e: unknown) => {
      throw toDbError('db.backup', e);
    });
    const auditEvents = sealCopy(partial);
    renameSync(partial, to);
    return { file: to, bytes: statSync(to).size, migrations, auditEvents };
  } finally {
    source.close();
    for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${partial}${suffix}`, { force: true });
  }
}

/**
 * Makes the fresh copy a single file and checks it: the pages copied carry the source's WAL mode, which
 * would have the copy grow `-wal` and `-shm` files wherever it is opened. Returns its audit events.
 */
function sealCopy(file: string): number {
  const copy = withDbErrors('db.backup', () => new Database(file, { fileMustExist: true }));
  try {
    return withDbErrors('db.backup', () => {
      copy.pragma('journal_mode = DELETE');
      const problems = copy.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
      const report = problems.map((p) => p.integrity_check);
      if (report.length !== 1 || report[0] !== 'ok') {
        throw new DbError(
          'db.backup',
          'INTEGRITY',
          `the copy does not pass integrity_check: ${report.join('; ')}`,
        );
      }
      return countRows(copy, 'audit_events') ?? 0;
    });
  } finally {
    copy.close();
  }
}

/** The number of rows in `table`, or undefined when the database has no such table. */
function countRows(
  db: Database.Database,
  table: '__drizzle_migrations' | 'audit_events',
): number | undefined {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
  if (exists === undefined) return undefined;
  const row = db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number };
  return row.n;
}
