#!/usr/bin/env node
/**
 * `npm run audit -- …`: the audit trail as evidence, from the command line. A composition root like
 * main.ts: reads `.env`, `HALLPASS_DB` (a SQLite file or a `postgres://` URL) and the audit keys
 * (`HALLPASS_AUDIT_KEY`, `HALLPASS_AUDIT_OLD_KEYS`), and never creates or migrates the database. It
 * reads in read-only transactions (SQLite's `query_only`; PostgreSQL's `default_transaction_read_only`).
 *
 * ```
 * npm run audit -- export --since <date> [--until <date>] [--format csv|jsonl] [--out <file>] [--policy <file>] [--no-publish]
 * npm run audit -- verify [--head <count>:<hash>]
 * npm run audit -- search [--who <user id>] [--resource <id>] [--address <ip|cidr>] [--from <date>] [--to <date>]
 *                         [--end-reason expired|revoked|done|failed] [--format table|csv|jsonl] [--policy <file>]
 * ```
 * Every exported or found row is derived from the hash-chained events and checked against the tables
 * (src/app/audit-record.ts). `verify` and `search` only read. `export` records itself in the log and
 * queues the log's head for the policy's audit channel (sent by the running bot), unless `--no-publish`.
 *
 * Exit codes: 0 done (verify: the chain is intact, the tables agree, the head holds); 1 the chain is
 * broken, a table disagrees with it, or the head does not hold (an export is still written, with the
 * problem on stderr); 2 the command could not run as asked (bad flags or dates, no database, a database
 * not yet migrated, a key missing); 3 an unexpected failure.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';
import { createSqliteAuditLogReader } from '../adapters/db/audit-export-query';
import { parseHead } from '../adapters/db/audit-log';
import type { AuditLogReader } from '../adapters/db/audit-reading';
import { DbError } from '../adapters/db/db-error';
import { openDatabaseReadOnly, openExistingDatabase } from '../adapters/db/open-db';
import { createPostgresAuditLogReader } from '../adapters/db/pg/audit-record';
import { isPostgresUrl, openExistingPostgres } from '../adapters/db/pg/open-existing';
import { PG_CHANGE_CHANNEL } from '../adapters/db/pg/pg-change-feed';
import { createPostgresStores } from '../adapters/db/pg/stores';
import { createSqliteStores, type SqliteStores } from '../adapters/db/stores';
import {
  DATE_FORMS,
  EXPORT_FORMATS,
  parseExportWindow,
  renderExport,
  withPolicyFallback,
} from '../app/audit-export-format';
import type { AuditExportRow, AuditKeyring, ChainStatus } from '../app/audit-ports';
import { type AuditRecord, describeMismatch } from '../app/audit-record';
import { createNotices } from '../app/notify';
import type { AuditEvent } from '../app/ports';
import { publishHead } from '../app/publish-head';
import { searchRows } from '../app/search-audit';
import { DEFAULT_DB_PATH, DEFAULT_POLICY_PATH } from '../config/env';
import { readPolicy } from '../config/policy';
import {
  AUDIT_DATE_FORMS,
  END_REASON_WORDS,
  parseAddressFilter,
  parseAuditDate,
  type ResolvedSearchFilters,
} from '../domain/audit-search';
import type { Policy } from '../domain/policy';
import { isParseArgsError, keysOf, UsageError } from './cli-support';

const USAGE = `Usage:
  npm run audit -- export --since <date> [--until <date>] [--format csv|jsonl] [--out <file>] [--policy <file>] [--no-publish]
      Every request made in [since, until) with its grant: requester, approvers, resource, address or
      role, reason, timestamps (ISO-8601 UTC) and how it ended — every field from the hash-chained
      audit log, checked against the database tables (columns not_in_chain and table_differs).
      --until defaults to now, --format to csv, --out to standard output. --policy fills in what the
      log cannot know (the kind and role of a request that never opened). The export is recorded in
      the log and the log's head is queued for the policy's auditChannel (HALLPASS_POLICY, or --policy),
      which the running bot posts; --no-publish writes nothing to the database (a copy of it).
  npm run audit -- verify [--head <count>:<hash>]
      Walks the audit log's chain (HMAC-SHA-256 under HALLPASS_AUDIT_KEY / HALLPASS_AUDIT_OLD_KEYS for
      keyed events) and checks every request and grant row against it. With --head (as posted in the
      audit channel), also proves nothing up to that event was removed or changed.
  npm run audit -- search [--who <user id>] [--resource <id>] [--address <ip|cidr>] [--from <date>] [--to <date>]
                          [--end-reason expired|revoked|done|failed] [--format table|csv|jsonl] [--policy <file>]
      Requests matching every filter given: --who is the requester, an approver or whoever decided,
      ended or reviewed it; --address matches sources that cover it or that it covers; --from/--to
      match grants whose access [started, ended or planned end) overlaps the window, and requests
      without access made in it. "Who had access to prod-db between 02:00 and 03:00 on the 14th":
      search --resource prod-db --from 2026-11-14T02:00Z --to 2026-11-14T03:00Z

Dates: ${DATE_FORMS}.
The database is HALLPASS_DB: a SQLite file (default ${DEFAULT_DB_PATH}) or a postgres:// URL, read in
read-only transactions; a .env file is read when present.
Exit codes: 0 done or intact, 1 broken or disagreeing, 2 bad usage, no database or a key missing, 3 unexpected failure.`;

type Io = { out(text: string): void; err(text: string): void };

/** The policy file given with --policy, or a usage error listing its problems. */
function policyAt(path: string): Policy {
  const result = readPolicy(path);
  if (!result.ok) throw new UsageError(`${result.section.title}:\n  ${result.section.problems.join('\n  ')}`);
  return result.value;
}

