import { copyFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client, Pool } from 'pg';
import { readAuditRecord } from '../../src/adapters/db/audit-export-query';
import { openDatabaseReadOnly } from '../../src/adapters/db/open-db';
import { readPostgresAuditRecord } from '../../src/adapters/db/pg/audit-record';
import { isPostgresUrl, openExistingPostgres } from '../../src/adapters/db/pg/open-existing';
import type { AuditKeyring, AuditRecord } from '../../src/app/audit-ports';
import type { EngineName } from './audit-engines';
import { withAuditTriggersOff } from './copy-to-postgres';
import { dropTestDatabase, type TestDatabase, testServerUrl, withClient } from './postgres';

/**
 * The database an end-to-end bot runs on, reached from the test as someone with direct access to it
 * would reach it — a SQLite file or a PostgreSQL database — so that a test reads and tampers with it in
 * the same words on both engines. Statements use `?` placeholders (numbered `$1`, `$2`, … for
 * PostgreSQL) and the SQL both engines read alike; column names are the same snake_case on both.
 */

export type { EngineName };

/** A statement, alone or with its parameters. */
export type Statement = string | readonly [string, readonly unknown[]];

export type BotDatabase = {
  readonly engine: EngineName;
  /** Where it is, as `HALLPASS_DB` and the CLIs take it: a file path or a `postgres://` URL. */
  readonly location: string;
  /**
   * Runs one read-only query and returns its rows. Integers come back as numbers on both engines (the
   * pg driver returns bigint columns, `count(*)` among them, as strings).
   */
  rows<T extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Runs statements in one transaction as someone who can write the database: with the audit table's
   * append-only triggers out of the way while they run (dropped and recreated on SQLite, disabled and
   * enabled on PostgreSQL), and back in force once they commit, as they are on the other engine.
   */
  tamper(...statements: Statement[]): Promise<void>;
  /** The audit record (chain, tables compared, export rows) read back as `npm run audit` reads it. */
  auditRecord(keys?: AuditKeyring): Promise<AuditRecord>;
  /**
   * A copy of the whole database, to tamper with while this one stays as it is: on SQLite the file
   * `<name>.db` beside it, on PostgreSQL a database created from it as a template. Only while no bot
   * runs on it: a SQLite file is copied whole once the bot has checkpointed its log at stop, and
   * PostgreSQL copies only a database no one is connected to.
   */
  copy(name: string): Promise<BotDatabase>;
  /** The database gone, as a deleted file or a dropped database: the next start finds an empty one. */
  lose(): Promise<void>;
  /** Whether the database exists (a file, or a database the server has). */
  exists(): Promise<boolean>;
  /** Where a database of the same engine could be but is not: a file in no directory, an unknown name. */
  absent(name: string): BotDatabase;
  /** Drops the PostgreSQL copies made from it (a SQLite copy goes with the harness's directory). */
  dropCopies(): Promise<void>;
};

/**
 * The engine the end-to-end tests run on: PostgreSQL when the `e2e-postgres` project's setup chose it
 * (`HALLPASS_TEST_ENGINE=postgres`), otherwise SQLite. Read it while tests are defined, to give a case
 * that only one engine has (a SQLite file on disk) to that engine alone.
 */
export const testEngine = (): EngineName =>
  process.env['HALLPASS_TEST_ENGINE'] === 'postgres' ? 'postgres' : 'sqlite';

/** `?` placeholders as PostgreSQL's `$1`, `$2`, …. */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

const split = (s: Statement): readonly [string, readonly unknown[]] => (typeof s === 'string' ? [s, []] : s);

/** The pg driver's type id of `bigint` (int8), which it returns as a string to keep every digit. */
const INT8 = 20;

/** The database name of a PostgreSQL URL. */
const databaseName = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1));

/** `url` with `name` in place of its database. */
const withDatabase = (url: string, name: string): string => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** The bot's database at `location`, its copies recorded in `copies` so they can be dropped. */
export function botDatabase(location: string, copies: TestDatabase[] = []): BotDatabase {
  return isPostgresUrl(location) ? postgresDatabase(location, copies) : sqliteDatabase(location, copies);
}

