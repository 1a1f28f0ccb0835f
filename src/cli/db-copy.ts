#!/usr/bin/env node
/**
 * `npm run db:copy -- <from> <to> [--force]`: moves a hallpass database to another engine — the SQLite
 * file one process ran on into the PostgreSQL database several replicas share, or back. A composition
 * root like audit.ts: reads `.env` and the audit keys (`HALLPASS_AUDIT_KEY`, `HALLPASS_AUDIT_OLD_KEYS`),
 * as the bot does.
 *
 * `<from>` and `<to>` are each a SQLite file path or a `postgres://` URL. The source is opened read-only
 * and never migrated (it must be a database this version of hallpass has run on); the target — a new
 * file, or an existing, empty PostgreSQL database — is migrated, then every table is copied row for row
 * in one transaction (see src/adapters/db/db-copy.ts). Before that transaction commits, the audit log is
 * verified on the target with the same keys and must read exactly as on the source: the same events,
 * head (`<count>:<hash>`), tables and record. Stop hallpass on the source first.
 *
 * Exit codes: 0 copied and verified; 1 the source's audit log does not verify or its tables disagree
 * with it (nothing copied: resolve it, or give --force to copy it as it is), or the copy did not read as
 * the source (rolled back); 2 the copy could not run as asked (bad arguments, no source database, a
 * target that already holds data or cannot be reached, an audit key missing); 3 an unexpected failure.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';
import {
  CopyRefused,
  type CopyReport,
  type CopySource,
  type CopyTarget,
  copyDatabase,
  describeChain,
} from '../adapters/db/db-copy';
import { DbError } from '../adapters/db/db-error';
import { openPostgresCopySource, openPostgresCopyTarget } from '../adapters/db/pg/copy';
import { isPostgresUrl, withoutPassword } from '../adapters/db/pg/open-existing';
import { openSqliteCopySource, openSqliteCopyTarget } from '../adapters/db/sqlite-copy';
import { isParseArgsError, keysOf, UsageError } from './cli-support';

const USAGE = `Usage:
  npm run db:copy -- <from> <to> [--force]
      Copies the hallpass database <from> into <to>: a SQLite file (e.g. ./data/hallpass.db) into a
      PostgreSQL database (postgres://user:password@host:5432/hallpass) to run several replicas, or back.
      <to> must be new or empty: a new SQLite file, or an existing PostgreSQL database without hallpass
      rows (CREATE DATABASE it first); it is migrated, then every table is copied row for row in one
      transaction. The audit log is verified on both sides with HALLPASS_AUDIT_KEY / HALLPASS_AUDIT_OLD_KEYS
      and must read the same — same events and head <count>:<hash> — or nothing is committed.
      Stop hallpass first; afterwards point HALLPASS_DB at <to> and start it.
      --force   copy even when the source's audit log does not verify (it is copied exactly as it is)

A .env file is read when present.
Exit codes: 0 copied and verified, 1 the audit log does not verify (nothing copied) or the copy did not
read as the source (rolled back), 2 bad usage, no source, a target not empty or unreachable, or a key
missing, 3 unexpected failure.`;

type Io = { out(text: string): void; err(text: string): void };

const engineName = (e: 'sqlite' | 'postgres'): string => (e === 'sqlite' ? 'SQLite' : 'PostgreSQL');

/** Whether `a` and `b` name the same database (the same file, or the same database on the same server). */
function sameDatabase(a: string, b: string): boolean {
  if (isPostgresUrl(a) !== isPostgresUrl(b)) return false;
  if (!isPostgresUrl(a)) return path.resolve(a) === path.resolve(b);
  try {
    const [x, y] = [new URL(a), new URL(b)];
    return (
      x.hostname === y.hostname && (x.port || '5432') === (y.port || '5432') && x.pathname === y.pathname
    );
  } catch {
    return a === b;
  }
}

const openSource = (from: string): Promise<CopySource> =>
  isPostgresUrl(from) ? openPostgresCopySource(from) : Promise.resolve(openSqliteCopySource(from));

/** A target that could not be opened: the driver's message does not name it, so this does. */
class TargetUnavailable extends Error {}