/** The audit log at `HALLPASS_DB`, opened for reading only, and how to close it. */
type OpenLog = { readonly reader: AuditLogReader; close(): Promise<void> };

/** Opens the SQLite file or the PostgreSQL database `HALLPASS_DB` names, read-only, without migrating it. */
async function openLog(db: string): Promise<OpenLog> {
  if (isPostgresUrl(db)) {
    const handle = await openExistingPostgres(db, { write: false });
    return { reader: createPostgresAuditLogReader(handle.db), close: handle.close };
  }
  const handle = openDatabaseReadOnly(db);
  return { reader: createSqliteAuditLogReader(handle.db), close: async () => handle.close() };
}

/** Runs `fn` on the log at `db`, closing it afterwards. */
async function withLog<T>(db: string, fn: (reader: AuditLogReader) => Promise<T>): Promise<T> {
  const log = await openLog(db);
  try {
    return await fn(log.reader);
  } finally {
    await log.close();
  }
}

/** Refuses (exit 2) a keyed log without the keys to verify it: a walk without them proves nothing. */
async function requireKeys(reader: AuditLogReader, keys: AuditKeyring | undefined): Promise<void> {
  const known = new Set(
    [...(keys?.old ?? []), ...(keys?.current === undefined ? [] : [keys.current])].map((k) => k.id),
  );
  const missing = (await reader.keyIds()).filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new UsageError(
      `the audit log is sealed with audit key ${missing.map((id) => JSON.stringify(id)).join(', ')}: set HALLPASS_AUDIT_KEY (or HALLPASS_AUDIT_OLD_KEYS) to that key to verify it.`,
    );
  }
}

/** The record, read with the keys it needs. */
async function recordOf(reader: AuditLogReader, keys: AuditKeyring | undefined): Promise<AuditRecord> {
  await requireKeys(reader, keys);
  return reader.read(keys);
}

/** One line about the chain, for stderr under an export or a search. */
function chainNote(chain: ChainStatus): string {
  return chain.ok
    ? `Audit chain verified: ${chain.events} event(s), head ${chain.head.count}:${chain.head.hash}.`
    : `WARNING: the audit chain is BROKEN at event ${chain.firstBrokenSeq} (${chain.reason}): ${chain.message} These rows are not evidence until that is resolved.`;
}

