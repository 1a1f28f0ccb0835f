import { drizzle } from 'drizzle-orm/node-postgres';
import { type CustomTypesConfig, Pool, type PoolClient, types } from 'pg';
import {
  COPIED_TABLES,
  type CopiedRow,
  type CopySource,
  type CopyTarget,
  type SourceSnapshot,
  type TargetTx,
  targetNotEmpty,
} from '../db-copy';
import { toDbError } from '../db-error';
import { openPostgres, type PgDb, type PgHandle } from '../open-pg';
import * as pgSchema from '../pg-schema';
import { postgresKeyIdsInLog } from './audit-log';
import { readPostgresAuditRecordIn } from './audit-record';
import { openExistingPostgres, withoutPassword } from './open-existing';

/** Rows read per page; also the most inserted by one statement (well under PostgreSQL's 65,535 parameters). */
const PAGE_ROWS = 1_000;

const INT8_OID = 20;

/** A bigint as a number: every one hallpass stores (a time in ms, a key, a count) is far below 2^53. */
function safeNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`the bigint ${text} does not fit a JavaScript number`);
  return n;
}

/** Rows as SQLite gives them: bigint columns read as numbers rather than the driver's strings. */
const NUMBERS: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? safeNumber
      : types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function query<R extends Record<string, unknown>>(
  client: Pick<PoolClient, 'query'> | Pool,
  operation: string,
  text: string,
  values: readonly unknown[] = [],
): Promise<R[]> {
  try {
    return (await client.query<R>({ text, values: [...values], types: NUMBERS })).rows;
  } catch (e) {
    throw toDbError(operation, e);
  }
}

