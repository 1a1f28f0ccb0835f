import { Pool } from 'pg';
import { type Locks, MAX_HOME_VIEWERS } from '../../../app/ports';
import { createLocalChangeFeed } from '../local/change-feed';
import { createLocalLocks } from '../local/locks';
import { openPostgres } from '../open-pg';
import type { Persistence, PersistenceOptions } from '../persistence';
import { createPostgresAuditRecordSource, verifyPostgresAuditLogAtStart } from './audit-record';
import { createPgChangeFeed } from './pg-change-feed';
import { createPgDbHealth } from './pg-db-health';
import { createPgHomeViewers } from './pg-home-viewers';
import { createPgLocks } from './pg-locks';
import { createPgRateLimits } from './pg-rate-limits';
import { createPostgresStores } from './stores';

/**
 * How often each replica re-reads due times and the outbox besides the notifications, and so the
 * longest a dead replica's unfinished job (or a lost notification) waits for another to take it.
 */
export const PG_POLL_MS = 1_000;

/** Whether a lock is an open's (`openLockKey` in app/open-grant.ts). */
const isOpenLock = (key: string): boolean => key.startsWith('open:');

/** Connections for queries and transactions, per replica, unless `HALLPASS_DB_POOL_SIZE` says otherwise. */
export const DEFAULT_PG_POOL_SIZE = 10;

/**
 * Connections that hold locks, one per lock held, apart from the query pool so that holders never wait
 * on connections their own locks occupy. Two pools, because an open holds its grant's lock and then
 * takes its group's: were they one pool, enough opens at once could hold every connection while each
 * waits for one more. Group and job locks (a job may take group locks; a group lock takes no other):
 */
const LOCK_POOL_SIZE = 10;
/** Grants being opened (`open:<grant>`), each of which then takes a group lock from the other pool. */
const OPEN_LOCK_POOL_SIZE = 5;

/**
 * The PostgreSQL database at `url`, migrated (under an advisory lock, so replicas starting together
 * migrate once), for any number of replicas: every store, the audit log and the shared state live in
 * it; locks are advisory locks held on their own connections (a dead replica's go with its session);
 * changes reach every replica by `LISTEN`/`NOTIFY`, with a re-read every `PG_POLL_MS` as a safety net.
 */
export async function openPostgresPersistence(
  url: string,
  options: PersistenceOptions,
): Promise<Persistence> {
  const { logger } = options;
  const common = { keepAlive: true, connectionTimeoutMillis: 5_000 };
  const handle = await openPostgres(url, {
    pool: { ...common, max: options.poolSize ?? DEFAULT_PG_POOL_SIZE },
    onIdleError: (error) => logger.warn({ err: error.message }, 'a pooled database connection failed'),
  });
  const lockPools = [LOCK_POOL_SIZE, OPEN_LOCK_POOL_SIZE].map((max) => {
    const pool = new Pool({ ...common, connectionString: url, max });
    pool.on('error', (error) => logger.warn({ err: error.message }, 'a lock connection failed'));
    return pool;
  });
  const [lockPool, openLockPool] = lockPools as [Pool, Pool];
  const groupAndJobLocks = createPgLocks(lockPool, { local: createLocalLocks(), logger });
  const openLocks = createPgLocks(openLockPool, { local: createLocalLocks(), logger });
  const locks: Locks = {
    run: (key, fn) => (isOpenLock(key) ? openLocks : groupAndJobLocks).run(key, fn),
    tryRun: (key, fn) => (isOpenLock(key) ? openLocks : groupAndJobLocks).tryRun(key, fn),
  };
  const stores = createPostgresStores(handle, { key: options.auditKeys?.current });
  const changes = createPgChangeFeed({
    pool: handle.pool,
    listen: { ...common, connectionString: url },
    local: createLocalChangeFeed({ logger }),
    logger,
  });
  return {
    engine: 'postgres',
    stores,
    auditRecord: createPostgresAuditRecordSource(handle.db, options.auditKeys),
    verifyAuditAtStart: (args) =>
      verifyPostgresAuditLogAtStart({ ...args, db: handle.db, audit: stores.audit }),
    locks,
    rateLimits: createPgRateLimits(handle.pool),
    homeViewers: createPgHomeViewers(handle.pool, { max: MAX_HOME_VIEWERS }),
    changes,
    health: createPgDbHealth(handle.pool),
    pollMs: PG_POLL_MS,
    close: async () => {
      await changes.close();
      for (const pool of lockPools) await pool.end().catch(() => undefined);
      await handle.close();
    },
  };
}
