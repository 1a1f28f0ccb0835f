import { asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import type { AuditHead, AuditKey } from '../../../app/audit-ports';
import type { AuditEvent, AuditLog } from '../../../app/ports';
import {
  type AuditChainReport,
  type AuditRow,
  BREAK_ACCEPTED_EVENT,
  ChainWalker,
  chainThrough,
  GENESIS_HASH,
  type HeadCheck,
  headAgainstSeal,
  headBeforeSeal,
  headOf,
  type LastEvent,
  PAGE_SIZE,
  pageAfter,
  refuseDowngrade,
  sealedRow,
  toEvent,
  type VerifyOptions,
} from '../audit-chain';
import { IDS_PER_STATEMENT } from '../chunks';
import { toDbError } from '../db-error';
import { PG_AUDIT_APPEND_LOCK_KEY, type PgDb } from '../open-pg';
import { auditEvents } from '../pg-schema';

/**
 * The audit log on PostgreSQL: the same chain as on SQLite (audit-chain.ts), the same seals for the
 * same events, so a log copied from one engine to the other verifies. Only the queries are here.
 */

/** A transaction open on a PostgreSQL database (a savepoint inside it, for a nested one). */
export type PgTx = Parameters<Parameters<PgDb['transaction']>[0]>[0];

/** Where a store's queries run: the database (each on a pooled connection), or the caller's transaction. */
export type PgExecutor = PgDb | PgTx;

/**
 * Runs `fn`, turning what it throws into a `DbError` named after `operation`. Drizzle wraps the driver's
 * error (`Failed query: …`); the driver's own — with its SQLSTATE as `code` — is the one kept.
 */
export async function withPgErrors<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toDbError(operation, e instanceof DrizzleQueryError && e.cause !== undefined ? e.cause : e);
  }
}

/**
 * One snapshot for a whole reading: no commit made after it began is seen (the walk and the tables
 * describe one moment, while replicas go on appending), and nothing can be written in it.
 */
export const READ_SNAPSHOT = { isolationLevel: 'repeatable read', accessMode: 'read only' } as const;

/** Every event in `seq` order (up to `lastSeq` when given), a page at a time. */
async function* rowsInOrder(db: PgExecutor, lastSeq?: number): AsyncGenerator<AuditRow[]> {
  let after = 0;
  for (;;) {
    const page = await db
      .select()
      .from(auditEvents)
      .where(pageAfter(auditEvents.seq, after, lastSeq))
      .orderBy(asc(auditEvents.seq))
      .limit(PAGE_SIZE);
    if (page.length > 0) yield page;
    const last = page[page.length - 1];
    if (last === undefined || page.length < PAGE_SIZE) return;
    after = last.seq;
  }
}

/** The chain computed through the events up to `lastSeq` (all of them without): a legacy event's seal is computed. */
async function runningHead(db: PgExecutor, lastSeq?: number): Promise<string> {
  let head = GENESIS_HASH;
  for await (const page of rowsInOrder(db, lastSeq)) head = chainThrough(head, page);
  return head;
}

/** The `audit.break_accepted` events on record, in `seq` order. */
export function breakAcceptanceRows(db: PgExecutor): Promise<AuditRow[]> {
  return db
    .select()
    .from(auditEvents)
    .where(eq(auditEvents.type, BREAK_ACCEPTED_EVENT))
    .orderBy(asc(auditEvents.seq));
}

/**
 * The chain walk (see `verifyAuditChain`) over the events `tx` sees, a page at a time. Run it in a
 * `READ_SNAPSHOT` transaction: then what else that transaction reads describes the same moment.
 */
export async function walkPostgresChain(
  tx: PgExecutor,
  options: Omit<VerifyOptions, 'atEnd'> = {},
): Promise<AuditChainReport> {
  const w = new ChainWalker(options, await breakAcceptanceRows(tx));
  for await (const page of rowsInOrder(tx)) {
    const seals = w.linksToLookUp(page);
    w.feedPage(
      page,
      seals.length === 0
        ? []
        : await tx
            .select({ seq: auditEvents.seq, hash: auditEvents.hash })
            .from(auditEvents)
            .where(inArray(auditEvents.hash, seals)),
    );
  }
  return w.finish();
}

/**
 * `verifyAuditChain` on PostgreSQL: the same checks and report, over one read-only snapshot. A long
 * walk holds up nobody (readers do not block writers here), so there is no separate version for the
 * running bot.
 */
export function verifyPostgresAuditChain(
  db: PgDb,
  options: Omit<VerifyOptions, 'atEnd'> = {},
): Promise<AuditChainReport> {
  return withPgErrors('audit.verify', () =>
    db.transaction((tx) => walkPostgresChain(tx, options), READ_SNAPSHOT),
  );
}

const lastEvent = async (db: PgExecutor): Promise<LastEvent | undefined> =>
  (
    await db
      .select({ seq: auditEvents.seq, hash: auditEvents.hash, keyId: auditEvents.keyId })
      .from(auditEvents)
      .orderBy(desc(auditEvents.seq))
      .limit(1)
  )[0];

/** `checkHead` on PostgreSQL, over one read-only snapshot. */
export function checkPostgresHead(db: PgDb, head: AuditHead): Promise<HeadCheck> {
  return withPgErrors('audit.checkHead', () =>
    db.transaction(async (tx) => {
      const early = headBeforeSeal(head, (await lastEvent(tx))?.seq ?? 0);
      if (early !== undefined) return early;
      const [row] = await tx
        .select({ hash: auditEvents.hash })
        .from(auditEvents)
        .where(eq(auditEvents.seq, head.count));
      return headAgainstSeal(
        head,
        row === undefined ? undefined : (row.hash ?? (await runningHead(tx, head.count))),
      );
    }, READ_SNAPSHOT),
  );
}

