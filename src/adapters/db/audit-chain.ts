/**
 * The audit chain, engine-independent: how an event is sealed, how a walk checks each event, how a
 * published head is compared. Both engines store `audit_events` with the same columns and values
 * (`schema.ts`, `pg-schema.ts`), so one event sequence gets the same seals on SQLite and on
 * PostgreSQL and a log copied from one to the other verifies. What each engine adds is only its
 * queries: `audit-log.ts` (SQLite) and `pg/audit-log.ts` (PostgreSQL).
 */
import { createHash, createHmac } from 'node:crypto';
import { and, type Column, gt, lte, type SQL } from 'drizzle-orm';
import type { AcceptedBreak, AuditHead, AuditKey, AuditKeyring, ChainEvent } from '../../app/audit-ports';
import type { AuditEvent, RecordedAuditEvent } from '../../app/ports';
import { DbError } from './db-error';
import type * as pg from './pg-schema';
import type * as sqlite from './schema';

/** An audit event as either engine stores it, column for column. */
export type AuditRow = typeof sqlite.auditEvents.$inferSelect;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile when PostgreSQL's audit row stops having exactly SQLite's shape.
const rowsMatch: Same<AuditRow, typeof pg.auditEvents.$inferSelect> = true;
void rowsMatch;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseDetails(row: Pick<AuditRow, 'seq' | 'details'>): Record<string, unknown> | undefined {
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

/** A stored row as the port returns it. */
export const toEvent = (row: AuditRow): RecordedAuditEvent => {
  const { seq: _seq, ...event } = toChainEvent(row, parseDetails(row) ?? null);
  return event;
};

/** What `details` holds once parsed (a walk parses each row once): the value, or `UNREADABLE`. */
const UNREADABLE = Symbol('unreadable');
function parseStored(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return UNREADABLE;
  }
}