function disagreementNote(rows: readonly AuditExportRow[]): string | undefined {
  const n = rows.filter((r) => (r.tableDiffers?.length ?? 0) > 0).length;
  return n === 0
    ? undefined
    : `WARNING: ${n} row(s) have database tables that disagree with the audit chain (column table_differs; the rows show the chain's values). Run \`npm run audit -- verify\`.`;
}

/** Who ran the CLI, as the log records it. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** What recording an export needs. */
type ExportRecord = {
  dbPath: string;
  keys: AuditKeyring | undefined;
  policy: Policy | undefined;
  chain: ChainStatus;
  mismatches: number;
  rows: number;
  since: Date;
  until: Date;
  format: string;
  now: Date;
};

/** The event recording an export in the log. */
const exportedEvent = (args: ExportRecord, by: string): AuditEvent => ({
  at: args.now,
  actor: by,
  type: 'audit.exported',
  details: {
    since: args.since.toISOString(),
    until: args.until.toISOString(),
    rows: args.rows,
    format: args.format,
    chainOk: args.chain.ok,
    via: 'cli',
  },
});

/**
 * Records the export in the log and queues its head for the audit channel: the same publication the
 * bot makes (`publishHead`), through the same outbox, which the running bot sends. Returns a line for
 * stderr. On PostgreSQL the bot's replicas are also notified at once (the change feed), so one of them
 * posts the head now rather than at its next look at the outbox.
 */
async function recordAndPublish(args: ExportRecord): Promise<string> {
  if (isPostgresUrl(args.dbPath)) {
    const handle = await openExistingPostgres(args.dbPath, { write: true });
    try {
      const line = await recordWith(createPostgresStores(handle, { key: args.keys?.current }), args);
      await handle.pool
        .query('SELECT pg_notify($1, $2)', [PG_CHANGE_CHANNEL, `outbox:audit-cli-${process.pid}`])
        // A lost wake-up only delays the post until the bot's next look at the outbox.
        .catch(() => undefined);
      return line;
    } finally {
      await handle.close();
    }
  }
  const handle = openExistingDatabase(args.dbPath, { write: true });
  try {
    return await recordWith(createSqliteStores(handle, { key: args.keys?.current }), args);
  } finally {
    handle.close();
  }
}

/** `recordAndPublish` on either engine's stores. */
async function recordWith(stores: SqliteStores, args: ExportRecord): Promise<string> {
  const by = cliActor();
  await stores.audit.append(exportedEvent(args, by));
  const policy = args.policy;
  const deps =
    policy === undefined
      ? undefined
      : {
          ...stores,
          clock: { now: () => args.now },
          logger: { info: () => {}, warn: () => {}, error: () => {} },
          policy: () => policy,
          deliveries: { wake: () => {} },
        };
  const published =
    deps === undefined
      ? undefined
      : await publishHead(
          { ...deps, notices: createNotices(deps) },
          {
            kind: 'export',
            by,
            rows: args.rows,
            since: args.since.toISOString(),
            until: args.until.toISOString(),
          },
          args.chain,
          args.mismatches,
        );
  const head = await stores.audit.head();
  if (published !== undefined) {
    return `Recorded the export in the audit log and queued head ${published.count}:${published.hash} for the audit channel ${policy?.auditChannel ?? ''} (the running bot posts it).`;
  }
  return `Recorded the export in the audit log; no auditChannel in the policy${policy === undefined ? ' (none found: give --policy or HALLPASS_POLICY)' : ''}, so keep this head yourself: ${head.count}:${head.hash}.`;
}

/** The policy for publication: --policy, else HALLPASS_POLICY (or the default) when that file exists. */
function publicationPolicy(flag: Policy | undefined, env: NodeJS.ProcessEnv): Policy | undefined {
  if (flag !== undefined) return flag;
  const path = env['HALLPASS_POLICY']?.trim() || DEFAULT_POLICY_PATH;
  if (!existsSync(path)) return undefined;
  const result = readPolicy(path);
  return result.ok ? result.value : undefined;
}

