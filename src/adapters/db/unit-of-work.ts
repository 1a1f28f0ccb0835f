import type Database from 'better-sqlite3';
import type { UnitOfWork } from '../../app/ports';
import { toDbError } from './db-error';

type Phase = 'begin' | 'body' | 'commit';

/**
 * `UnitOfWork` over one better-sqlite3 connection. `BEGIN IMMEDIATE` takes the write lock up front, so
 * a read-check-write inside cannot fail half-way on lock upgrade; a throw rolls everything back; a
 * nested `tx` becomes a savepoint. `fn` must be synchronous: the driver refuses (and rolls back) a
 * function that returns a promise, which keeps Slack and AWS calls out of transactions.
 */
export function createSqliteUnitOfWork(sqlite: Database.Database): UnitOfWork {
  return {
    tx: <T>(fn: () => T): T => {
      // Cast so control-flow analysis does not pin the phase to 'begin' in the catch below.
      let phase = 'begin' as Phase;
      const run = sqlite.transaction((): T => {
        phase = 'body';
        const value = fn();
        phase = 'commit';
        return value;
      });
      try {
        return run.immediate();
      } catch (e) {
        // What `fn` throws is the caller's (stores already name their operation) and passes through
        // untouched; a failure to begin or commit, or a promise returned by `fn`, is the transaction's own.
        throw phase === 'body' ? e : toDbError('uow.tx', e);
      }
    },
  };
}
