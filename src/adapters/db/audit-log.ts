import { createHash } from 'node:crypto';
import { asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { AuditEvent, AuditLog } from '../../app/ports';
import { DbError, withDbErrors } from './db-error';
import type { Db } from './open-db';
import { auditEvents } from './schema';

type AuditRow = typeof auditEvents.$inferSelect;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseDetails(row: AuditRow): Record<string, unknown> | undefined {
  if (row.details === null) return undefined;
  const parsed: unknown = JSON.parse(row.details);
  if (!isRecord(parsed)) {
    throw new DbError(
      'audit.list',
      'INVALID_ROW',
      `audit event ${row.seq} has details that are not an object`,
    );
  }
  return parsed;
}

const toEvent = (row: AuditRow): AuditEvent => {
  const details = parseDetails(row);
  return {
    at: new Date(row.at),
    actor: row.actor,
    type: row.type,
    ...(row.requestId !== null ? { requestId: row.requestId } : {}),
    ...(row.grantId !== null ? { grantId: row.grantId } : {}),
    ...(details !== undefined ? { details } : {}),
  };
};

// ---------------------------------------------------------------------------------------------------
// The hash chain.
//
// Every event is sealed with   hash = sha256_hex(prev_hash + "\n" + canonical JSON of its content)
// where the content is { seq, at, actor, type, requestId, grantId, details } exactly as stored (`at` in
// epoch milliseconds, absent ids as null, `details` as the JSON value of the stored text), and
// prev_hash is the hash of the event before it (GENESIS_HASH for the first). `seq` is inside the hash,
// so an event moved to another place no longer matches; prev_hash is inside it too, so an event
// cannot be lifted out of the chain without its successor noticing.
//
// Legacy events (recorded before migration 0004) have no seal. They must form a prefix of the log;
// the chain runs through them as if they had been sealed — each gets a *computed* hash from the same
// formula — and the first sealed event links to the computed hash of the last legacy one. From that
// first sealed append on, a change to a legacy event is detected too; a change made before it cannot
// be (nothing had sealed it yet), and `verifyAuditChain` says how many events are legacy.
//
// What a hash chain cannot show: events cut off the *end* of the log leave a shorter, intact chain.
// `verifyAuditChain` returns the head hash; recording it elsewhere (a ticket, the SIEM) anchors the log
// up to that point. An event appended after such a cut is caught: `seq` comes from SQLite's
// AUTOINCREMENT counter, which a DELETE does not rewind, so the cut leaves a gap.
// ---------------------------------------------------------------------------------------------------

/** `prev_hash` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** How many rows one page of a chain walk reads, so the walk's memory does not grow with the log. */
const PAGE_SIZE = 500;

/**
 * JSON with object keys sorted (by UTF-16 code units, as RFC 8785 does) at every depth, no
 * whitespace. Values come from `JSON.parse`, so there is no `undefined`, Date or function to meet.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The columns a seal covers. */
type SealedColumns = Pick<AuditRow, 'seq' | 'at' | 'actor' | 'type' | 'requestId' | 'grantId' | 'details'>;

/** Thrown inside the chain walk when a row's `details` is not JSON: only an edit can do that. */
class UnreadableDetails extends Error {}

function sealedContent(row: SealedColumns): Record<string, unknown> {
  let details: unknown = null;
  if (row.details !== null) {
    try {
      details = JSON.parse(row.details);
    } catch {
      throw new UnreadableDetails(`event ${row.seq} has details that are not JSON`);
    }
  }
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    type: row.type,
    requestId: row.requestId,
    grantId: row.grantId,
    details,
  };
}

/** The seal of one event: hex SHA-256 of `prevHash + "\n" + canonical JSON of its content`. */
export function eventHash(prevHash: string, row: SealedColumns): string {
  return createHash('sha256')
    .update(`${prevHash}\n${canonicalJson(sealedContent(row))}`, 'utf8')
    .digest('hex');
}

/** Every event in `seq` order, a page at a time. */
function* rowsInOrder(db: Pick<Db, 'select'>): Generator<AuditRow> {
  let after = 0;
  for (;;) {
    const page = db
      .select()
      .from(auditEvents)
      .where(gt(auditEvents.seq, after))
      .orderBy(asc(auditEvents.seq))
      .limit(PAGE_SIZE)
      .all();
    yield* page;
    const last = page[page.length - 1];
    if (last === undefined || page.length < PAGE_SIZE) return;
    after = last.seq;
  }
}

/** The hash the next event must link to when the last one is unsealed (legacy): the chain computed through them. */
function runningHead(db: Pick<Db, 'select'>): string {
  let head = GENESIS_HASH;
  for (const row of rowsInOrder(db)) head = row.hash ?? eventHash(head, row);
  return head;
}

/** How a chain can break. */
export type ChainBreak = 'edited' | 'deleted' | 'reordered';

/** What `verifyAuditChain` found. */
export type AuditChainReport =
  | {
      readonly ok: true;
      /** Events checked. */
      readonly events: number;
      /** Of those, how many predate the chain (unsealed, seq 1..legacy); 0 on a log that always had it. */
      readonly legacy: number;
      /** Hash of the last event (GENESIS_HASH for an empty log): record it elsewhere to anchor the log. */
      readonly head: string;
    }
  | {
      readonly ok: false;
      /** The first event whose link does not hold (for a deletion: the first missing seq). */
      readonly firstBrokenSeq: number;
      readonly reason: ChainBreak;
      /** One sentence for a person: what is wrong where. */
      readonly message: string;
    };

type Broken = Extract<AuditChainReport, { ok: false }>;
const broken = (firstBrokenSeq: number, reason: ChainBreak, message: string): Broken => ({
  ok: false,
  firstBrokenSeq,
  reason,
  message,
});