async function runExport(
  args: string[],
  dbPath: string,
  env: NodeJS.ProcessEnv,
  io: Io,
  now: Date,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      format: { type: 'string', default: 'csv' },
      out: { type: 'string' },
      policy: { type: 'string' },
      'no-publish': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const window = parseExportWindow({ since: values.since, until: values.until }, now);
  if (!window.ok) {
    switch (window.error) {
      case 'MISSING_SINCE':
        throw new UsageError('export needs --since <date>: the first day (or instant) to include.');
      case 'INVALID_DATE':
        throw new UsageError(
          `${window.detail.flag} ${JSON.stringify(window.detail.input)} is not a date: use ${DATE_FORMS}.`,
        );
      case 'EMPTY_WINDOW':
        throw new UsageError(
          `--until (${window.detail.until}) must be later than --since (${window.detail.since}).`,
        );
    }
  }
  const format = EXPORT_FORMATS.find((f) => f === values.format);
  if (format === undefined) {
    throw new UsageError(`--format ${JSON.stringify(values.format)} is not a format: use csv or jsonl.`);
  }
  const policy = values.policy === undefined ? undefined : policyAt(values.policy);
  const keys = keysOf(env);

  const record = await withLog(dbPath, (reader) => recordOf(reader, keys));
  const { since, until } = window.value;
  const inWindow = record.rows.filter(
    (r) => r.requestedAt.getTime() >= since.getTime() && r.requestedAt.getTime() < until.getTime(),
  );
  const rows = policy === undefined ? inWindow : withPolicyFallback(inWindow, policy);
  const content = renderExport(rows, format);
  // Written only once the whole export is built: a failure leaves no half file behind.
  if (values.out === undefined) io.out(content);
  else {
    writeFileSync(values.out, content, 'utf8');
    io.err(
      `Wrote ${rows.length} request(s) from ${window.value.since.toISOString()} to ${window.value.until.toISOString()} to ${values.out}\n`,
    );
  }
  const problems = [
    ...(record.chain.ok ? [] : [chainNote(record.chain)]),
    ...(disagreementNote(rows) === undefined ? [] : [disagreementNote(rows) ?? '']),
  ];
  for (const p of problems) io.err(`${p}\n`);
  if (!values['no-publish']) {
    try {
      io.err(
        `${await recordAndPublish({
          dbPath,
          keys,
          policy: publicationPolicy(policy, env),
          chain: record.chain,
          mismatches: record.mismatches.length,
          rows: rows.length,
          since: window.value.since,
          until: window.value.until,
          format,
          now,
        })}\n`,
      );
    } catch (e) {
      io.err(
        `Could not record the export in the audit log or queue its head (${e instanceof Error ? e.message : String(e)}); on a copy of the database, use --no-publish. The head read was ${record.chain.head.count}:${record.chain.head.hash}.\n`,
      );
    }
  }
  return problems.length > 0 ? 1 : 0;
}

