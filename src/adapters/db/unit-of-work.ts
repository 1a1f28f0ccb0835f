import type Database from 'better-sqlite3';
import { createSyncGate, type SyncGate } from './sync-gate';

/**
 * The gate over one better-sqlite3 connection, whose `tx` is the `UnitOfWork`. `BEGIN IMMEDIATE` takes
 * the write lock up front, so a read-check-write inside cannot fail half-way on lock upgrade; a throw
 * rolls everything back; a `tx` inside another is a savepoint.
 */
export function createSqliteGate(sqlite: Database.Database): SyncGate {
  return createSyncGate({
    begin: (depth) => sqlite.exec(depth === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT hallpass_${depth}`),
    commit: (depth) => sqlite.exec(depth === 0 ? 'COMMIT' : `RELEASE hallpass_${depth}`),
    rollback: (depth) => {
      if (!sqlite.inTransaction) return;
      if (depth === 0) sqlite.exec('ROLLBACK');
      else sqlite.exec(`ROLLBACK TO hallpass_${depth}; RELEASE hallpass_${depth}`);
    },
  });
}
