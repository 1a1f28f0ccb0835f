import { AsyncLocalStorage } from 'node:async_hooks';
import { createSqliteAuditLogReader } from '../../src/adapters/db/audit-export-query';
import {
  type AuditChainReport,
  checkHead,
  createSqliteAuditLog,
  type HeadCheck,
  type VerifyOptions,
  verifyAuditChain,
} from '../../src/adapters/db/audit-log';
import type { AuditLogReader } from '../../src/adapters/db/audit-reading';
import { type DbHandle, openDatabase } from '../../src/adapters/db/open-db';
import { openPostgres, type PgHandle } from '../../src/adapters/db/open-pg';
import {
  checkPostgresHead,
  createPostgresAuditLog,
  type PgTx,
  verifyPostgresAuditChain,
} from '../../src/adapters/db/pg/audit-log';
import { createPostgresAuditLogReader } from '../../src/adapters/db/pg/audit-record';
import { createSqliteGate } from '../../src/adapters/db/unit-of-work';
import type { AuditHead, AuditKey } from '../../src/app/audit-ports';
import type { AuditEvent, AuditLog, NewRequest } from '../../src/app/ports';
import { dropGuards, type RawRow, RESEAL, sha256Reseal } from './audit-tamper';
import { copySqliteToPostgres, withAuditTriggersOff } from './copy-to-postgres';
import { postgresAvailable, withTestDatabase } from './postgres';

/**
 * The audit log's storage on either engine, for the tests that must hold on both: the same calls, and
 * what someone who can write the database can do to it (on PostgreSQL: a session that disables the
 * table's triggers, as the owner or a superuser can).
 */
export type AuditEngine = {
  readonly name: EngineName;
  /** The audit log, sealing with HMAC under `key` (plain SHA-256 without). */
  log(key?: AuditKey): AuditLog;
  /** Runs `fn` in one transaction, as the unit of work does: committed when it resolves, rolled back when it throws. */
  tx<T>(fn: () => Promise<T>): Promise<T>;
  verify(options?: Omit<VerifyOptions, 'atEnd'>): Promise<AuditChainReport>;
  checkHead(head: AuditHead): Promise<HeadCheck>;
  reader(): AuditLogReader;
  /** Every event as stored, in `seq` order. */
  rows(): Promise<RawRow[]>;
  row(seq: number): Promise<RawRow>;
  /**
   * Runs one statement (`?` placeholders) as the bot's connection would, triggers and all. A refusal is
   * thrown as an `Error` of this realm with the driver's message: better-sqlite3's errors come from the
   * realm of whichever test file first loaded its native module in this worker.
   */
  sql(statement: string, params?: readonly unknown[]): Promise<void>;
  /** Runs statements as someone who can write the database, with the audit triggers out of the way. */
  tamper(...statements: (string | [string, readonly unknown[]])[]): Promise<void>;
  /** The attacker's best effort without the key (see `resealWithSha256` in audit-tamper.ts). */
  resealWithSha256(from: number, keepKeyId: boolean): Promise<void>;
};

export type EngineName = 'sqlite' | 'postgres';

/** The engines the audit tests run on: SQLite always, PostgreSQL when the test server answers. */
export const AUDIT_ENGINES: readonly EngineName[] = postgresAvailable() ? ['sqlite', 'postgres'] : ['sqlite'];

/** `?` placeholders as PostgreSQL's `$1`, `$2`, …. */
const numbered = (statement: string): string => {
  let n = 0;
  return statement.replace(/\?/g, () => `$${++n}`);
};

/** Runs `fn`, rethrowing what it throws as an `Error` of this realm with the same message. */
async function ownErrors(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    throw new Error(typeof e === 'object' && e !== null && 'message' in e ? String(e.message) : String(e));
  }
}

/** A row as the pg driver returns it: bigint columns come back as strings. */
const asRaw = (r: Record<string, unknown>): RawRow => ({
  ...(r as RawRow),
  seq: Number(r['seq']),
  at: Number(r['at']),
});

function sqliteEngine(handle: DbHandle): AuditEngine {
  const rows = async () => handle.sqlite.prepare('SELECT * FROM audit_events ORDER BY seq').all() as RawRow[];
  const engine: AuditEngine = {
    name: 'sqlite',
    log: (key) => createSqliteGate(handle.sqlite).store<AuditLog>(createSqliteAuditLog(handle.db, { key })),
    tx: async (fn) => {
      handle.sqlite.exec('BEGIN IMMEDIATE');
      try {
        const value = await fn();
        handle.sqlite.exec('COMMIT');
        return value;
      } catch (e) {
        handle.sqlite.exec('ROLLBACK');
        throw e;
      }
    },
    verify: async (options) => verifyAuditChain(handle.db, options),
    checkHead: async (head) => checkHead(handle.db, head),
    reader: () => createSqliteAuditLogReader(handle.db),
    rows,
    row: async (seq) => rowOf(await rows(), seq),
    sql: (statement, params = []) =>
      ownErrors(async () => {
        handle.sqlite.prepare(statement).run(...params);
      }),
    tamper: async (...statements) => {
      dropGuards(handle);
      for (const s of statements) {
        const [statement, params] = typeof s === 'string' ? [s, []] : s;
        handle.sqlite.prepare(statement).run(...params);
      }
    },
    resealWithSha256: async (from, keepKeyId) =>
      engine.tamper(
        ...sha256Reseal(await rows(), from, keepKeyId).map((p): [string, unknown[]] => [RESEAL, p]),
      ),
  };
  return engine;
}