async function runVerify(args: string[], dbPath: string, env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { head: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const published = values.head === undefined ? undefined : parseHead(values.head);
  if (values.head !== undefined && published === undefined) {
    throw new UsageError(
      `--head ${JSON.stringify(values.head)} is not a head: give <count>:<hash> exactly as the audit channel shows it (a number, a colon, 64 hex digits).`,
    );
  }
  const keys = keysOf(env);
  return withLog(dbPath, async (reader) => {
    const record = await recordOf(reader, keys);
    const { chain } = record;
    let failed = false;
    if (!chain.ok) {
      io.out(
        `Audit log BROKEN: first broken link at event ${chain.firstBrokenSeq} (${chain.reason}): ${chain.message}\n`,
      );
      failed = true;
    } else {
      io.out(`Audit log intact: ${chain.events} event(s), head ${chain.head.hash}\n`);
      io.out(`Head to keep: ${chain.head.count}:${chain.head.hash}\n`);
      if (chain.keyIds.length > 0) {
        io.out(
          `Sealed with audit key ${chain.keyIds.map((k) => JSON.stringify(k)).join(', ')} (HMAC-SHA-256) from event ${chain.unkeyed + 1} on.\n`,
        );
      }
      if (chain.unkeyed > 0) {
        io.out(
          `Note: events 1..${chain.unkeyed} are not keyed (recorded without HALLPASS_AUDIT_KEY${chain.keyIds.length > 0 ? ', before the key was set' : ''}): ${chain.keyIds.length > 0 ? 'the first keyed event seals them, so they cannot be rewritten without breaking it.' : 'they show accidental damage, not a deliberate rewrite by someone who can write the database — only a head published elsewhere (--head) proves them.'}\n`,
        );
      }
      for (const a of chain.accepted) {
        io.out(
          `Note: event ${a.seq} broke the chain (${a.reason}: ${a.message}); the break was accepted at start-up on ${a.acceptedAt.toISOString()} (event ${a.acceptedBySeq}, HALLPASS_AUDIT_ACCEPT_BROKEN), so the chain is checked from there on.\n`,
        );
      }
    }
    if (published !== undefined) {
      const held = await reader.checkHead(published);
      if (held.ok && chain.ok) {
        io.out(
          `Published head ${published.count}:${published.hash} holds: nothing up to event ${published.count} was removed or changed.\n`,
        );
      } else if (held.ok) {
        io.out(
          `Published head ${published.count}:${published.hash} is still the seal of event ${published.count}, but the chain is broken (above): it is not proven.\n`,
        );
      } else {
        io.out(`Published head ${published.count}:${published.hash} does NOT hold: ${held.message}\n`);
        failed = true;
      }
    }
    for (const m of record.mismatches) io.out(`Table disagrees: ${describeMismatch(m)}\n`);
    if (record.mismatches.length > 0) failed = true;
    else if (chain.ok) {
      io.out(
        `Tables agree: every request and grant row matches the chain (${record.rows.length} request(s)).\n`,
      );
    }
    return failed ? 1 : 0;
  });
}

const SEARCH_FORMATS = ['table', 'csv', 'jsonl'] as const;

/** The search flags as filters; each bad one is a usage error naming it. */
function searchFilters(values: {
  who?: string | undefined;
  resource?: string | undefined;
  address?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  'end-reason'?: string | undefined;
}): ResolvedSearchFilters {
  const who = values.who;
  if (who !== undefined && !/^([UW][A-Z0-9]{2,}|hallpass|cli(:.*)?)$/.test(who)) {
    throw new UsageError(
      `--who ${JSON.stringify(who)} is not a Slack user id: give the person's id (U0123ABCD; Slack shows it in their profile), or hallpass.`,
    );
  }
  const resource = values.resource?.toLowerCase();
  if (resource !== undefined && !/^[a-z0-9-]{1,64}$/.test(resource)) {
    throw new UsageError(
      `--resource ${JSON.stringify(values.resource)} is not a resource id (a-z, 0-9 and -).`,
    );
  }
  let address: ResolvedSearchFilters['address'];
  if (values.address !== undefined) {
    const parsed = parseAddressFilter(values.address);
    if (!parsed.ok) {
      const suggestion = parsed.detail.suggestion;
      throw new UsageError(
        `--address ${JSON.stringify(values.address)} is not an address or network${suggestion !== undefined ? `: its host bits are set; did you mean ${suggestion}?` : ': give a host like 203.0.113.7 or a network like 203.0.113.0/24.'}`,
      );
    }
    address = parsed.value;
  }
  const date = (flag: 'from' | 'to'): Date | undefined => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const d = parseAuditDate(text);
    if (d === undefined)
      throw new UsageError(`--${flag} ${JSON.stringify(text)} is not a date: use ${AUDIT_DATE_FORMS}.`);
    return d;
  };
  const from = date('from');
  const to = date('to');
  if (from !== undefined && to !== undefined && to.getTime() <= from.getTime()) {
    throw new UsageError(`--to (${to.toISOString()}) must be later than --from (${from.toISOString()}).`);
  }
  const end = values['end-reason'];
  const endReason = END_REASON_WORDS.find((r) => r === end?.toLowerCase());
  if (end !== undefined && endReason === undefined) {
    throw new UsageError(
      `--end-reason ${JSON.stringify(end)} is not an end reason: use ${END_REASON_WORDS.join(', ')}.`,
    );
  }
  return {
    ...(who === undefined ? {} : { who: { userId: who } }),
    ...(resource === undefined ? {} : { resourceId: resource }),
    ...(address === undefined ? {} : { address }),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    ...(endReason === undefined ? {} : { endReason }),
  };
}

