import { asc, desc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { AuditHead, AuditKey } from '../../app/audit-ports';
import type { AuditEvent, AuditLog } from '../../app/ports';
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
  PAGE_SIZE,
  pageAfter,
  refuseDowngrade,
  type SealOwner,
  sealedRow,
  toEvent,
  type VerifyOptions,
} from './audit-chain';
import { sqliteIdIn } from './chunks';
import { withDbErrors } from './db-error';
import type { Db } from './open-db';
import { createSqlitePrepared, type SqlitePrepared } from './prepared';
import { auditEvents } from './schema';
import type { Sync } from './sync-gate';

// The chain itself — sealing, the walk, heads — is engine-independent (audit-chain.ts); this file holds
// SQLite's queries. These names stay exported from here for the callers that have always used them.
export {
  type AuditChainReport,
  BREAK_ACCEPTED_EVENT,
  type ChainBreak,
  canonicalJson,
  eventHash,
  GENESIS_HASH,
  type HeadCheck,
  KEYED_SEAL_PREFIX,
  keyedEventHash,
  parseHead,
  repeatedKey,
  type VerifyOptions,
} from './audit-chain';

/**
 * Every column of the audit table under its row key. The walk reads pages with it as plain rows, as
 * better-sqlite3 builds them: the columns are numbers and text stored as the row holds them, so
 * drizzle's per-row mapping adds nothing but garbage (start-up's walk of 30,000 events: about 7 % less).
 */
const ROW_COLUMNS = sql.raw(
  Object.entries(getTableColumns(auditEvents))
    .map(([key, column]) => `"${column.name}" AS "${key}"`)
    .join(', '),
);

/** Every event in `seq` order (up to `lastSeq` when given), a page at a time. */
export function* rowsInOrder(db: Pick<Db, 'all'>, lastSeq?: number, from = 0): Generator<AuditRow[]> {
  let after = from;
  for (;;) {
    const page = db.all<AuditRow>(
      sql`SELECT ${ROW_COLUMNS} FROM ${auditEvents} WHERE ${pageAfter(auditEvents.seq, after, lastSeq)} ORDER BY ${auditEvents.seq} LIMIT ${PAGE_SIZE}`,
    );
    if (page.length > 0) yield page;
    const last = page[page.length - 1];
    if (last === undefined || page.length < PAGE_SIZE) return;
    after = last.seq;
  }
}

/** The hash the next event must link to when the last one is unsealed (legacy): the chain computed through them. */
function runningHead(db: Pick<Db, 'all'>, lastSeq?: number): string {
  let head = GENESIS_HASH;
  for (const page of rowsInOrder(db, lastSeq)) head = chainThrough(head, page);
  return head;
}

/** The `audit.break_accepted` events on record, in `seq` order. */
export function breakAcceptanceRows(db: Pick<Db, 'select'>): AuditRow[] {
  return db
    .select()
    .from(auditEvents)
    .where(eq(auditEvents.type, BREAK_ACCEPTED_EVENT))
    .orderBy(asc(auditEvents.seq))
    .all();
}

/** A walk over SQLite: the accepted breaks on record are read first. */
const walker = (db: Pick<Db, 'select'>, options: VerifyOptions): ChainWalker =>
  new ChainWalker(options, breakAcceptanceRows(db));

/** Feeds one page, with the events carrying the seals it links to when the walker asks for them. */
function feed(db: Pick<Db, 'select'>, w: ChainWalker, page: readonly AuditRow[]): void {
  const seals = w.linksToLookUp(page);
  const owners: SealOwner[] =
    seals.length === 0
      ? []
      : db
          .select({ seq: auditEvents.seq, hash: auditEvents.hash })
          .from(auditEvents)
          .where(sqliteIdIn(auditEvents.hash, seals))
          .all();
  w.feedPage(page, owners);
}

/**
 * Walks the audit log in `seq` order and checks every link: `seq` runs 1, 2, 3, … without gaps, each
 * event's `prev_hash` is its predecessor's hash, its `hash` matches its content (under its key, for a
 * keyed event), its `details` are exactly as hallpass writes them, and no unkeyed event follows a keyed
 * one. Stops at the first broken link that was not accepted on the record and says why: `edited`,
 * `deleted` (a gap in `seq`, or a link to an event no longer in the log), `reordered`, `downgraded` (an
 * unkeyed event after keyed ones: rewritten without the key) or `unknown-key`. Reads one consistent
 * snapshot; never writes. `onEvent` sees every event, also past a break.
 */
export function verifyAuditChain(db: Db, options: VerifyOptions = {}): AuditChainReport {
  return withDbErrors('audit.verify', () =>
    db.transaction(
      (tx) => {
        const w = walker(tx, options);
        for (const page of rowsInOrder(tx)) feed(tx, w, page);
        options.atEnd?.();
        return w.finish();
      },
      { behavior: 'deferred' },
    ),
  );
}

/**
 * The same walk for the running bot: pages are read between turns of the event loop, so a long log
 * never holds up a close. The log is append-only, so the walk reads the same events a snapshot would
 * (anything edited meanwhile shows as a break); the events appended while it walked are read at the
 * end, in one transaction with `atEnd`.
 */
