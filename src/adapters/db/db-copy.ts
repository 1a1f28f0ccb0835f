/**
 * Moving a hallpass database to another engine (`npm run db:copy`): every table row for row, in an
 * order the foreign keys allow, in one transaction on a migrated, empty target; the audit log is
 * verified on the source first and on the target before that transaction commits, with the same keys,
 * and the two must read the same — the same chain, head, tables and record — or nothing is committed.
 * Engine-independent: each engine supplies a `CopySource` (one consistent snapshot to read) and a
 * `CopyTarget` (one transaction to write), in `sqlite-copy.ts` and `pg/copy.ts`.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AuditKeyring, AuditRecord, ChainStatus } from '../../app/audit-ports';

/** One row as stored, column name to value (integers as numbers on both engines). */
export type CopiedRow = Readonly<Record<string, unknown>>;

/** One copied table and the key its rows are read in order of. */
export type CopiedTable = {
  readonly name: string;
  readonly key: string;
  /** The key is text (compared byte for byte on both engines), not a number. */
  readonly textKey: boolean;
  /**
   * The key is generated (SQLite AUTOINCREMENT, a PostgreSQL identity): the target's generator must go
   * on after the copied keys — and after any the source handed out and no longer holds.
   */
  readonly generated: boolean;
};

const table = (name: string, key: string, kind: 'text' | 'generated'): CopiedTable => ({
  name,
  key,
  textKey: kind === 'text',
  generated: kind === 'generated',
});

/** Every table hallpass keeps, in an order its foreign keys allow (a request before its grant, a grant before its rows). */
export const COPIED_TABLES: readonly CopiedTable[] = [
  table('requests', 'id', 'text'),
  table('grants', 'id', 'text'),
  table('approvals', 'id', 'generated'),
  table('role_sessions', 'grant_id', 'text'),
  table('rule_holds', 'id', 'generated'),
  table('connection_cuts', 'id', 'generated'),
  table('backstops', 'rule_id', 'text'),
  table('outbox', 'id', 'generated'),
  table('api_tokens', 'id', 'text'),
  table('api_requests', 'request_id', 'text'),
  table('audit_events', 'seq', 'generated'),
];

/**
 * Tables a copy leaves behind: each engine's own bookkeeping (migrations, AUTOINCREMENT counters), and
 * what replicas share only while they run (rate-limit hits, open Home tabs), which they rebuild, and
 * one-time address links (ten minutes long: a copy is made with hallpass stopped).
 */
export const NOT_COPIED: ReadonlySet<string> = new Set([
  '__drizzle_migrations',
  'sqlite_sequence',
  'rate_limit_hits',
  'home_viewers',
  'address_links',
]);

/** The audit table's insert triggers (the same names on both engines): every event sealed, and linked to the last. */
export const SEALED_TRIGGER = 'audit_events_sealed';
export const LINKED_TRIGGER = 'audit_events_linked';

export type Engine = 'sqlite' | 'postgres';

/** One consistent snapshot of the source: everything read through it describes the same moment. */
export interface SourceSnapshot {
  /** Every table of the database. */
  tables(): Promise<string[]>;
  count(table: string): Promise<number>;
  /** The rows of `table` in key order, a page at a time, as stored. */
  pages(table: CopiedTable): AsyncIterable<CopiedRow[]>;
  /** The largest key the table holds or its generator ever handed out (0 for neither). */
  lastGenerated(table: CopiedTable): Promise<number>;
  /** Key ids that sealed audit events. */
  keyIds(): Promise<string[]>;
  /** The audit record: the chain walked under `keys`, projected, and checked against the tables. */
  record(keys: AuditKeyring | undefined): Promise<AuditRecord>;
}