/** A fixed-width table of the found rows: who, what, from where, and the exact times of access. */
function searchTable(rows: readonly AuditExportRow[]): string {
  const iso = (d: Date | undefined) => d?.toISOString() ?? '-';
  const header = [
    'request_id',
    'grant_id',
    'resource',
    'requester',
    'address_or_role',
    'state',
    'requested_at',
    'started_at',
    'expires_at (planned)',
    'ended_at (actual)',
    'end_reason',
    'ended_by',
    'checks',
  ];
  const lines = rows.map((r) => [
    r.requestId,
    r.grantId ?? '-',
    r.resourceId,
    r.requesterId,
    r.address ?? r.roleArn ?? '-',
    r.grantState === undefined ? r.state : `${r.state}/${r.grantState}`,
    iso(r.requestedAt),
    iso(r.startedAt),
    iso(r.expiresAt),
    iso(r.endedAt),
    r.endReason ?? '-',
    r.endedBy ?? '-',
    [
      ...((r.tableDiffers?.length ?? 0) > 0 ? [`TABLE DIFFERS: ${(r.tableDiffers ?? []).join(',')}`] : []),
      ...((r.notInChain?.length ?? 0) > 0 ? [`not in chain: ${(r.notInChain ?? []).join(',')}`] : []),
    ].join('; ') || 'ok',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...lines.map(fmt)].join('\n');
}

async function runSearch(args: string[], dbPath: string, env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      who: { type: 'string' },
      resource: { type: 'string' },
      address: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'end-reason': { type: 'string' },
      format: { type: 'string', default: 'table' },
      policy: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const filters = searchFilters(values);
  const format = SEARCH_FORMATS.find((f) => f === values.format);
  if (format === undefined) {
    throw new UsageError(
      `--format ${JSON.stringify(values.format)} is not a format: use table, csv or jsonl.`,
    );
  }
  const policy = values.policy === undefined ? undefined : policyAt(values.policy);
  const keys = keysOf(env);
  const record = await withLog(dbPath, (reader) => recordOf(reader, keys));
  const found = searchRows(record.rows, filters);
  const rows = policy === undefined ? found : withPolicyFallback(found, policy);
  const notes = [
    chainNote(record.chain),
    ...(disagreementNote(rows) === undefined ? [] : [disagreementNote(rows) ?? '']),
  ];
  if (format === 'table') {
    io.out(`${searchTable(rows)}\n\n${rows.length} request(s) match. ${notes.join(' ')}\n`);
  } else {
    io.out(renderExport(rows, format));
    io.err(`${rows.length} request(s) match. ${notes.join(' ')}\n`);
  }
  return record.chain.ok && disagreementNote(rows) === undefined ? 0 : 1;
}

async function run(argv: string[], env: NodeJS.ProcessEnv, io: Io, now: Date): Promise<number> {
  const [command, ...rest] = argv;
  const dbPath = env['HALLPASS_DB'] || DEFAULT_DB_PATH;
  try {
    switch (command) {
      case 'export':
        return await runExport(rest, dbPath, env, io, now);
      case 'verify':
        return await runVerify(rest, dbPath, env, io);
      case 'search':
        return await runSearch(rest, dbPath, env, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}: use export, verify or search.`);
    }
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      io.err(`hallpass audit: ${e.message}\nRun \`npm run audit -- help\` for usage.\n`);
      return 2;
    }
    if (e instanceof DbError && ['NOT_FOUND', 'UNREACHABLE', 'SCHEMA_OUTDATED'].includes(e.code)) {
      const hint = e.code === 'SCHEMA_OUTDATED' ? '' : ' (set HALLPASS_DB to the bot’s database file or URL)';
      io.err(`hallpass audit: ${e.message.replace(`${e.operation}: `, '')}${hint}\n`);
      return 2;
    }
    io.err(`hallpass audit failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

dotenv.config({ quiet: true });
void run(
  process.argv.slice(2),
  process.env,
  { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
  new Date(),
).then((code) => {
  process.exitCode = code;
});