/** Failures that mean the database is not there, not reachable or refuses the login: exit 2, not a bug. */
const NOT_THERE = new Set([
  'NOT_FOUND',
  'UNREACHABLE',
  'SCHEMA_OUTDATED',
  '28P01',
  '28000',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

const reason = (e: DbError): string => e.message.replace(`${e.operation}: `, '');

async function openTarget(to: string): Promise<CopyTarget> {
  const label = isPostgresUrl(to) ? withoutPassword(to) : to;
  try {
    return isPostgresUrl(to) ? await openPostgresCopyTarget(to) : openSqliteCopyTarget(to);
  } catch (e) {
    if (e instanceof DbError && e.code === '3D000') {
      throw new TargetUnavailable(
        `the target ${label} does not exist (${reason(e)}): create the database first (CREATE DATABASE …); the copy creates its tables.`,
      );
    }
    if (e instanceof DbError && NOT_THERE.has(e.code)) {
      throw new TargetUnavailable(`cannot reach the target ${label}: ${reason(e)}`);
    }
    throw e;
  }
}

/** The report for a person: the rows on each side, the audit log on each side, what to do next. */
function describeReport(
  report: CopyReport,
  source: CopySource,
  target: CopyTarget,
  ms: number,
  to: string,
): string {
  const width = Math.max(...report.tables.map((t) => t.name.length), 'table'.length);
  const cell = (n: number | string) => String(n).padStart(8);
  const lines = [
    `Copied ${source.label} (${engineName(source.engine)}) into ${target.label} (${engineName(target.engine)}) in one transaction, ${(ms / 1000).toFixed(1)} s:`,
    `  ${'table'.padEnd(width)} ${cell('source')} ${cell('target')}`,
    ...report.tables.map((t) => `  ${t.name.padEnd(width)} ${cell(t.source)} ${cell(t.target)}`),
    `Audit log on the source: ${describeChain(report.source.chain)}`,
    `Audit log on the target: ${describeChain(report.target.chain)} — the same, verified with the same keys`,
  ];
  const { problem } = report;
  if (problem === undefined) {
    lines.push(
      `Tables agree: every request and grant row matches the chain on both sides (${report.target.requests} request(s)).`,
      `Head to keep: ${report.target.chain.head.count}:${report.target.chain.head.hash}`,
    );
  } else {
    lines.push(`WARNING: copied as it is (--force): on both sides, ${problem}.`);
  }
  if (report.eventsWithoutTriggers > 0) {
    lines.push(
      `Note: ${report.eventsWithoutTriggers} event(s) went in with the audit table's insert triggers set aside (${problem === undefined ? 'recorded before the hash chain, or after a break accepted on the record' : 'the log does not verify'}); the walk above checked them as on the source.`,
    );
  }
  lines.push(
    `Next: keep hallpass stopped on ${source.label}; set HALLPASS_DB=${isPostgresUrl(to) ? withoutPassword(to) : to} (with the same HALLPASS_AUDIT_KEY) and start it.`,
  );
  return `${lines.join('\n')}\n`;
}

/** Exit code and message of a refusal. */
function refusal(e: CopyRefused): number {
  return e.reason === 'SOURCE_UNVERIFIED' || e.reason === 'TARGET_DIFFERS' ? 1 : 2;
}

async function run(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.out(`${USAGE}\n`);
      return 0;
    }
    const [from, to, ...extra] = positionals;
    if (from === undefined || to === undefined || extra.length > 0) {
      throw new UsageError('give two databases: the one to copy from, and the new or empty one to copy to.');
    }
    if (sameDatabase(from, to)) throw new UsageError(`${from} and ${to} are the same database.`);
    const keys = keysOf(env);
    const source = await openSource(from);
    try {
      const target = await openTarget(to);
      try {
        const started = Date.now();
        const report = await copyDatabase(source, target, { keys, force: values.force });
        io.out(describeReport(report, source, target, Date.now() - started, to));
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
    return 0;
  } catch (e) {
    if (e instanceof CopyRefused) {
      io.err(`hallpass db:copy: ${e.message}\n`);
      return refusal(e);
    }
    if (e instanceof UsageError || isParseArgsError(e)) {
      io.err(`hallpass db:copy: ${e.message}\nRun \`npm run db:copy -- --help\` for usage.\n`);
      return 2;
    }
    if (e instanceof TargetUnavailable) {
      io.err(`hallpass db:copy: ${e.message}\n`);
      return 2;
    }
    if (e instanceof DbError && NOT_THERE.has(e.code)) {
      io.err(`hallpass db:copy: ${reason(e)}\n`);
      return 2;
    }
    io.err(`hallpass db:copy failed: ${e instanceof Error ? e.message : String(e)}\n`);
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
