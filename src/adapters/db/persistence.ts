import type { AuditKeyring, AuditRecordSource } from '../../app/audit-ports';
import {
  type ChangeFeed,
  type DbHealth,
  type HomeViewers,
  type Locks,
  type Logger,
  MAX_HOME_VIEWERS,
  type RateLimits,
} from '../../app/ports';
import { createSqliteAuditRecordSource } from './audit-export-query';
import { type AuditStartup, type AuditStartupArgs, verifyAuditLogAtStart } from './audit-startup';
import { createLocalChangeFeed } from './local/change-feed';
import { createSqliteDbHealth } from './local/db-health';
import { createLocalHomeViewers } from './local/home-viewers';
import { createLocalLocks } from './local/locks';
import { holdDatabaseFile } from './local/process-lock';
import { createLocalRateLimits } from './local/rate-limits';
import { openDatabase } from './open-db';
import { createSqliteStores, type SqliteStores } from './stores';

/**
 * Everything hallpass keeps, on one engine: the store ports, the audit record, and the state several
 * replicas must share (locks, rate limits, Home viewers, change notifications). The use cases never
 * learn which engine it is.
 */
export type Persistence = {
  readonly engine: 'sqlite' | 'postgres';
  readonly stores: SqliteStores;
  readonly auditRecord: AuditRecordSource;
  /** Verifies the audit log before anything appends to it (see `verifyAuditLogAtStart`). */
  verifyAuditAtStart(args: Omit<AuditStartupArgs, 'audit'>): Promise<AuditStartup>;
  readonly locks: Locks;
  readonly rateLimits: RateLimits;
  readonly homeViewers: HomeViewers;
  /** Wake-ups for every replica (one process on SQLite: the local fan-out). */
  readonly changes: ChangeFeed;
  readonly health: DbHealth;
  /**
   * How often each replica re-reads due times anyway, besides the change notifications: a lost
   * notification (or a replica that died holding a job) delays work by this much at most. Absent: only
   * wake-ups (one process is told of every change directly).
   */
  readonly pollMs?: number | undefined;
  close(): Promise<void>;
};

export type PersistenceOptions = {
  readonly auditKeys?: AuditKeyring | undefined;
  readonly logger: Logger;
  /** PostgreSQL: connections for queries per replica (`HALLPASS_DB_POOL_SIZE`). */
  readonly poolSize?: number | undefined;
};

/**
 * The SQLite file at `path` (created and migrated if needed), for one hallpass process: a second
 * process on the same file is refused (`DatabaseHeldError`) before anything is read or migrated.
 */
export function openSqlitePersistence(path: string, options: PersistenceOptions): Persistence {
  const memory = path === ':memory:' || path === '';
  const lock = memory ? undefined : holdDatabaseFile(path);
  let handle: ReturnType<typeof openDatabase>;
  try {
    handle = openDatabase(path);
  } catch (error) {
    lock?.release();
    throw error;
  }
  const stores = createSqliteStores(handle, { key: options.auditKeys?.current });
  return {
    engine: 'sqlite',
    stores,
    auditRecord: createSqliteAuditRecordSource(handle.db, options.auditKeys),
    verifyAuditAtStart: (args) => verifyAuditLogAtStart({ ...args, db: handle.db, audit: stores.audit }),
    locks: createLocalLocks(),
    rateLimits: createLocalRateLimits(),
    homeViewers: createLocalHomeViewers(MAX_HOME_VIEWERS),
    changes: createLocalChangeFeed({ logger: options.logger }),
    health: createSqliteDbHealth(handle.sqlite),
    close: async () => {
      handle.close();
      lock?.release();
    },
  };
}
