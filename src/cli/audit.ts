/**
 * `npm run audit -- …`: the audit trail as evidence, from the command line. A composition root like
 * main.ts: reads `.env` and `HALLPASS_DB`, opens the database read-only (never creates or migrates
 * it), and writes nothing but the export it was asked for.
 *
 * ```
 * npm run audit -- export --since <date> [--until <date>] [--format csv|jsonl] [--out <file>] [--policy <file>]
 * npm run audit -- verify
 * ```
 * Exit codes: 0 done (verify: the chain is intact); 1 verify found a broken link; 2 the command could
 * not run as asked (bad flags or dates, no database, a database not yet migrated); 3 an unexpected
 * failure.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';
import { createSqliteAuditExportSource, openDatabaseReadOnly } from '../adapters/db/audit-export-query';
import { verifyAuditChain } from '../adapters/db/audit-log';
import { DbError } from '../adapters/db/db-error';
import {
  DATE_FORMS,
  EXPORT_FORMATS,
  parseExportWindow,
  renderExport,
  withPolicyFallback,
} from '../app/audit-export';
import { DEFAULT_DB_PATH } from '../config/env';
import { readPolicy } from '../config/policy';
import type { Policy } from '../domain/policy';

const USAGE = `Usage:
  npm run audit -- export --since <date> [--until <date>] [--format csv|jsonl] [--out <file>] [--policy <file>]
      Every request created in [since, until) with its grant: requester, approvers, resource,
      address or role, reason, timestamps (ISO-8601 UTC) and how it ended. --until defaults to now,
      --format to csv, --out to standard output. --policy fills in what the database cannot know
      (the kind and role of a request that never opened).
  npm run audit -- verify
      Walks the audit log's hash chain; exit 1 and the first broken link if an event was edited,
      deleted or reordered.

Dates: ${DATE_FORMS}.
The database is HALLPASS_DB (default ${DEFAULT_DB_PATH}); a .env file is read when present.
Exit codes: 0 done or intact, 1 chain broken, 2 bad usage or no database, 3 unexpected failure.`;

/** A refusal to run as asked: printed with the usage hint, exit 2. */
class UsageError extends Error {}

type Io = { out(text: string): void; err(text: string): void };

/** The policy file given with --policy, or a usage error listing its problems. */
function policyAt(path: string): Policy {
  const result = readPolicy(path);
  if (!result.ok) throw new UsageError(`${result.section.title}:\n  ${result.section.problems.join('\n  ')}`);
  return result.value;
}

function runExport(args: string[], dbPath: string, io: Io, now: Date): number {
  const { values } = parseArgs({
    args,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      format: { type: 'string', default: 'csv' },
      out: { type: 'string' },
      policy: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const window = parseExportWindow({ since: values.since, until: values.until }, now);
  if (!window.ok) {
    const d = window.detail ?? {};
    switch (window.error) {
      case 'MISSING_SINCE':
        throw new UsageError('export needs --since <date>: the first day (or instant) to include.');
      case 'INVALID_DATE':
        throw new UsageError(
          `${String(d['flag'])} ${JSON.stringify(d['input'])} is not a date: use ${DATE_FORMS}.`,
        );
      case 'EMPTY_WINDOW':
        throw new UsageError(
          `--until (${String(d['until'])}) must be later than --since (${String(d['since'])}).`,
        );
    }
  }
  const format = EXPORT_FORMATS.find((f) => f === values.format);
  if (format === undefined) {
    throw new UsageError(`--format ${JSON.stringify(values.format)} is not a format: use csv or jsonl.`);
  }
  const policy = values.policy === undefined ? undefined : policyAt(values.policy);

  const handle = openDatabaseReadOnly(dbPath);
  let content: string;
  let count: number;
  try {
    const found = createSqliteAuditExportSource(handle.db).rows(window.value);
    const rows = policy === undefined ? found : withPolicyFallback(found, policy);
    content = renderExport(rows, format);
    count = rows.length;
  } finally {
    handle.close();
  }
  // Written only once the whole export is built: a failure leaves no half file behind.
  if (values.out === undefined) io.out(content);
  else {
    writeFileSync(values.out, content, 'utf8');
    io.err(
      `Wrote ${count} request(s) from ${window.value.since.toISOString()} to ${window.value.until.toISOString()} to ${values.out}\n`,
    );
  }
  return 0;
}

function runVerify(args: string[], dbPath: string, io: Io): number {
  parseArgs({ args, options: {}, strict: true, allowPositionals: false });
  const handle = openDatabaseReadOnly(dbPath);
  try {
    const report = verifyAuditChain(handle.db);
    if (!report.ok) {
      io.out(
        `Audit log BROKEN: first broken link at event ${report.firstBrokenSeq} (${report.reason}): ${report.message}\n`,
      );
      return 1;
    }
    io.out(`Audit log intact: ${report.events} event(s), head ${report.head}\n`);
    if (report.legacy > 0) {
      io.out(
        `Note: events 1..${report.legacy} were recorded before the hash chain existed; they are covered only from the first sealed event on.\n`,
      );
    }
    return 0;
  } finally {
    handle.close();
  }
}

function run(argv: string[], env: NodeJS.ProcessEnv, io: Io, now: Date): number {
  const [command, ...rest] = argv;
  const dbPath = env['HALLPASS_DB'] || DEFAULT_DB_PATH;
  try {
    switch (command) {
      case 'export':
        return runExport(rest, dbPath, io, now);
      case 'verify':
        return runVerify(rest, dbPath, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}: use export or verify.`);
    }
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      io.err(`hallpass audit: ${e.message}\nRun \`npm run audit -- help\` for usage.\n`);
      return 2;
    }
    if (e instanceof DbError && (e.code === 'NOT_FOUND' || e.code === 'SCHEMA_OUTDATED')) {
      const hint = e.code === 'NOT_FOUND' ? ' (set HALLPASS_DB to the bot’s database file)' : '';
      io.err(`hallpass audit: ${e.message.replace(`${e.operation}: `, '')}${hint}\n`);
      return 2;
    }
    io.err(`hallpass audit failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

/** `parseArgs` reports unknown or malformed flags with `ERR_PARSE_ARGS_*` codes. */
const isParseArgsError = (e: unknown): e is Error =>
  e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS');

dotenv.config({ quiet: true });
process.exitCode = run(
  process.argv.slice(2),
  process.env,
  { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
  new Date(),
);