/** The database copied from, opened read-only. */
export interface CopySource {
  readonly engine: Engine;
  /** How messages name it (a URL without its password). */
  readonly label: string;
  snapshot<T>(fn: (snapshot: SourceSnapshot) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The target's one transaction: the copy commits when the body resolves, rolls back when it throws. */
export interface TargetTx {
  count(table: string): Promise<number>;
  /** Inserts `rows` (one page of the source's, in order) with the values as given. */
  insert(table: CopiedTable, rows: readonly CopiedRow[]): Promise<void>;
  /** Runs `fn` with the named triggers of `audit_events` out of the way; they are back when it resolves. */
  withoutTriggers<T>(names: readonly string[], fn: () => Promise<T>): Promise<T>;
  /** Makes the table's key generator hand out keys after `last`. */
  advanceGenerator(table: CopiedTable, last: number): Promise<void>;
  record(keys: AuditKeyring | undefined): Promise<AuditRecord>;
}

/** The database copied to: migrated, and empty of hallpass's rows when it was opened. */
export interface CopyTarget {
  readonly engine: Engine;
  readonly label: string;
  transaction<T>(fn: (tx: TargetTx) => Promise<T>): Promise<T>;
  /** Closes it; a SQLite file the copy created is removed again unless the copy committed. */
  close(): Promise<void>;
}

/** Why a copy did not happen (nothing was written to the target). */
export type CopyRefusal =
  | 'TARGET_NOT_EMPTY'
  | 'UNKNOWN_TABLES'
  | 'KEY_MISSING'
  | 'SOURCE_UNVERIFIED'
  | 'TARGET_DIFFERS';

export class CopyRefused extends Error {
  constructor(
    readonly reason: CopyRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'CopyRefused';
  }
}

/** The refusal of a target that already holds rows: `occupied` is each such table with its count. */
export function targetNotEmpty(label: string, occupied: readonly (readonly [string, number])[]): CopyRefused {
  const list = occupied.map(([name, n]) => `${name} (${n})`).join(', ');
  return new CopyRefused(
    'TARGET_NOT_EMPTY',
    `${label} already holds hallpass data — ${list} — so nothing was copied: copy only into a new, empty database (a copy never merges into or overwrites one).`,
  );
}

export type CopyOptions = {
  /** The keys the audit log is verified with, on both sides (`HALLPASS_AUDIT_KEY`, `HALLPASS_AUDIT_OLD_KEYS`). */
  readonly keys: AuditKeyring | undefined;
  /** Copy even when the source's audit log does not verify; the target must then read exactly as the source. */
  readonly force: boolean;
};

/** What a copy did: the rows on each side, and the audit record as each side reads it. */
export type CopyReport = {
  readonly tables: readonly { readonly name: string; readonly source: number; readonly target: number }[];
  readonly source: Pick<AuditRecord, 'chain'> & { readonly requests: number; readonly mismatches: number };
  readonly target: Pick<AuditRecord, 'chain'> & { readonly requests: number; readonly mismatches: number };
  /** What is wrong with the audit record, the same on both sides (a forced copy); `undefined` when nothing. */
  readonly problem: string | undefined;
  /** The audit table's insert triggers were set aside for these events (legacy, or a forced copy). */
  readonly eventsWithoutTriggers: number;
};

/** Tables of `tables` that a copy does not know: copying around them would lose them silently. */
function refuseUnknownTables(label: string, tables: readonly string[]): void {
  const known = new Set(COPIED_TABLES.map((t) => t.name));
  const unknown = tables.filter((t) => !known.has(t) && !NOT_COPIED.has(t));
  if (unknown.length > 0) {
    throw new CopyRefused(
      'UNKNOWN_TABLES',
      `${label} has table(s) this version of hallpass does not copy: ${unknown.join(', ')}. Nothing was copied; use the hallpass version that wrote the database.`,
    );
  }
  const missing = [...known].filter((t) => !tables.includes(t));
  if (missing.length > 0) {
    throw new CopyRefused(
      'UNKNOWN_TABLES',
      `${label} has no table(s) ${missing.join(', ')}: it is not a hallpass database of this version.`,
    );
  }
}

/** Key ids sealing the log that `keys` do not hold. */
function missingKeys(keyIds: readonly string[], keys: AuditKeyring | undefined): string[] {
  const known = new Set(
    [...(keys?.old ?? []), ...(keys?.current === undefined ? [] : [keys.current])].map((k) => k.id),
  );
  return keyIds.filter((id) => !known.has(id));
}

/** One sentence on what is wrong with a record, or `undefined` when its chain is intact and the tables agree. */
export function recordProblem(record: AuditRecord): string | undefined {
  if (!record.chain.ok) {
    return `its audit log is BROKEN at event ${record.chain.firstBrokenSeq} (${record.chain.reason}): ${record.chain.message}`;
  }
  if (record.mismatches.length > 0) {
    return `${record.mismatches.length} of its table value(s) disagree with the audit log (run \`npm run audit -- verify\`)`;
  }
  return undefined;
}

/** What differs between the two records (`undefined`: nothing); the first request that differs is named. */
function difference(source: AuditRecord, target: AuditRecord): string | undefined {
  if (!isDeepStrictEqual(source.chain, target.chain)) {
    return `the audit log reads differently (source ${describeChain(source.chain)}; target ${describeChain(target.chain)})`;
  }
  if (!isDeepStrictEqual(source.mismatches, target.mismatches))
    return 'the tables compare differently with the audit log';
  if (source.rows.length !== target.rows.length) {
    return `the record holds ${source.rows.length} request(s) on the source, ${target.rows.length} on the target`;
  }
  const i = source.rows.findIndex((row, n) => !isDeepStrictEqual(row, target.rows[n]));
  return i < 0 ? undefined : `request ${source.rows[i]?.requestId ?? i} reads differently`;
}

/** A chain in a few words, for messages. */
export function describeChain(chain: ChainStatus): string {
  return chain.ok
    ? `intact, ${chain.events} event(s), head ${chain.head.count}:${chain.head.hash}`
    : `broken at event ${chain.firstBrokenSeq} (${chain.reason})`;
}

/** Copies the audit log in `seq` order: see `copyDatabase`. Returns how many events went in without the triggers. */
async function copyAuditEvents(
  source: SourceSnapshot,
  target: TargetTx,
  events: CopiedTable,
  chain: ChainStatus,
): Promise<number> {
  // A log whose chain only holds with a break accepted on the record — or, forced, not at all — has links
  // the triggers refuse: it goes in as stored, and the walk below proves it reads as the source's.
  if (!chain.ok || chain.accepted.length > 0) {
    return target.withoutTriggers([SEALED_TRIGGER, LINKED_TRIGGER], async () => {
      let n = 0;
      for await (const page of source.pages(events)) {
        await target.insert(events, page);
        n += page.length;
      }
      return n;
    });
  }
  // Otherwise the triggers check every event as it goes in, as they check the bot's appends — except
  // the events recorded before the chain existed ("legacy": no seal, always the first ones), which the
  // triggers would refuse (no seal, no link to the genesis hash) and the walk checks with a computed
  // seal, as it does on the source. The first sealed event links to that computed seal, which the
  // linked trigger leaves alone after an unsealed event, on both engines.
  let legacy = 0;
  for await (const page of source.pages(events)) {
    const unsealed = page.filter((row) => row['hash'] === null);
    if (unsealed.length > 0) {
      await target.withoutTriggers([SEALED_TRIGGER, LINKED_TRIGGER], () => target.insert(events, unsealed));
      legacy += unsealed.length;
    }
    const sealed = page.filter((row) => row['hash'] !== null);
    if (sealed.length > 0) await target.insert(events, sealed);
  }
  return legacy;
}

/**
 * Copies `source` into `target`. The source is read in one snapshot: its tables must all be known, its
 * audit log must verify under `keys` with every table agreeing (unless `force`), and the keys must cover
 * every key id that sealed it (unless `force`). In one transaction on the target: the target must hold no
 * hallpass row; every table is copied row for row in `COPIED_TABLES` order with its values as stored;
 * each generated key goes on after the copied ones; then the audit record is read on the target with the
 * same keys and must equal the source's — chain status and head, table comparison and every request's
 * record — and the row counts must match, or the transaction is rolled back (`TARGET_DIFFERS`).
 */
export async function copyDatabase(
  source: CopySource,
  target: CopyTarget,
  options: CopyOptions,
): Promise<CopyReport> {
  return source.snapshot(async (snapshot) => {
    refuseUnknownTables(source.label, await snapshot.tables());
    const unknownKeys = missingKeys(await snapshot.keyIds(), options.keys);
    if (unknownKeys.length > 0 && !options.force) {
      throw new CopyRefused(
        'KEY_MISSING',
        `the audit log of ${source.label} is sealed with audit key ${unknownKeys.map((id) => JSON.stringify(id)).join(', ')}: set HALLPASS_AUDIT_KEY (or HALLPASS_AUDIT_OLD_KEYS) to that key, so the copy can be verified on both sides.`,
      );
    }
    const before = await snapshot.record(options.keys);
    const problem = recordProblem(before);
    if (problem !== undefined && !options.force) {
      throw new CopyRefused(
        'SOURCE_UNVERIFIED',
        `${source.label} cannot be verified: ${problem}. Nothing was copied; resolve it first, or copy it as it is with --force.`,
      );
    }
    const counts = new Map<string, number>();
    for (const t of COPIED_TABLES) counts.set(t.name, await snapshot.count(t.name));

    return target.transaction(async (tx) => {
      const occupied: [string, number][] = [];
      for (const t of COPIED_TABLES) {
        const n = await tx.count(t.name);
        if (n > 0) occupied.push([t.name, n]);
      }
      if (occupied.length > 0) throw targetNotEmpty(target.label, occupied);

      let eventsWithoutTriggers = 0;
      for (const t of COPIED_TABLES) {
        if (t.name === 'audit_events') {
          eventsWithoutTriggers = await copyAuditEvents(snapshot, tx, t, before.chain);
        } else {
          for await (const page of snapshot.pages(t)) await tx.insert(t, page);
        }
        const last = t.generated ? await snapshot.lastGenerated(t) : 0;
        if (last > 0) await tx.advanceGenerator(t, last);
      }

      const after = await tx.record(options.keys);
      const tables = [];
      for (const t of COPIED_TABLES) {
        tables.push({ name: t.name, source: counts.get(t.name) ?? 0, target: await tx.count(t.name) });
      }
      const uneven = tables.filter((t) => t.source !== t.target);
      const differs =
        uneven.length > 0
          ? `the row counts differ in ${uneven.map((t) => `${t.name} (${t.source} → ${t.target})`).join(', ')}`
          : difference(before, after);
      if (differs !== undefined) {
        throw new CopyRefused(
          'TARGET_DIFFERS',
          `the copy in ${target.label} does not read as ${source.label}: ${differs}. It was rolled back; nothing was committed. Was hallpass still running on the source? Stop it and copy again.`,
        );
      }
      const summary = (r: AuditRecord) => ({
        chain: r.chain,
        requests: r.rows.length,
        mismatches: r.mismatches.length,
      });
      return {
        tables,
        source: summary(before),
        target: summary(after),
        problem: recordProblem(after),
        eventsWithoutTriggers,
      };
    });
  });
}
