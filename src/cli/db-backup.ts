#!/usr/bin/env node
/**
 * `npm run db:backup -- <to>`: a consistent copy of the SQLite database `HALLPASS_DB` names, taken while
 * hallpass runs (see src/adapters/db/sqlite-backup.ts). A composition root like audit.ts: reads `.env`
 * and `HALLPASS_DB`. PostgreSQL is backed up with its own tools (pg_dump, or the managed service's
 * snapshots), which this says instead of copying anything.
 *
 * Exit codes: 0 backed up and checked; 2 it could not run as asked (bad arguments, no database, a
 * PostgreSQL URL, a target that exists); 3 an unexpected failure (the backup or its check failed; nothing
 * is left at `<to>`).
 */
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';
import { DbError } from '../adapters/db/db-error';
import { isPostgresUrl, withoutPassword } from '../adapters/db/pg/open-existing';
import { backupSqlite } from '../adapters/db/sqlite-backup';
import { DEFAULT_DB_PATH } from '../config/env';
import { isParseArgsError, UsageError } from './cli-support';

const USAGE = `Usage:
  npm run db:backup -- <to>
      Copies the SQLite database HALLPASS_DB (default ${DEFAULT_DB_PATH}) into the new file <to>, while
      hallpass runs: SQLite's online backup, one consistent snapshot including what is still in the
      write-ahead log (a plain cp of the .db file is not a backup). The copy is one self-contained file,
      checked with PRAGMA integrity_check. Verify its audit log with
      HALLPASS_DB=<to> npm run audit -- verify (with the same HALLPASS_AUDIT_KEY).
      To restore: stop hallpass, remove the database and its -wal and -shm files, put the copy in its
      place, start hallpass (the version the backup was taken with, or a newer one).
  PostgreSQL (a postgres:// HALLPASS_DB): use pg_dump, or the managed service's snapshots.

A .env file is read when present.
Exit codes: 0 backed up and checked, 2 bad usage, no database, PostgreSQL or <to> exists, 3 the backup failed.`;

type Io = { out(text: string): void; err(text: string): void };

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function run(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.out(`${USAGE}\n`);
      return 0;
    }
    const [to, ...extra] = positionals;
    if (to === undefined || extra.length > 0) throw new UsageError('give one argument: the new backup file.');
    const from = env['HALLPASS_DB'] || DEFAULT_DB_PATH;
    if (isPostgresUrl(from)) {
      throw new UsageError(
        `HALLPASS_DB is a PostgreSQL database (${withoutPassword(from)}): back it up with pg_dump (pg_dump --format=custom --file=hallpass.dump "$HALLPASS_DB") or the managed service's snapshots; db:backup copies SQLite files.`,
      );
    }
    const started = Date.now();
    const backup = await backupSqlite(from, to);
    const took = ((Date.now() - started) / 1000).toFixed(1);
    io.out(
      `Backed up ${from} to ${backup.file} in ${took} s: ${megabytes(backup.bytes)}, ${backup.auditEvents} audit event(s), ${backup.migrations} migration(s); integrity_check ok.\n`,
    );
    io.out(`Verify its audit log: HALLPASS_DB=${backup.file} npm run audit -- verify\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      io.err(`hallpass db:backup: ${e.message}\nRun \`npm run db:backup -- --help\` for usage.\n`);
      return 2;
    }
    if (e instanceof DbError && ['NOT_FOUND', 'NOT_HALLPASS', 'TARGET_EXISTS'].includes(e.code)) {
      const hint = e.code === 'NOT_FOUND' ? ' (set HALLPASS_DB to the bot’s database file)' : '';
      io.err(`hallpass db:backup: ${e.message.replace(`${e.operation}: `, '')}${hint}\n`);
      return 2;
    }
    io.err(`hallpass db:backup failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

dotenv.config({ quiet: true });
void run(process.argv.slice(2), process.env, {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
}).then((code) => {
  process.exitCode = code;
});
