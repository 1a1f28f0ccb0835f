import type Database from 'better-sqlite3';
import { eventHash, GENESIS_HASH } from '../../src/adapters/db/audit-log';
import type { DbHandle } from '../../src/adapters/db/open-db';

/**
 * What someone with write access to the database file can do to the audit log, for the tamper tests:
 * read the stored rows, remove the append-only triggers, and reseal events with plain SHA-256 — the
 * best they can do without `HALLPASS_AUDIT_KEY`.
 */

/** An audit event column for column, as stored. */
export type RawRow = {
  seq: number;
  at: number;
  actor: string;
  type: string;
  request_id: string | null;
  grant_id: string | null;
  details: string | null;
  prev_hash: string | null;
  hash: string | null;
  key_id: string | null;
};

type Target = DbHandle | Database.Database;
const sqliteOf = (t: Target): Database.Database => ('sqlite' in t ? t.sqlite : t);

export const rawRows = (t: Target): RawRow[] =>
  sqliteOf(t).prepare('SELECT * FROM audit_events ORDER BY seq').all() as RawRow[];

export const rawRow = (t: Target, seq: number): RawRow => {
  const row = rawRows(t).find((r) => r.seq === seq);
  if (row === undefined) throw new Error(`no event ${seq}`);
  return row;
};

/** The first thing an attacker does: remove the triggers that refuse UPDATE, DELETE and unlinked rows. */
export function dropGuards(t: Target): void {
  sqliteOf(t).exec(`
    DROP TRIGGER IF EXISTS audit_events_no_update;
    DROP TRIGGER IF EXISTS audit_events_no_delete;
    DROP TRIGGER IF EXISTS audit_events_linked;
  `);
}

/** The columns a seal covers, as `eventHash` takes them. */
export const columnsOf = (r: RawRow) => ({
  seq: r.seq,
  at: r.at,
  actor: r.actor,
  type: r.type,
  requestId: r.request_id,
  grantId: r.grant_id,
  details: r.details,
});

/**
 * The attacker's best effort without the key: from event `from` on, every seal recomputed with plain
 * SHA-256 so each links to the one before. `keepKeyId`: whether the rows keep claiming their key id.
 */
export function resealWithSha256(t: Target, from: number, keepKeyId: boolean): void {
  const update = sqliteOf(t).prepare(RESEAL);
  for (const params of sha256Reseal(rawRows(t), from, keepKeyId)) update.run(...params);
}

/** The UPDATE a reseal runs per event, with `sha256Reseal`'s parameters. */
export const RESEAL = 'UPDATE audit_events SET prev_hash = ?, hash = ?, key_id = ? WHERE seq = ?';

/** The `RESEAL` parameters, event by event, that reseal `rows` (the whole log) from event `from` on. */
export function sha256Reseal(
  rows: readonly RawRow[],
  from: number,
  keepKeyId: boolean,
): [string, string, string | null, number][] {
  let prev = from === 1 ? GENESIS_HASH : (rows.find((r) => r.seq === from - 1)?.hash ?? '');
  return rows
    .filter((r) => r.seq >= from)
    .map((r) => {
      const hash = eventHash(prev, columnsOf(r));
      const params: [string, string, string | null, number] = [
        prev,
        hash,
        keepKeyId ? r.key_id : null,
        r.seq,
      ];
      prev = hash;
      return params;
    });
}