export async function verifyAuditChainAsync(db: Db, options: VerifyOptions = {}): Promise<AuditChainReport> {
  const lastSeq = withDbErrors(
    'audit.verify',
    () =>
      db.select({ seq: auditEvents.seq }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1).get()
        ?.seq,
  );
  const w = withDbErrors('audit.verify', () => walker(db, options));
  // An empty log: nothing to walk before the end.
  const pages = rowsInOrder(db, lastSeq ?? 0);
  for (;;) {
    const next = withDbErrors('audit.verify', () => pages.next());
    if (next.done === true) break;
    withDbErrors('audit.verify', () => feed(db, w, next.value));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // Caught up: the events appended during the walk, and what `atEnd` reads, in one read transaction
  // with no turn of the event loop in between, so both describe one moment.
  withDbErrors('audit.verify', () =>
    db.transaction(
      (tx) => {
        for (const page of rowsInOrder(tx, undefined, lastSeq ?? 0)) feed(tx, w, page);
        options.atEnd?.();
      },
      { behavior: 'deferred' },
    ),
  );
  return w.finish();
}

/**
 * Whether the log still holds a published head: event `count` exists and carries exactly that seal.
 * Together with an intact chain (`verifyAuditChain`) this proves no event up to `count` was removed or
 * changed — including a tail cut off and refilled, or a whole log rewritten with freshly computed
 * SHA-256 seals, which a chain alone cannot show.
 */
export function checkHead(db: Pick<Db, 'select' | 'all'>, head: AuditHead): HeadCheck {
  return withDbErrors('audit.checkHead', () => {
    const last = db
      .select({ seq: auditEvents.seq })
      .from(auditEvents)
      .orderBy(desc(auditEvents.seq))
      .limit(1)
      .get();
    const early = headBeforeSeal(head, last?.seq ?? 0);
    if (early !== undefined) return early;
    const row = db
      .select({ hash: auditEvents.hash })
      .from(auditEvents)
      .where(eq(auditEvents.seq, head.count))
      .get();
    return headAgainstSeal(head, row === undefined ? undefined : (row.hash ?? runningHead(db, head.count)));
  });
}

/** Key ids that sealed events in this log (NULL — unkeyed — left out). */
export function keyIdsInLog(db: Pick<Db, 'selectDistinct'>): string[] {
  return withDbErrors('audit.keyIds', () =>
    db
      .selectDistinct({ keyId: auditEvents.keyId })
      .from(auditEvents)
      .all()
      .map((r) => r.keyId)
      .filter((k): k is string => k !== null),
  );
}

/** Options of the SQLite audit log. */
export type SqliteAuditLogOptions = {
  /** Seals new events with HMAC-SHA-256 under this key; absent: unkeyed SHA-256 (warned at start-up). */
  readonly key?: AuditKey | undefined;
};

/**
 * `AuditLog` on SQLite. Append-only by construction: there is no update or delete here, and the
 * migration's triggers refuse them from anyone else. Tamper-evident: each append seals the event
 * into the chain (see above) inside one IMMEDIATE transaction (a savepoint when the caller's
 * transaction is already open), so reading the last event and inserting the next cannot interleave
 * with another writer. `details` is stored as JSON, so Dates inside it come back as ISO strings.
 * Without a key, an append after a keyed event is refused: it would downgrade the chain.
 */
export function createSqliteAuditLog(
  db: Db,
  options: SqliteAuditLogOptions = {},
  prepared: SqlitePrepared = createSqlitePrepared(db),
): Sync<AuditLog> {
  const { key } = options;
  const lastRow = () => prepared.lastAuditLink.get();
  /**
   * Appends `events` in order, as consecutive links of the chain, in one IMMEDIATE transaction (a
   * savepoint when the caller's is already open): the last event and the counter are read once, then
   * each row is sealed on the one before it.
   */
  const appendEvents = (events: readonly AuditEvent[]): void => {
    db.transaction(
      (tx) => {
        // The prepared query runs on the same connection, so inside this transaction.
        const last = prepared.lastAuditLink.get();
        refuseDowngrade(last, key);
        // AUTOINCREMENT's counter, not max(seq) + 1: a deleted tail must leave a gap, not be refilled.
        const counter = tx.get<{ seq: number } | undefined>(
          sql`SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'`,
        );
        const first = Math.max(last?.seq ?? 0, counter?.seq ?? 0) + 1;
        let prevHash = last === undefined ? GENESIS_HASH : (last.hash ?? runningHead(tx));
        for (const [i, event] of events.entries()) {
          const row = sealedRow(event, first + i, prevHash, key);
          tx.insert(auditEvents).values(row).run();
          prevHash = chainThrough(prevHash, [row]);
        }
      },
      { behavior: 'immediate' },
    );
  };
  return {
    append: (event) => withDbErrors('audit.append', () => appendEvents([event])),

    appendAll: (events) =>
      withDbErrors('audit.appendAll', () => {
        if (events.length > 0) appendEvents(events);
      }),

    list: (filter = {}) =>
      withDbErrors('audit.list', () =>
        // One request's events: on every close's announcement, so prepared once.
        (filter.requestId === undefined
          ? db.select().from(auditEvents).orderBy(asc(auditEvents.seq)).all()
          : prepared.auditOfRequest.all({ id: filter.requestId })
        ).map(toEvent),
      ),

    head: () =>
      withDbErrors('audit.head', () => {
        const last = lastRow();
        return headOf(last, last?.hash ?? runningHead(db));
      }),

    lastOfType: (type) =>
      withDbErrors('audit.lastOfType', () => {
        const row = db
          .select()
          .from(auditEvents)
          .where(eq(auditEvents.type, type))
          .orderBy(desc(auditEvents.seq))
          .limit(1)
          .get();
        // The row was found by this type, so it is one hallpass appends.
        return row === undefined ? undefined : { ...toEvent(row), type };
      }),
  };
}