function sqliteDatabase(file: string, copies: TestDatabase[]): BotDatabase {
  return {
    engine: 'sqlite',
    location: file,
    rows: async <T extends object>(sql: string, params: readonly unknown[] = []) => {
      // WAL lets a second reader in while the bot writes.
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(sql).all(...params) as T[];
      } finally {
        db.close();
      }
    },
    tamper: async (...statements) => {
      const db = new Database(file, { fileMustExist: true });
      try {
        db.exec('BEGIN IMMEDIATE');
        try {
          const triggers = db
            .prepare(
              "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'",
            )
            .all() as { name: string; sql: string }[];
          for (const t of triggers) db.exec(`DROP TRIGGER "${t.name}"`);
          for (const s of statements) {
            const [sql, params] = split(s);
            const statement = db.prepare(sql);
            if (statement.reader) statement.all(...params);
            else statement.run(...params);
          }
          for (const t of triggers) db.exec(t.sql);
          db.exec('COMMIT');
        } catch (e) {
          db.exec('ROLLBACK');
          throw e;
        }
      } finally {
        db.close();
      }
    },
    auditRecord: async (keys) => {
      const handle = openDatabaseReadOnly(file);
      try {
        return readAuditRecord(handle.db, keys);
      } finally {
        handle.close();
      }
    },
    copy: async (name) => {
      const to = path.join(path.dirname(file), `${name}.db`);
      copyFileSync(file, to);
      return sqliteDatabase(to, copies);
    },
    lose: async () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
    },
    exists: async () => existsSync(file),
    absent: (name) => sqliteDatabase(path.join(path.dirname(file), name, 'hallpass.db'), copies),
    dropCopies: async () => {},
  };
}

function postgresDatabase(url: string, copies: TestDatabase[]): BotDatabase {
  const name = databaseName(url);
  return {
    engine: 'postgres',
    location: url,
    rows: async <T extends object>(sql: string, params: readonly unknown[] = []) => {
      // Read-only as the SQLite reader is: any write in the query fails.
      const client = new Client({
        connectionString: url,
        connectionTimeoutMillis: 5_000,
        options: '-c default_transaction_read_only=on',
      });
      await client.connect();
      try {
        const result = await client.query(numbered(sql), [...params]);
        const bigints = result.fields.filter((f) => f.dataTypeID === INT8).map((f) => f.name);
        return result.rows.map((row: Record<string, unknown>) => {
          const out = { ...row };
          for (const column of bigints) {
            const value = out[column];
            if (typeof value === 'string') out[column] = Number(value);
          }
          return out as T;
        });
      } finally {
        await client.end();
      }
    },
    tamper: async (...statements) => {
      const pool = new Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 5_000 });
      try {
        await withAuditTriggersOff(pool, async (client) => {
          for (const s of statements) {
            const [sql, params] = split(s);
            await client.query(numbered(sql), [...params]);
          }
        });
      } finally {
        await pool.end();
      }
    },
    auditRecord: async (keys) => {
      const handle = await openExistingPostgres(url, { write: false });
      try {
        return await readPostgresAuditRecord(handle.db, keys);
      } finally {
        await handle.close();
      }
    },
    copy: async () => {
      // Named after the database it copies (numbered, not after the SQLite file's name, to stay within
      // PostgreSQL's 63-byte identifiers), and dropped by `dropCopies`.
      const copyName = `${name}_${copies.length + 1}`;
      await withClient(testServerUrl(), (c) => c.query(`CREATE DATABASE "${copyName}" TEMPLATE "${name}"`));
      const copy: TestDatabase = { name: copyName, url: withDatabase(url, copyName) };
      copies.push(copy);
      return postgresDatabase(copy.url, copies);
    },
    lose: async () => {
      await withClient(testServerUrl(), async (c) => {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await c.query(`CREATE DATABASE "${name}"`);
      });
    },
    exists: async () =>
      withClient(testServerUrl(), async (c) => {
        const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        return found.rows.length > 0;
      }),
    absent: (other) => postgresDatabase(withDatabase(url, other), copies),
    dropCopies: async () => {
      for (const db of copies.splice(0)) await dropTestDatabase(db);
    },
  };
}
