import { openSqlitePersistence, type Persistence, type PersistenceOptions } from './persistence';
import { isPostgresUrl } from './pg/open-existing';
import { openPostgresPersistence } from './pg/persistence';

/** `HALLPASS_DB`: a `postgres://` or `postgresql://` URL means PostgreSQL; anything else is a SQLite file path. */
export async function openPersistence(target: string, options: PersistenceOptions): Promise<Persistence> {
  if (isPostgresUrl(target)) return openPostgresPersistence(target, options);
  return openSqlitePersistence(target, options);
}