/** The tables of the schema the connection works in (`search_path`'s first). */
const tablesOf = async (client: PoolClient | Pool): Promise<string[]> =>
  (
    await query<{ name: string }>(
      client,
      'copy.tables',
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
  ).map((r) => r.name);

const countOf = async (client: PoolClient | Pool, table: string): Promise<number> =>
  Number(
    (
      await query<{ n: number }>(client, 'copy.count', `SELECT count(*)::bigint AS n FROM ${quoted(table)}`)
    )[0]?.n ?? 0,
  );

/** The views of a snapshot, on the client holding its transaction. */
function snapshotOf(client: PoolClient, db: PgDb): SourceSnapshot {
  return {
    tables: () => tablesOf(client),
    count: (table) => countOf(client, table),
    async *pages(table) {
      // Text keys in byte order, as SQLite compares them: the pages come out in the same order on both.
      const key = table.textKey ? `${quoted(table.key)} COLLATE "C"` : quoted(table.key);
      const select = `SELECT * FROM ${quoted(table.name)}`;
      let page = await query<CopiedRow>(client, 'copy.read', `${select} ORDER BY ${key} LIMIT $1`, [
        PAGE_ROWS,
      ]);
      for (;;) {
        if (page.length > 0) yield page;
        const last = page[page.length - 1];
        if (last === undefined || page.length < PAGE_ROWS) return;
        page = await query<CopiedRow>(
          client,
          'copy.read',
          `${select} WHERE ${key} > $1 ORDER BY ${key} LIMIT $2`,
          [last[table.key], PAGE_ROWS],
        );
      }
    },
    async lastGenerated(table) {
      // The audit log writes `seq` itself (max + 1, see pg/audit-log.ts), so its identity may never have
      // been used: the largest key counts as much as the sequence.
      const [row] = await query<{ last: number | null }>(
        client,
        'copy.lastGenerated',
        `SELECT greatest(
           coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass), 0),
           coalesce((SELECT max(${quoted(table.key)}) FROM ${quoted(table.name)}), 0)
         )::bigint AS last`,
        [table.name, table.key],
      );
      return row?.last ?? 0;
    },
    keyIds: () => postgresKeyIdsInLog(db),
    record: (keys) => readPostgresAuditRecordIn(db, keys),
  };
}

/**
 * The PostgreSQL database at `url` as a copy's source: never migrated, read-only. Throws `DbError`
 * `NOT_FOUND`, `UNREACHABLE` or `SCHEMA_OUTDATED` as `openExistingPostgres` does.
 */
export async function openPostgresCopySource(url: string): Promise<CopySource> {
  const handle = await openExistingPostgres(url, { write: false });
  return {
    engine: 'postgres',
    label: withoutPassword(url),
    async snapshot(fn) {
      const client = await handle.pool.connect().catch((e: unknown) => {
        throw toDbError('copy.snapshot', e);
      });
      try {
        // One snapshot for everything read: the walk, the tables and every page describe one moment.
        await query(client, 'copy.snapshot', 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const result = await fn(snapshotOf(client, drizzle({ client, schema: pgSchema })));
        await query(client, 'copy.snapshot', 'COMMIT');
        return result;
      } finally {
        client.release(true);
      }
    },
    close: () => handle.close(),
  };
}

/** The statements of the copy, on the client holding the target's transaction. */
function targetTx(client: PoolClient, db: PgDb): TargetTx {
  return {
    count: (table) => countOf(client, table),
    async insert(table, rows) {
      const first = rows[0];
      if (first === undefined) return;
      const columns = Object.keys(first);
      const values: unknown[] = [];
      const tuples = rows.map((row) => {
        const at = values.length;
        for (const c of columns) values.push(row[c]);
        return `(${columns.map((_, i) => `$${at + i + 1}`).join(', ')})`;
      });
      // One statement per page: its rows go in in order, so the audit triggers see each event after the
      // one before it (a row-level BEFORE trigger sees the rows its statement inserted before).
      await query(
        client,
        `copy.insert ${table.name}`,
        `INSERT INTO ${quoted(table.name)} (${columns.map(quoted).join(', ')}) VALUES ${tuples.join(', ')}`,
        values,
      );
    },
    async withoutTriggers(names, fn) {
      // As the table's owner (who migrated it); inside the copy's transaction, so a rollback re-enables them.
      for (const name of names) {
        await query(client, 'copy.triggers', `ALTER TABLE audit_events DISABLE TRIGGER ${quoted(name)}`);
      }
      const result = await fn();
      for (const name of names) {
        await query(client, 'copy.triggers', `ALTER TABLE audit_events ENABLE TRIGGER ${quoted(name)}`);
      }
      return result;
    },
    async advanceGenerator(table, last) {
      await query(client, 'copy.advance', 'SELECT setval(pg_get_serial_sequence($1, $2), $3)', [
        table.name,
        table.key,
        last,
      ]);
    },
    record: (keys) => readPostgresAuditRecordIn(db, keys),
  };
}

/** Tables of the copy that hold rows in the database at `pool`, read before anything is migrated there. */
async function occupiedTables(pool: Pool): Promise<[string, number][]> {
  const present = new Set(await tablesOf(pool));
  const occupied: [string, number][] = [];
  for (const t of COPIED_TABLES) {
    if (!present.has(t.name)) continue;
    const n = await countOf(pool, t.name);
    if (n > 0) occupied.push([t.name, n]);
  }
  return occupied;
}

/** A copy's target on an open PostgreSQL database (migrated; a test's). */
export function postgresCopyTarget(handle: PgHandle, label: string): CopyTarget {
  return {
    engine: 'postgres',
    label,
    async transaction(fn) {
      const client = await handle.pool.connect().catch((e: unknown) => {
        throw toDbError('copy.begin', e);
      });
      try {
        // READ COMMITTED, as the audit triggers require. The tables are locked against every other
        // writer (a replica started on the target meanwhile) until the copy ends; readers go on.
        await query(client, 'copy.begin', 'BEGIN ISOLATION LEVEL READ COMMITTED');
        await query(
          client,
          'copy.begin',
          `LOCK TABLE ${COPIED_TABLES.map((t) => quoted(t.name)).join(', ')} IN EXCLUSIVE MODE`,
        );
        const result = await fn(targetTx(client, drizzle({ client, schema: pgSchema })));
        await query(client, 'copy.commit', 'COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    close: () => handle.close(),
  };
}

/**
 * The PostgreSQL database at `url` (which must exist) as a copy's target: refused (`TARGET_NOT_EMPTY`)
 * before anything is migrated when it already holds hallpass rows; migrated otherwise.
 */
export async function openPostgresCopyTarget(url: string): Promise<CopyTarget> {
  const probe = new Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
  probe.on('error', () => {});
  try {
    const occupied = await occupiedTables(probe);
    if (occupied.length > 0) throw targetNotEmpty(withoutPassword(url), occupied);
  } finally {
    await probe.end().catch(() => undefined);
  }
  const handle = await openPostgres(url, { pool: { max: 2, connectionTimeoutMillis: 10_000 } });
  return postgresCopyTarget(handle, withoutPassword(url));
}