function postgresEngine(handle: PgHandle): AuditEngine {
  // The unit of work's transaction, as the PostgreSQL UnitOfWork keeps it: where store calls run.
  const current = new AsyncLocalStorage<PgTx>();
  const db = () => current.getStore() ?? handle.db;
  const rows = async () =>
    (await handle.pool.query('SELECT * FROM audit_events ORDER BY seq')).rows.map((r) => asRaw(r));
  const engine: AuditEngine = {
    name: 'postgres',
    log: (key) => createPostgresAuditLog(db, { key }),
    tx: (fn) =>
      current.getStore() !== undefined ? fn() : handle.db.transaction((tx) => current.run(tx, fn)),
    verify: (options) => verifyPostgresAuditChain(handle.db, options),
    checkHead: (head) => checkPostgresHead(handle.db, head),
    reader: () => createPostgresAuditLogReader(handle.db),
    rows,
    row: async (seq) => rowOf(await rows(), seq),
    sql: (statement, params = []) =>
      ownErrors(async () => {
        await handle.pool.query(numbered(statement), [...params]);
      }),
    tamper: (...statements) =>
      withAuditTriggersOff(handle.pool, async (client) => {
        for (const s of statements) {
          const [statement, params] = typeof s === 'string' ? [s, []] : s;
          await client.query(numbered(statement), [...params]);
        }
      }),
    resealWithSha256: async (from, keepKeyId) =>
      engine.tamper(
        ...sha256Reseal(await rows(), from, keepKeyId).map((p): [string, unknown[]] => [RESEAL, p]),
      ),
  };
  return engine;
}

/** The `request.submitted` event submit-request records with a new request. */
export const submittedEvent = (r: NewRequest): AuditEvent => ({
  at: r.createdAt,
  actor: r.requesterId,
  type: 'request.submitted',
  requestId: r.id,
  details: {
    resourceId: r.resourceId,
    durationMs: r.durationMs,
    source: r.source?.cidr,
    reason: r.reason,
    breakGlass: false,
  },
});

function rowOf(rows: readonly RawRow[], seq: number): RawRow {
  const row = rows.find((r) => r.seq === seq);
  if (row === undefined) throw new Error(`no event ${seq}`);
  return row;
}

/** Empties every table of a test database (the audit triggers refuse it otherwise). */
export async function emptyPostgres(handle: PgHandle): Promise<void> {
  const { rows } = await handle.pool.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
  );
  await withAuditTriggersOff(handle.pool, async (client) => {
    await client.query(`TRUNCATE ${rows.map((r) => `"${r.tablename}"`).join(', ')} RESTART IDENTITY CASCADE`);
  });
}

/**
 * A migrated PostgreSQL database of the enclosing `describe`'s own, open for its tests and hooks:
 * created and opened once, closed and dropped afterwards. Tests empty it as they need (`emptyPostgres`).
 */
export function usePostgres(): { readonly handle: PgHandle } {
  let pg: PgHandle | undefined;
  // Declared before the database's own hooks: jest runs afterAlls in declaration order, and the pool
  // must close before the database is dropped under it.
  afterAll(async () => {
    await pg?.close();
  });
  const database = withTestDatabase();
  beforeAll(async () => {
    pg = await openPostgres(database.url);
  });
  return {
    get handle() {
      if (pg === undefined) throw new Error('PostgreSQL is open only inside tests and hooks');
      return pg;
    },
  };
}

/**
 * The engine `name` for each test of the enclosing `describe`, empty at the start of each: a SQLite
 * database in memory, or a PostgreSQL database of the test file's own (created once, emptied between
 * tests). With `seed`, each test starts from the SQLite database it opens instead — on PostgreSQL, a copy
 * of it. Read it inside tests and hooks only.
 */
export function useAuditEngine(
  name: EngineName,
  seed?: () => DbHandle,
): AuditEngine & {
  /** The open database under the engine (a SQLite handle or a PostgreSQL one). */
  readonly handle: DbHandle | PgHandle;
} {
  let current: { engine: AuditEngine; handle: DbHandle | PgHandle } | undefined;
  if (name === 'postgres') {
    const postgres = usePostgres();
    beforeEach(async () => {
      const pg = postgres.handle;
      await emptyPostgres(pg);
      if (seed !== undefined) {
        const from = seed();
        try {
          await copySqliteToPostgres(from.sqlite, pg.pool);
        } finally {
          from.close();
        }
      }
      current = { engine: postgresEngine(pg), handle: pg };
    });
  } else {
    beforeEach(() => {
      const handle = seed?.() ?? openDatabase(':memory:');
      current = { engine: sqliteEngine(handle), handle };
    });
    afterEach(() => {
      if (current !== undefined && 'sqlite' in current.handle) current.handle.close();
    });
  }
  const now = () => {
    if (current === undefined) throw new Error('the engine exists only inside tests and hooks');
    return current;
  };
  return {
    name,
    get handle() {
      return now().handle;
    },
    log: (key) => now().engine.log(key),
    tx: (fn) => now().engine.tx(fn),
    verify: (options) => now().engine.verify(options),
    checkHead: (head) => now().engine.checkHead(head),
    reader: () => now().engine.reader(),
    rows: () => now().engine.rows(),
    row: (seq) => now().engine.row(seq),
    sql: (statement, params) => now().engine.sql(statement, params),
    tamper: (...statements) => now().engine.tamper(...statements),
    resealWithSha256: (from, keepKeyId) => now().engine.resealWithSha256(from, keepKeyId),
  };
}

/** The SQLite or PostgreSQL engine over an open database (for a test that opens its own). */
export const auditEngineOver = (handle: DbHandle | PgHandle): AuditEngine =>
  'sqlite' in handle ? sqliteEngine(handle) : postgresEngine(handle);