/** A row as the projection reads it; `details` that cannot be read become absent (the walk reports them). */
function toChainEvent(row: AuditRow, parsed: unknown): ChainEvent {
  const details = isRecord(parsed) ? parsed : undefined;
  return {
    seq: row.seq,
    at: new Date(row.at),
    actor: row.actor,
    type: row.type,
    ...(row.requestId !== null ? { requestId: row.requestId } : {}),
    ...(row.grantId !== null ? { grantId: row.grantId } : {}),
    ...(details !== undefined ? { details } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// The chain.
//
// Three kinds of event, in this order in any log (each kind may be absent):
//
//  1. legacy   — recorded before migration 0004: no seal. The chain runs through them with a *computed*
//                SHA-256 seal (formula 2), and the first sealed event links to the last computed one.
//  2. unkeyed  — `key_id` NULL: hash = sha256_hex(prev_hash + "\n" + canonical JSON of
//                {seq, at, actor, type, requestId, grantId, details}) with `details` the JSON *value* of
//                the stored text. Written when hallpass runs without `HALLPASS_AUDIT_KEY`. Anyone who can
//                write the file can recompute these, so they show accidents, not a deliberate rewrite.
//  3. keyed    — `key_id` set: hash = hex HMAC-SHA-256 under that key of
//                "hallpass-audit-v2\n" + prev_hash + "\n" + canonical JSON of
//                {seq, at, actor, type, requestId, grantId, details, keyId} with `details` the stored
//                *text* as a JSON string, byte for byte. The key is never in the database, so nobody
//                without it can forge, edit or reseal an event; its id is inside the MAC, so an event
//                cannot be moved under another key.
//
// The first keyed event seals the seal of the unkeyed event before it, so from then on the unkeyed
// prefix cannot be rewritten either without breaking that MAC. An unkeyed event *after* a keyed one
// is a downgrade: hallpass never writes one (it refuses to start without the key once the log is
// keyed), so only someone rewriting the log without the key does.
//
// Every event's `details` must also read exactly as hallpass wrote it: JSON.stringify's form of a JSON
// object. A repeated key (`{"reason":"forged","reason":"real"}`) would let SQLite's json_extract show
// one value while the unkeyed formula — which hashes the parsed value, where the last key wins — sees
// another; it is refused for every kind of event.
//
// What a chain alone cannot show: events cut off the *end* of the log (and the counter reset) leave a
// shorter chain that hallpass then extends with valid seals. A head (count + hash) published somewhere
// the database cannot reach — hallpass posts it to the policy's audit channel — proves nothing up to
// it was removed or changed (`checkHead`).
// ---------------------------------------------------------------------------------------------------

/** `prev_hash` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** The domain separator of keyed seals: a keyed seal can never be confused with an unkeyed one. */
export const KEYED_SEAL_PREFIX = 'hallpass-audit-v2';

/** Event type recording that a known break was accepted at start-up (`HALLPASS_AUDIT_ACCEPT_BROKEN`). */
export const BREAK_ACCEPTED_EVENT = 'audit.break_accepted';

/** How many rows one page of a chain walk reads, so the walk's memory does not grow with the log. */
export const PAGE_SIZE = 1000;

/** The events of the page after event `after` (up to `lastSeq` when given), on `seq` of either engine. */
export const pageAfter = (seq: Column, after: number, lastSeq?: number): SQL | undefined =>
  lastSeq === undefined ? gt(seq, after) : and(gt(seq, after), lte(seq, lastSeq));

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
export type SealedColumns = Pick<
  AuditRow,
  'seq' | 'at' | 'actor' | 'type' | 'requestId' | 'grantId' | 'details'
>;

/** Thrown inside the chain walk when a row's `details` is not JSON: only an edit can do that. */
class UnreadableDetails extends Error {}

function sealedContent(row: SealedColumns, parsed?: unknown): Record<string, unknown> {
  const details = parsed === undefined ? parseStored(row.details) : parsed;
  if (details === UNREADABLE) throw new UnreadableDetails(`event ${row.seq} has details that are not JSON`);
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

/**
 * The unkeyed seal of one event: hex SHA-256 of `prevHash + "\n" + canonical JSON of its content`.
 * `parsed`: its `details` already parsed (a walk parses each row once).
 */
export function eventHash(prevHash: string, row: SealedColumns, parsed?: unknown): string {
  const c = sealedContent(row, parsed);
  // canonicalJson(c), spelled out: the keys in sorted order (a walk seals every event; this is its hot path).
  const content = `{"actor":${json(c['actor'])},"at":${json(c['at'])},"details":${canonicalJson(c['details'])},"grantId":${json(c['grantId'])},"requestId":${json(c['requestId'])},"seq":${json(c['seq'])},"type":${json(c['type'])}}`;
  return createHash('sha256').update(`${prevHash}\n${content}`, 'utf8').digest('hex');
}

/** JSON of a column value (string, number or null). */
const json = (v: unknown): string => JSON.stringify(v) ?? 'null';

/** The keyed seal of one event: hex HMAC-SHA-256 over its stored bytes, its key id and `prevHash`. */
export function keyedEventHash(key: AuditKey, prevHash: string, row: SealedColumns): string {
  // canonicalJson({ seq, at, actor, type, requestId, grantId, details, keyId }), keys in sorted order.
  const content = `{"actor":${json(row.actor)},"at":${json(row.at)},"details":${json(row.details)},"grantId":${json(row.grantId)},"keyId":${json(key.id)},"requestId":${json(row.requestId)},"seq":${json(row.seq)},"type":${json(row.type)}}`;
  return createHmac('sha256', key.secret)
    .update(`${KEYED_SEAL_PREFIX}\n${prevHash}\n${content}`, 'utf8')
    .digest('hex');
}

/** A JSON token: a string, a structural character, or a bare literal (number, true, false, null). */
const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|[{}[\]:,]|[^\s{}[\]:,"]+/g;

/** The first key repeated inside one object of already-valid JSON `text`, if any. */
export function repeatedKey(text: string): string | undefined {
  const scopes: (Set<string> | undefined)[] = [];
  const tokens = text.match(JSON_TOKEN) ?? [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] ?? '';
    if (t === '{') scopes.push(new Set());
    else if (t === '[') scopes.push(undefined);
    else if (t === '}' || t === ']') scopes.pop();
    else if (t.startsWith('"') && tokens[i + 1] === ':') {
      const keys = scopes[scopes.length - 1];
      const key = JSON.parse(t) as string;
      if (keys?.has(key)) return key;
      keys?.add(key);
    }
  }
  return undefined;
}

/**
 * Why stored `details` are not exactly what hallpass writes (`JSON.stringify` of an object), or
 * `undefined` when they are. Throws `UnreadableDetails` for text that is not JSON at all.
 */
function detailsProblem(row: Pick<AuditRow, 'seq' | 'details'>, parsed: unknown): string | undefined {
  if (row.details === null) return undefined;
  if (parsed === UNREADABLE) throw new UnreadableDetails(`event ${row.seq} has details that are not JSON`);
  // As written: JSON.stringify's own form, which a repeated key can never have (parsing drops one).
  if (isRecord(parsed) && JSON.stringify(parsed) === row.details) return undefined;
  const repeated = repeatedKey(row.details);
  if (repeated !== undefined) {
    return `event ${row.seq} has details that repeat the key ${JSON.stringify(repeated)} (a reader may see either value): it was changed`;
  }
  return `event ${row.seq} has details that are not as hallpass wrote them (re-encoded JSON): it was changed`;
}

/** How a chain can break. */
export type ChainBreak = 'edited' | 'deleted' | 'reordered' | 'downgraded' | 'unknown-key';

/** What `verifyAuditChain` found. */
export type AuditChainReport =
  | {
      readonly ok: true;
      /** Events checked. */
      readonly events: number;
      /** Of those, how many predate the chain (unsealed, seq 1..legacy); 0 on a log that always had it. */
      readonly legacy: number;
      /** Of those, how many are not keyed (legacy included): proven against accidents only. */
      readonly unkeyed: number;
      /** Key ids that sealed events, in the order they first appear. */
      readonly keyIds: readonly string[];
      /** `seq` of the last event (0 for an empty log). */
      readonly lastSeq: number;
      /** Hash of the last event (GENESIS_HASH for an empty log): record it elsewhere to anchor the log. */
      readonly head: string;
      /** Breaks accepted on purpose at a start-up, each on the record in a later keyed event. */
      readonly accepted: readonly AcceptedBreak[];
    }
  | {
      readonly ok: false;
      /** The first event whose link does not hold (for a deletion: the first missing seq). */
      readonly firstBrokenSeq: number;
      readonly reason: ChainBreak;
      /** One sentence for a person: what is wrong where. */
      readonly message: string;
      /** The event at which the break was found (its stored seal is what an acceptance names). */
      readonly detectedAtSeq: number;
      readonly detectedHash: string | null;
    };

type Broken = Extract<AuditChainReport, { ok: false }>;

/** An `audit.break_accepted` event as the walk reads it before reaching it (and checks it when it does). */
type Acceptance = {
  readonly bySeq: number;
  readonly at: Date;
  readonly detectedAtSeq: number;
  readonly storedHash: string | null;
};

/** Options of a chain walk. */
export type VerifyOptions = {
  /** Keys that may have sealed events: the current one and old ones. Unkeyed logs need none. */
  readonly keys?: AuditKeyring | undefined;
  /** Called with every event in order — broken or not — so one pass also feeds the projection. */
  readonly onEvent?: ((event: ChainEvent) => void) | undefined;
  /**
   * Called once the walk has reached the last event, inside the same read transaction: what it reads
   * (the tables, to compare with the chain) describes the same moment as the events walked, with no
   * request made or decided in between.
   */
  readonly atEnd?: (() => void) | undefined;
};

/** Every key of a keyring by id. */
function keysById(keys: AuditKeyring | undefined): Map<string, AuditKey> {
  const byId = new Map<string, AuditKey>();
  for (const k of keys?.old ?? []) byId.set(k.id, k);
  if (keys?.current !== undefined) byId.set(keys.current.id, keys.current);
  return byId;
}

/** An event carrying a seal that `ChainWalker.linksToLookUp` asked about. */
export type SealOwner = { readonly seq: number; readonly hash: string | null };

/**
 * The chain walk as a step function: `feedPage` each page of rows in `seq` order, then `finish`. Stops
 * checking at the first break that was not accepted, but can be fed on, so a caller projecting every
 * event needs only one pass. Engine-independent: an engine only reads the pages, the accepted breaks
 * on record and — when something is already wrong — the events carrying the seals a page links to.
 */
export class ChainWalker {
  private head = GENESIS_HASH;
  private prevSeq = 0;
  private events = 0;
  private legacy = 0;
  private unkeyed = 0;
  private sealedSeen = false;
  private keyedSeen = false;
  private readonly keyIds: string[] = [];
  private readonly acceptedUsed: AcceptedBreak[] = [];
  private broken: Broken | undefined;
  private readonly keys: Map<string, AuditKey>;
  private readonly acceptances: ReadonlyMap<number, Acceptance>;
  /** The events carrying the seals looked up for the page being fed, by seal, in `seq` order. */
  private owners = new Map<string, number[]>();

  /**
   * `acceptanceRows`: every `audit.break_accepted` event of the log in `seq` order, read before the walk
   * (each is proven only once the walk reaches it).
   */
  constructor(
    private readonly options: Pick<VerifyOptions, 'keys' | 'onEvent'>,
    acceptanceRows: readonly AuditRow[],
  ) {
    this.keys = keysById(options.keys);
    this.acceptances = acceptancesIn(acceptanceRows);
  }

  /**
   * The seals rows of `page` link to other than that of the row before them: `feedPage` must be told
   * which events carry them, to tell a reordering from an edit. None in an intact chain, so an engine
   * looks them up only once something is wrong (or where sealed events follow legacy ones).
   */
  linksToLookUp(page: readonly AuditRow[]): string[] {
    if (this.broken !== undefined) return [];
    const wanted = new Set<string>();
    let before: string | null = this.head;
    for (const row of page) {
      if (row.prevHash !== null && row.prevHash !== before && row.prevHash !== GENESIS_HASH) {
        wanted.add(row.prevHash);
      }
      before = row.hash;
    }
    return [...wanted];
  }

  /** Feeds the next page; `owners`: the events carrying the seals `linksToLookUp(page)` named. */
  feedPage(page: readonly AuditRow[], owners: readonly SealOwner[]): void {
    this.owners = new Map();
    for (const o of [...owners].sort((a, b) => a.seq - b.seq)) {
      if (o.hash !== null) this.owners.set(o.hash, [...(this.owners.get(o.hash) ?? []), o.seq]);
    }
    for (const row of page) {
      const parsed = parseStored(row.details);
      this.feed(row, parsed);
      this.options.onEvent?.(toChainEvent(row, parsed));
    }
  }

  /** The other event carrying `hash`, if any. */
  private seqOfHash(hash: string, except: number): number | undefined {
    return this.owners.get(hash)?.find((seq) => seq !== except);
  }

  /** `parsed`: the row's `details`, parsed once (see `parseStored`). */
  private feed(row: AuditRow, parsed: unknown): void {
    if (this.broken !== undefined) return;
    let found: Broken | undefined;
    try {
      found = this.check(row, parsed);
    } catch (e) {
      if (!(e instanceof UnreadableDetails)) throw e;
      found = this.brk(row, row.seq, 'edited', `${e.message}: it was changed.`);
    }
    if (found === undefined) return;
    const acceptance = this.acceptances.get(found.firstBrokenSeq);
    if (
      acceptance !== undefined &&
      acceptance.bySeq > row.seq &&
      acceptance.detectedAtSeq === row.seq &&
      acceptance.storedHash === row.hash
    ) {
      // Accepted on purpose, on the record: the chain is re-anchored at the event where the break was
      // found, taken as stored. Any other break — before or after — is still a break.
      this.acceptedUsed.push({
        seq: found.firstBrokenSeq,
        reason: found.reason,
        message: found.message,
        acceptedBySeq: acceptance.bySeq,
        acceptedAt: acceptance.at,
      });
      this.advance(row, row.hash ?? eventHash(this.head, row, parsed));
      return;
    }
    this.broken = found;
  }

  finish(): AuditChainReport {
    if (this.broken !== undefined) return this.broken;
    return {
      ok: true,
      events: this.events,
      legacy: this.legacy,
      unkeyed: this.unkeyed,
      keyIds: this.keyIds,
      lastSeq: this.prevSeq,
      head: this.head,
      accepted: this.acceptedUsed,
    };
  }

  private brk(row: AuditRow, seq: number, reason: ChainBreak, message: string): Broken {
    return {
      ok: false,
      firstBrokenSeq: seq,
      reason,
      message,
      detectedAtSeq: row.seq,
      detectedHash: row.hash,
    };
  }

  private advance(row: AuditRow, hash: string): void {
    this.head = hash;
    this.prevSeq = row.seq;
    this.events += 1;
    if (row.keyId === null) this.unkeyed += 1;
    else {
      this.keyedSeen = true;
      if (!this.keyIds.includes(row.keyId)) this.keyIds.push(row.keyId);
    }
    if (row.hash !== null) this.sealedSeen = true;
  }

  private check(row: AuditRow, parsed: unknown): Broken | undefined {
    const { seq } = row;
    const { prevSeq, head } = this;
    if (seq !== prevSeq + 1) {
      const missing = seq - 1 === prevSeq + 1 ? `${prevSeq + 1} is` : `${prevSeq + 1}..${seq - 1} are`;
      return this.brk(
        row,
        prevSeq + 1,
        'deleted',
        `event ${missing} missing: the log jumps from ${prevSeq} to ${seq}.`,
      );
    }
    const problem = detailsProblem(row, parsed);
    if (problem !== undefined) return this.brk(row, seq, 'edited', `${problem}.`);
    if (row.hash === null && row.prevHash === null && row.keyId === null && !this.sealedSeen) {
      // Legacy: the chain runs through it with a computed hash.
      this.legacy += 1;
      this.advance(row, eventHash(head, row, parsed));
      return undefined;
    }
    if (row.hash === null || row.prevHash === null) {
      return this.brk(
        row,
        seq,
        'edited',
        `event ${seq} has had its seal removed (it follows sealed events).`,
      );
    }
    let intact: boolean;
    if (row.keyId === null) {
      if (this.keyedSeen) {
        return this.brk(
          row,
          seq,
          'downgraded',
          `event ${seq} is sealed with plain SHA-256 but follows events sealed with the audit key: it was rewritten by someone without the key.`,
        );
      }
      intact = eventHash(row.prevHash, row, parsed) === row.hash;
    } else {
      const key = this.keys.get(row.keyId);
      if (key === undefined) {
        return this.brk(
          row,
          seq,
          'unknown-key',
          `event ${seq} is sealed with audit key ${JSON.stringify(row.keyId)}, which is neither HALLPASS_AUDIT_KEY nor in HALLPASS_AUDIT_OLD_KEYS: give that key to verify it (or the event was edited).`,
        );
      }
      intact = keyedEventHash(key, row.prevHash, row) === row.hash;
    }
    if (row.prevHash === head) {
      if (!intact) {
        return this.brk(
          row,
          seq,
          'edited',
          row.keyId === null
            ? `event ${seq} was changed: its content no longer matches its hash.`
            : `event ${seq} was changed: its content no longer matches its seal under audit key ${JSON.stringify(row.keyId)}.`,
        );
      }
      this.advance(row, row.hash);
      return undefined;
    }
    const origin = row.prevHash === GENESIS_HASH ? 0 : this.seqOfHash(row.prevHash, seq);
    if (origin !== undefined) {
      return this.brk(
        row,
        seq,
        'reordered',
        `event ${seq} is out of place: it was recorded after event ${origin}, but follows event ${prevSeq}.`,
      );
    }
    if (prevSeq === 0) {
      return this.brk(
        row,
        seq,
        'edited',
        `event ${seq} does not start the chain: its prev_hash is not the genesis hash.`,
      );
    }
    if (intact && !this.sealedSeen && this.legacy > 0) {
      return this.brk(
        row,
        1,
        'edited',
        `one of events 1..${prevSeq} (recorded before the hash chain) was changed after event ${seq} sealed them.`,
      );
    }
    if (intact) {
      return this.brk(
        row,
        prevSeq,
        'edited',
        `event ${prevSeq} was changed and resealed: event ${seq} still links to its original hash.`,
      );
    }
    return this.brk(
      row,
      seq,
      'deleted',
      `event ${seq} links to an event that is no longer in the log (deleted, and later events renumbered).`,
    );
  }
}

/** The accepted breaks on record (`rows`: the `audit.break_accepted` events in `seq` order), by the seq each names. */
function acceptancesIn(rows: readonly AuditRow[]): Map<number, Acceptance> {
  const found = new Map<number, Acceptance>();
  for (const row of rows) {
    let details: Record<string, unknown> | undefined;
    try {
      details = parseDetails(row);
    } catch {
      continue;
    }
    const seq = details?.['seq'];
    const detectedAtSeq = details?.['detectedAtSeq'];
    const storedHash = details?.['storedHash'];
    if (typeof seq !== 'number' || typeof detectedAtSeq !== 'number') continue;
    if (typeof storedHash !== 'string' && storedHash !== null) continue;
    if (!found.has(seq)) {
      found.set(seq, { bySeq: row.seq, at: new Date(row.at), detectedAtSeq, storedHash });
    }
  }
  return found;
}

/** `head` carried on through `rows` (the next ones in `seq` order): a legacy event's seal is computed. */
export function chainThrough(head: string, rows: readonly AuditRow[]): string {
  let h = head;
  for (const row of rows) h = row.hash ?? eventHash(h, row);
  return h;
}

// --- Appending -------------------------------------------------------------------------------------

/** The last event, as an append and `head()` read it. */
export type LastEvent = Pick<AuditRow, 'seq' | 'hash' | 'keyId'>;

/** Refuses an unkeyed append after a keyed event: it would downgrade the chain. */
export function refuseDowngrade(last: LastEvent | undefined, key: AuditKey | undefined): void {
  if (key === undefined && last?.keyId !== null && last?.keyId !== undefined) {
    throw new DbError(
      'audit.append',
      'AUDIT_KEY_REQUIRED',
      `the audit log is sealed with key ${JSON.stringify(last.keyId)}: an unkeyed event would break it (set HALLPASS_AUDIT_KEY)`,
    );
  }
}

/**
 * The row appending `event` as event `seq`, linked to `prevHash`: sealed with HMAC-SHA-256 under `key`,
 * or with plain SHA-256 without one. `details` is stored as JSON, so Dates inside it come back as ISO strings.
 */
export function sealedRow(
  event: AuditEvent,
  seq: number,
  prevHash: string,
  key: AuditKey | undefined,
): AuditRow {
  const columns: SealedColumns = {
    seq,
    at: event.at.getTime(),
    actor: event.actor,
    type: event.type,
    requestId: event.requestId ?? null,
    grantId: event.grantId ?? null,
    details: event.details === undefined ? null : JSON.stringify(event.details),
  };
  const hash = key === undefined ? eventHash(prevHash, columns) : keyedEventHash(key, prevHash, columns);
  return { ...columns, prevHash, hash, keyId: key?.id ?? null };
}

/** The log's head given its last event and that event's seal (computed, for a legacy one). */
export function headOf(last: LastEvent | undefined, hash: string): AuditHead {
  if (last === undefined) return { count: 0, hash: GENESIS_HASH };
  return { count: last.seq, hash, ...(last.keyId === null ? {} : { keyId: last.keyId }) };
}

// --- Published heads -------------------------------------------------------------------------------

/** What `checkHead` found. */
export type HeadCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'shorter' | 'different'; readonly message: string };

/**
 * The first half of checking a published head (`checkHead`), given the log's last `seq`: a verdict, or
 * `undefined` when it rests on the seal of event `head.count` (then `headAgainstSeal`).
 */
export function headBeforeSeal(head: AuditHead, lastSeq: number): HeadCheck | undefined {
  if (head.count === 0) {
    return head.hash === GENESIS_HASH
      ? { ok: true }
      : { ok: false, reason: 'different', message: 'a head of 0 events has the genesis hash (64 zeros).' };
  }
  if (lastSeq < head.count) {
    return {
      ok: false,
      reason: 'shorter',
      message: `the log ends at event ${lastSeq}, but the published head names event ${head.count}: events ${lastSeq + 1}..${head.count} were removed.`,
    };
  }
  return undefined;
}

/** The second half: `stored` is the seal of event `head.count` (computed for a legacy one), `undefined` when there is no such event. */
export function headAgainstSeal(head: AuditHead, stored: string | undefined): HeadCheck {
  if (stored === undefined) {
    return {
      ok: false,
      reason: 'shorter',
      message: `event ${head.count}, which the published head names, is not in the log: it was removed.`,
    };
  }
  if (stored !== head.hash) {
    return {
      ok: false,
      reason: 'different',
      message: `event ${head.count} has the seal ${stored}, but the published head says ${head.hash}: the log up to event ${head.count} was changed or replaced since that head was published.`,
    };
  }
  return { ok: true };
}

/** `<count>:<hash>` as the CLI takes a published head, or `undefined`. */
export function parseHead(text: string): AuditHead | undefined {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text.trim());
  if (m === null) return undefined;
  return { count: Number(m[1]), hash: m[2] ?? '' };
}
