import { existsSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { readAuditRecord } from './audit-export-query';
import { keyIdsInLog } from './audit-log';
import {
  COPIED_TABLES,
  type CopiedRow,
  type CopiedTable,
  type CopySource,
  type CopyTarget,
  type SourceSnapshot,
  type TargetTx,
  targetNotEmpty,
} from './db-copy';
import { withDbErrors } from './db-error';
import { type DbHandle, openDatabase, openExistingDatabase } from './open-db';

/** Rows read per page. */
const PAGE_ROWS = 1_000;

/** An identifier quoted for SQL (every name here is one of ours; quoted all the same). */
const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

function tablesOf(sqlite: Database.Database): string[] {
  return sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all().map(String);
}

const countOf = (sqlite: Database.Database, table: string): number =>
  Number(
    sqlite
      .prepare(`SELECT count(*) FROM ${quoted(table)}`)
      .pluck()
      .get(),
  );

/** The counter AUTOINCREMENT keeps for `table` (0 when it has none). */
function counterOf(sqlite: Database.Database, table: string): number {
  if (!tablesOf(sqlite).includes('sqlite_sequence')) return 0;
  return Number(sqlite.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(table) ?? 0);
}

/** The snapshot views of one connection inside its read transaction. */
function snapshotOf(handle: DbHandle): SourceSnapshot {
  const { sqlite } = handle;
  return {
    tables: async () => tablesOf(sqlite),
    count: async (table) => countOf(sqlite, table),
    async *pages(table) {
      const name = quoted(table.name);
      const key = quoted(table.key);
      const first = sqlite.prepare(`SELECT * FROM ${name} ORDER BY ${key} LIMIT ?`);
      const next = sqlite.prepare(`SELECT * FROM ${name} WHERE ${key} > ? ORDER BY ${key} LIMIT ?`);
      let page = first.all(PAGE_ROWS) as CopiedRow[];
      for (;;) {
        if (page.length > 0) yield page;
        const last = page[page.length - 1];
        if (last === undefined || page.length < PAGE_ROWS) return;
        page = next.all(last[table.key], PAGE_ROWS) as CopiedRow[];
      }
    },
    lastGenerated: async (table) =>
      Math.max(
        counterOf(sqlite, table.name),
        Number(
          sqlite
            .prepare(`SELECT max(${quoted(table.key)}) FROM ${quoted(table.name)}`)
            .pluck()
            .get() ?? 0,
        ),
      ),
    keyIds: async () => keyIdsInLog(handle.db),
    record: async (keys) => readAuditRecord(handle.db, keys),
  };
}

/**
 * The SQLite database at `file` as a copy's source: never created, never migrated, read-only
 * (`query_only`). Throws `DbError` `NOT_FOUND` for a missing file and `SCHEMA_OUTDATED` for a database
 * this version has not migrated (start hallpass on it once).
 */
export function openSqliteCopySource(file: string): CopySource {
  return sqliteCopySource(openExistingDatabase(file, { write: false }), file);
}

/** A copy's source over an open SQLite database (a test's). */
export function sqliteCopySource(handle: DbHandle, label: string): CopySource {
  return {
    engine: 'sqlite',
    label,
    async snapshot(fn) {
      // One read transaction: the walk, the tables and every page describe one moment (WAL keeps it
      // while the bot writes). The walk's own transactions nest in it as savepoints.
      withDbErrors('copy.snapshot', () => handle.sqlite.exec('BEGIN'));
      try {
        return await fn(snapshotOf(handle));
      } finally {
        if (handle.sqlite.inTransaction) handle.sqlite.exec('COMMIT');
      }
    },
    close: async () => handle.close(),
  };
}

/** Tables of an existing file that hold hallpass rows, read without migrating (or writing) it. */
function occupiedTables(file: string): [string, number][] {
  const sqlite = withDbErrors(
    'copy.openTarget',
    () => new Database(file, { readonly: true, fileMustExist: true }),
  );
  try {
    const present = new Set(tablesOf(sqlite));
    return COPIED_TABLES.filter((t) => present.has(t.name))
      .map((t): [string, number] => [t.name, countOf(sqlite, t.name)])
      .filter(([, n]) => n > 0);
  } finally {
    sqlite.close();
  }
}

/** The statements of the copy, on the target's connection inside its transaction. */
function targetTx(handle: DbHandle): TargetTx {
  const { sqlite } = handle;
  const inserts = new Map<string, Database.Statement>();
  const insertFor = (table: CopiedTable, columns: readonly string[]): Database.Statement => {
    const sql = `INSERT INTO ${quoted(table.name)} (${columns.map(quoted).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    let statement = inserts.get(sql);
    if (statement === undefined) {
      statement = sqlite.prepare(sql);
      inserts.set(sql, statement);
    }
    return statement;
  };
  return {
    count: async (table) => countOf(sqlite, table),
    async insert(table, rows) {
      withDbErrors(`copy.insert ${table.name}`, () => {
        for (const row of rows) {
          const columns = Object.keys(row);
          insertFor(table, columns).run(columns.map((c) => row[c]));
        }
      });
    },
    async withoutTriggers(names, fn) {
      // SQLite cannot disable a trigger: it is dropped and created again from its own SQL, both inside
      // the copy's transaction (a rollback brings it back as it was).
      const saved = names.map((name) => {
        const sql = sqlite
          .prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?")
          .pluck()
          .get(name);
        if (typeof sql !== 'string') throw new Error(`the target has no trigger ${name}`);
        return { name, sql };
      });
      for (const { name } of saved) sqlite.exec(`DROP TRIGGER ${quoted(name)}`);
      const result = await fn();
      for (const { sql } of saved) sqlite.exec(sql);
      return result;
    },
    async advanceGenerator(table, last) {
      // AUTOINCREMENT keeps its counter in sqlite_sequence; inserting explicit keys raised it to the
      // largest copied, and the source's counter may stand higher (a tail cut off the log).
      const updated = sqlite
        .prepare('UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?')
        .run(last, table.name);
      if (updated.changes === 0) {
        sqlite.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table.name, last);
      }
    },
    record: async (keys) => readAuditRecord(handle.db, keys),
  };
}

/**
 * The SQLite database at `file` as a copy's target: refused (`TARGET_NOT_EMPTY`) before it is touched
 * when it already holds hallpass rows; created and migrated otherwise. A file the copy created is
 * removed again when the copy does not commit.
 */
export function openSqliteCopyTarget(file: string): CopyTarget {
  const existed = existsSync(file);
  if (existed) {
    const occupied = occupiedTables(file);
    if (occupied.length > 0) throw targetNotEmpty(file, occupied);
  }
  const handle = openDatabase(file);
  let committed = false;
  return {
    engine: 'sqlite',
    label: file,
    async transaction(fn) {
      // IMMEDIATE: no other writer (a bot started on the file meanwhile) gets in until the copy ends.
      withDbErrors('copy.begin', () => handle.sqlite.exec('BEGIN IMMEDIATE'));
      try {
        const result = await fn(targetTx(handle));
        withDbErrors('copy.commit', () => handle.sqlite.exec('COMMIT'));
        committed = true;
        return result;
      } catch (e) {
        if (handle.sqlite.inTransaction) handle.sqlite.exec('ROLLBACK');
        throw e;
      }
    },
    async close() {
      handle.close();
      if (!existed && !committed) {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      }
    },
  };
}
