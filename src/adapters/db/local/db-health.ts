import type Database from 'better-sqlite3';
import type { DbHealth } from '../../../app/ports';

/**
 * `DbHealth` of the SQLite database: a `SELECT 1` on the open handle. It fails when the handle has
 * been closed or the file has gone bad under it; the reason is the driver's message (no path in it).
 */
export function createSqliteDbHealth(sqlite: Pick<Database.Database, 'prepare'>): DbHealth {
  return {
    async check() {
      try {
        sqlite.prepare('SELECT 1').get();
        return { ok: true };
      } catch (e) {
        return { ok: false, reason: `sqlite: ${e instanceof Error ? e.message : String(e)}` };
      }
    },
  };
}