/** Key ids that sealed events in this log (NULL — unkeyed — left out). */
export function postgresKeyIdsInLog(db: PgExecutor): Promise<string[]> {
  return withPgErrors('audit.keyIds', async () =>
    (await db.selectDistinct({ keyId: auditEvents.keyId }).from(auditEvents))
      .map((r) => r.keyId)
      .filter((k): k is string => k !== null),
  );
}

/**
 * Waits for the append lock (`PG_AUDIT_APPEND_LOCK_KEY`), held until the transaction ends: appends from
 * every replica queue one behind another, as SQLite's single writer makes them, so each reads the true
 * last event and the chain never forks. The migration's `audit_events_linked` trigger takes the same lock.
 */
const takeAppendLock = (tx: PgExecutor) =>
  tx.execute(sql`SELECT pg_advisory_xact_lock(${PG_AUDIT_APPEND_LOCK_KEY}::bigint)`);

/** Options of the PostgreSQL audit log. */
export type PostgresAuditLogOptions = {
  /** Seals new events with HMAC-SHA-256 under this key; absent: unkeyed SHA-256 (warned at start-up). */
  readonly key?: AuditKey | undefined;
};

/** `AuditLog` on PostgreSQL, with the append the unit of work makes at its end (see `createPostgresAuditLog`). */
export type PostgresAuditLog = AuditLog & {
  /**
   * Appends `events` on `db()`, which must be a transaction (the lock is the transaction's): no
   * savepoint of its own, so a failure fails that transaction. The unit of work calls it as its last
   * work before COMMIT, so the append lock is held for the append and COMMIT only.
   */
  appendInTransaction(events: readonly AuditEvent[]): Promise<void>;
};

/**
 * `AuditLog` on PostgreSQL. `db` gives where to run: the caller's transaction when there is one (the
 * unit of work's), else the database. An append runs in that transaction (a savepoint in it), or in a
 * transaction of its own outside one, and there first takes the append lock, then reads the last
 * event, then inserts the next one sealed into the chain — so an append stays in order with every
 * replica's, and commits or rolls back with the caller's other writes. The lock is held until the
 * outermost transaction ends. Append-only by construction, as on SQLite; without a key, an append
 * after a keyed event is refused.
 *
 * `seq` is the last event's plus one, written explicitly: the identity sequence would hand out numbers
 * outside the transaction, so an append rolled back would leave a gap that reads as a deleted event.
 * Unlike SQLite's AUTOINCREMENT counter, it therefore does not skip the numbers of a tail cut off the
 * log (with the triggers disabled): a published head catches that on both engines (`checkHead`).
 *
 * `head()` takes the append lock too, so a head read in a transaction is the one the next append in
 * it links to (publishing a head records it in the same transaction).
 */
export function createPostgresAuditLog(
  db: () => PgExecutor,
  options: PostgresAuditLogOptions = {},
): PostgresAuditLog {
  const { key } = options;
  /**
   * Appends `events` in order, as consecutive links of the chain, in one transaction (a savepoint in
   * the caller's): the lock is taken and the last event read once, then each row is sealed on the one
   * before it. A multi-row INSERT (`IDS_PER_STATEMENT` rows at most, for the bind-parameter limit) is
   * accepted by `audit_events_linked`: a row trigger sees the rows its statement inserted before (the
   * 1,200-event case of tests/integration/db/store-conformance.test.ts holds it to that).
   */
  const appendOn = async (tx: PgExecutor, events: readonly AuditEvent[]): Promise<void> => {
    await takeAppendLock(tx);
    const last = await lastEvent(tx);
    refuseDowngrade(last, key);
    const first = (last?.seq ?? 0) + 1;
    let prevHash = last === undefined ? GENESIS_HASH : (last.hash ?? (await runningHead(tx)));
    const rows = events.map((event, i) => {
      const row = sealedRow(event, first + i, prevHash, key);
      prevHash = chainThrough(prevHash, [row]);
      return row;
    });
    for (let i = 0; i < rows.length; i += IDS_PER_STATEMENT) {
      await tx.insert(auditEvents).values(rows.slice(i, i + IDS_PER_STATEMENT));
    }
  };
  const appendEvents = (events: readonly AuditEvent[]): Promise<void> =>
    db().transaction((tx) => appendOn(tx, events));
  return {
    appendInTransaction: (events) =>
      withPgErrors('audit.append', async () => {
        if (events.length > 0) await appendOn(db(), events);
      }),

    append: (event) => withPgErrors('audit.append', () => appendEvents([event])),

    appendAll: (events) =>
      withPgErrors('audit.appendAll', async () => {
        if (events.length > 0) await appendEvents(events);
      }),

    list: (filter = {}) =>
      withPgErrors('audit.list', async () =>
        (
          await db()
            .select()
            .from(auditEvents)
            .where(filter.requestId === undefined ? undefined : eq(auditEvents.requestId, filter.requestId))
            .orderBy(asc(auditEvents.seq))
        ).map(toEvent),
      ),

    head: () =>
      withPgErrors('audit.head', () =>
        db().transaction(async (tx) => {
          await takeAppendLock(tx);
          const last = await lastEvent(tx);
          return headOf(last, last?.hash ?? (await runningHead(tx)));
        }),
      ),

    lastOfType: (type) =>
      withPgErrors('audit.lastOfType', async () => {
        const [row] = await db()
          .select()
          .from(auditEvents)
          .where(eq(auditEvents.type, type))
          .orderBy(desc(auditEvents.seq))
          .limit(1);
        // The row was found by this type, so it is one hallpass appends.
        return row === undefined ? undefined : { ...toEvent(row), type };
      }),
  };
}
