import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** The lock file next to a SQLite database: `hallpass.db` → `hallpass.db.lock`. */
export const lockFileOf = (file: string): string => `${file}.lock`;

/** Another process holds the database: start-up stops with this message, before touching AWS. */
export class DatabaseHeldError extends Error {
  constructor(file: string) {
    super(
      `HALLPASS_DB: another hallpass process holds the SQLite database ${file} (its lock file ${lockFileOf(file)} is locked). ` +
        'A SQLite database serves one hallpass process at a time; stop the other one first. ' +
        'To run several replicas at once, use PostgreSQL (a postgres:// URL in HALLPASS_DB; see docs/operations.md, Running several replicas).',
    );
    this.name = 'DatabaseHeldError';
  }
}

/** Held while the process runs; `release` lets go (idempotent). */
export type ProcessLock = { release(): void };

/**
 * Makes this process the only hallpass on the SQLite database at `file`, or throws `DatabaseHeldError`.
 *
 * The lock is SQLite's own, on a side database (`<file>.lock`) in which this process opens a
 * `BEGIN EXCLUSIVE` transaction and never ends it. SQLite takes it as a POSIX advisory lock on the
 * file, which the kernel drops when the process dies, however it dies (`kill -9` included): no stale
 * lock to clean up, no staleness timeout to guess (as lock-by-directory libraries need), no new
 * dependency, and SQLite also keeps it exact between two connections of one process. The side file, not
 * the database itself: the database must stay readable and writable by the audit CLI
 * (`npm run audit`, read-only while the bot runs) and `npm run db:copy`, which a lock on it would stop.
 * Nothing is ever written to the side file; deleting it while a hallpass runs defeats the check.
 */
export function holdDatabaseFile(file: string): ProcessLock {
  const lockFile = lockFileOf(file);
  mkdirSync(path.dirname(path.resolve(lockFile)), { recursive: true });
  const lock = new Database(lockFile);
  try {
    // Fail at once rather than wait: another process holding it is an answer, not contention.
    lock.pragma('busy_timeout = 0');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    lock.close();
    const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new DatabaseHeldError(file);
    throw error;
  }
  return {
    release: () => {
      // Closing rolls the empty transaction back and drops the lock.
      if (lock.open) lock.close();
    },
  };
}