/**
 * Walks the audit log in `seq` order and checks every link: `seq` runs 1, 2, 3, … without gaps, each
 * event's `prev_hash` is its predecessor's hash, and its `hash` matches its content. Stops at the first
 * broken link and says why: `edited` (content no longer matches its seal, a seal removed, or a
 * predecessor changed and resealed), `deleted` (a gap in `seq`, or a link to an event no longer in
 * the log), or `reordered` (a link to an event that is elsewhere in the log). Reads one consistent
 * snapshot; never writes.
 */
export function verifyAuditChain(db: Db): AuditChainReport {
  return withDbErrors('audit.verify', () => db.transaction((tx) => walk(tx), { behavior: 'deferred' }));
}

function walk(db: Pick<Db, 'select'>): AuditChainReport {
  let head = GENESIS_HASH;
  let prevSeq = 0;
  let events = 0;
  let legacy = 0;
  let sealedSeen = false;
  /** The other event carrying `hash`, if any (only looked up once something is already wrong). */
  const seqOfHash = (hash: string, except: number): number | undefined =>
    db
      .select({ seq: auditEvents.seq })
      .from(auditEvents)
      .where(eq(auditEvents.hash, hash))
      .all()
      .find((r) => r.seq !== except)?.seq;

  for (const row of rowsInOrder(db)) {
    const { seq } = row;
    if (seq !== prevSeq + 1) {
      const missing = seq - 1 === prevSeq + 1 ? `${prevSeq + 1} is` : `${prevSeq + 1}..${seq - 1} are`;
      return broken(
        prevSeq + 1,
        'deleted',
        `event ${missing} missing: the log jumps from ${prevSeq} to ${seq}.`,
      );
    }
    try {
      if (row.hash === null && row.prevHash === null && !sealedSeen) {
        // Legacy: the chain runs through it with a computed hash.
        head = eventHash(head, row);
        legacy += 1;
      } else if (row.hash === null || row.prevHash === null) {
        return broken(seq, 'edited', `event ${seq} has had its seal removed (it follows sealed events).`);
      } else {
        const intact = eventHash(row.prevHash, row) === row.hash;
        if (row.prevHash === head) {
          if (!intact)
            return broken(seq, 'edited', `event ${seq} was changed: its content no longer matches its hash.`);
        } else {
          const origin = row.prevHash === GENESIS_HASH ? 0 : seqOfHash(row.prevHash, seq);
          if (origin !== undefined) {
            return broken(
              seq,
              'reordered',
              `event ${seq} is out of place: it was recorded after event ${origin}, but follows event ${prevSeq}.`,
            );
          }
          if (prevSeq === 0) {
            return broken(
              seq,
              'edited',
              `event ${seq} does not start the chain: its prev_hash is not the genesis hash.`,
            );
          }
          if (intact && !sealedSeen && legacy > 0) {
            return broken(
              1,
              'edited',
              `one of events 1..${prevSeq} (recorded before the hash chain) was changed after event ${seq} sealed them.`,
            );
          }
          if (intact) {
            return broken(
              prevSeq,
              'edited',
              `event ${prevSeq} was changed and resealed: event ${seq} still links to its original hash.`,
            );
          }
          return broken(
            seq,
            'deleted',
            `event ${seq} links to an event that is no longer in the log (deleted, and later events renumbered).`,
          );
        }
        head = row.hash;
        sealedSeen = true;
      }
    } catch (e) {
      if (e instanceof UnreadableDetails) return broken(seq, 'edited', `${e.message}: it was changed.`);
      throw e;
    }
    prevSeq = seq;
    events += 1;
  }
  return { ok: true, events, legacy, head };
}

/**
 * `AuditLog` on SQLite. Append-only by construction: there is no update or delete here, and the
 * migration's triggers refuse them from anyone else. Tamper-evident: each append seals the event
 * into the hash chain (see above) inside one IMMEDIATE transaction (a savepoint when the caller's
 * transaction is already open), so reading the last event and inserting the next cannot interleave
 * with another writer. `details` is stored as JSON, so Dates inside it come back as ISO strings.
 */
export function createSqliteAuditLog(db: Db): AuditLog {
  return {
    append: (event) =>
      withDbErrors('audit.append', () => {
        db.transaction(
          (tx) => {
            const last = tx
              .select({ seq: auditEvents.seq, hash: auditEvents.hash })
              .from(auditEvents)
              .orderBy(desc(auditEvents.seq))
              .limit(1)
              .get();
            // AUTOINCREMENT's counter, not max(seq) + 1: a deleted tail must leave a gap, not be refilled.
            const counter = tx.get<{ seq: number } | undefined>(
              sql`SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'`,
            );
            const columns: SealedColumns = {
              seq: Math.max(last?.seq ?? 0, counter?.seq ?? 0) + 1,
              at: event.at.getTime(),
              actor: event.actor,
              type: event.type,
              requestId: event.requestId ?? null,
              grantId: event.grantId ?? null,
              details: event.details === undefined ? null : JSON.stringify(event.details),
            };
            const prevHash = last === undefined ? GENESIS_HASH : (last.hash ?? runningHead(tx));
            tx.insert(auditEvents)
              .values({ ...columns, prevHash, hash: eventHash(prevHash, columns) })
              .run();
          },
          { behavior: 'immediate' },
        );
      }),

    list: (filter = {}) =>
      withDbErrors('audit.list', () =>
        db
          .select()
          .from(auditEvents)
          .where(filter.requestId === undefined ? undefined : eq(auditEvents.requestId, filter.requestId))
          .orderBy(asc(auditEvents.seq))
          .all()
          .map(toEvent),
      ),
  };
}
