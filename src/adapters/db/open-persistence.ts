import { isPostgresUrl } from './db-url';
import { openSqlitePersistence, type Persistence, type PersistenceOptions } from './persistence';

/**
 * `HALLPASS_DB`: a `postgres://` or `postgresql://` URL means PostgreSQL; anything else is a SQLite file path.
 * The PostgreSQL adapter (and `pg` with it) is loaded only for a URL, so a SQLite start spends neither
 * the time nor the memory. `require`, not `import()`: the build is CommonJS, and jest runs these files
 * without ES-module support in its VM.
 */
export async function openPersistence(target: string, options: PersistenceOptions): Promise<Persistence> {
  if (isPostgresUrl(target)) {
    const { openPostgresPersistence } = require('./pg/persistence') as typeof import('./pg/persistence');
    return openPostgresPersistence(target, options);
  }
  return openSqlitePersistence(target, options);
}
