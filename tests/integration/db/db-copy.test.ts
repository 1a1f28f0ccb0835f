import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSqliteAuditLog, verifyAuditChain } from '../../../src/adapters/db/audit-log';
import {
  COPIED_TABLES,
  CopyRefused,
  type CopySource,
  copyDatabase,
  LINKED_TRIGGER,
  SEALED_TRIGGER,
} from '../../../src/adapters/db/db-copy';
import { type DbHandle, openDatabase, openExistingDatabase } from '../../../src/adapters/db/open-db';
import { verifyPostgresAuditChain } from '../../../src/adapters/db/pg/audit-log';
import { openPostgresCopySource, postgresCopyTarget } from '../../../src/adapters/db/pg/copy';
import { createPostgresStores } from '../../../src/adapters/db/pg/stores';
import { openSqliteCopyTarget, sqliteCopySource } from '../../../src/adapters/db/sqlite-copy';
import { createSqliteStores } from '../../../src/adapters/db/stores';
import type { AuditKey, AuditKeyring } from '../../../src/app/audit-ports';
import { emptyPostgres, usePostgres } from '../../support/audit-engines';
import { dropGuards } from '../../support/audit-tamper';
import { T0 } from '../../support/builders';
import { describeWithPostgres } from '../../support/postgres';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
const K1: AuditKey = { id: 'k1', secret: randomBytes(32) };

/** A SQLite database in memory whose log holds `events` events, sealed under `key` (plain SHA-256 without). */
async function logOf(events: number, key?: AuditKey): Promise<DbHandle> {
  const handle = openDatabase(':memory:');
  const audit = createSqliteAuditLog(handle.db, { key });
  for (let i = 0; i < events; i++) {
    await audit.append({ at: at(i), actor: 'U_X', type: 'audit.searched', details: { i } });
  }
  return handle;
}

/** Events recorded before the chain existed (no seal) — the triggers that refuse them set aside — then `sealed` more. */
async function legacyLogOf(legacy: number, sealed: number): Promise<DbHandle> {
  const handle = openDatabase(':memory:');
  const triggers = handle.sqlite
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)")
    .pluck()
    .all(SEALED_TRIGGER, LINKED_TRIGGER)
    .map(String);
  handle.sqlite.exec(`DROP TRIGGER ${SEALED_TRIGGER}; DROP TRIGGER ${LINKED_TRIGGER};`);
  const insert = handle.sqlite.prepare(
    'INSERT INTO audit_events (at, actor, type, details) VALUES (?, ?, ?, ?)',
  );
  for (let i = 0; i < legacy; i++) insert.run(at(i).getTime(), 'U_OLD', 'request.submitted', `{"i":${i}}`);
  for (const sql of triggers) handle.sqlite.exec(sql);
  const audit = createSqliteAuditLog(handle.db);
  for (let i = 0; i < sealed; i++)
    await audit.append({ at: at(100 + i), actor: 'U_NEW', type: 'audit.searched' });
  return handle;
}

describeWithPostgres('copyDatabase (npm run db:copy) into PostgreSQL', () => {
  const pg = usePostgres();
  let dir: string;
  const open: DbHandle[] = [];
  beforeEach(async () => {
    await emptyPostgres(pg.handle);
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-db-copy-'));
  });
  afterEach(() => {
    for (const h of open.splice(0)) h.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kept = (h: DbHandle): DbHandle => {
    open.push(h);
    return h;
  };

  const target = () => postgresCopyTarget(pg.handle, 'the target');
  const copy = (source: DbHandle, options: { keys?: AuditKeyring; force?: boolean } = {}) =>
    copyDatabase(sqliteCopySource(source, 'the source'), target(), {
      keys: options.keys,
      force: options.force ?? false,
    });
  const rowsOnPostgres = async (table: string): Promise<number> =>
    Number((await pg.handle.pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
  /** Whether each insert trigger of the audit table is enabled (`O`: fires in origin sessions). */
  const triggerStates = async () =>
    (
      await pg.handle.pool.query<{ name: string; enabled: string }>(
        "SELECT tgname AS name, tgenabled AS enabled FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal ORDER BY tgname",
      )
    ).rows;
  const allEnabled = [
    { name: LINKED_TRIGGER, enabled: 'O' },
    { name: 'audit_events_no_delete', enabled: 'O' },
    { name: 'audit_events_no_truncate', enabled: 'O' },
    { name: 'audit_events_no_update', enabled: 'O' },
    { name: SEALED_TRIGGER, enabled: 'O' },
  ];

  it('inserts an intact log under its own triggers, and they are all in force afterwards', async () => {
    const source = kept(await logOf(1_500, K1));

    const report = await copy(source, { keys: { current: K1, old: [] } });

    expect(report.eventsWithoutTriggers).toBe(0);
    expect(report.target.chain).toEqual(report.source.chain);
    expect(report.source.chain).toMatchObject({ ok: true, events: 1_500, keyIds: ['k1'] });
    expect(await triggerStates()).toEqual(allEnabled);
    await expect(
      pg.handle.pool.query("UPDATE audit_events SET actor = 'U_FORGED' WHERE seq = 1"),
    ).rejects.toThrow(/append-only/);
  });

  it('refuses a source whose audit log is broken, and copies nothing', async () => {
    const source = kept(await logOf(5));
    dropGuards(source);
    source.sqlite.exec("UPDATE audit_events SET actor = 'U_FORGED' WHERE seq = 3");

    const refused = copy(source);

    await expect(refused).rejects.toThrow(CopyRefused);
    await expect(refused).rejects.toMatchObject({
      reason: 'SOURCE_UNVERIFIED',
      message: expect.stringMatching(
        /^the source cannot be verified: its audit log is BROKEN at event 3 \(edited\)/,
      ),
    });
    for (const t of COPIED_TABLES) expect([t.name, await rowsOnPostgres(t.name)]).toEqual([t.name, 0]);
  });

  it('copies a broken log as it is when forced, and PostgreSQL finds the same break', async () => {
    const source = kept(await logOf(5));
    dropGuards(source);
    source.sqlite.exec("UPDATE audit_events SET actor = 'U_FORGED' WHERE seq = 3");

    const report = await copy(source, { force: true });

    expect(report.problem).toMatch(/^its audit log is BROKEN at event 3 \(edited\)/);
    expect(report.eventsWithoutTriggers).toBe(5);
    expect(report.target.chain).toEqual(report.source.chain);
    expect(await verifyPostgresAuditChain(pg.handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 3 });
    expect(await triggerStates()).toEqual(allEnabled);
  });

  it('refuses a log sealed under a key it is not given, and copies it with the key', async () => {
    const source = kept(await logOf(3, K1));

    await expect(copy(source)).rejects.toMatchObject({
      reason: 'KEY_MISSING',
      message: expect.stringContaining('sealed with audit key "k1"'),
    });
    expect(await rowsOnPostgres('audit_events')).toBe(0);
    await expect(copy(source, { keys: { current: undefined, old: [K1] } })).resolves.toMatchObject({
      target: { chain: { ok: true, events: 3 } },
    });
  });

  it('sets the triggers aside for the events from before the chain alone, and both engines verify them alike', async () => {
    const source = kept(await legacyLogOf(3, 4));
    const onSqlite = verifyAuditChain(source.db);
    expect(onSqlite).toMatchObject({ ok: true, events: 7, legacy: 3 });

    const report = await copy(source);

    expect(report.eventsWithoutTriggers).toBe(3);
    expect(await verifyPostgresAuditChain(pg.handle.db)).toEqual(onSqlite);
    expect(await triggerStates()).toEqual(allEnabled);

    // And back into SQLite, whose triggers are dropped and created again around those events.
    const file = path.join(dir, 'back.db');
    const from = await openPostgresCopySource(pg.handle.pool.options.connectionString ?? '');
    const into = openSqliteCopyTarget(file);
    const back = await copyDatabase(from, into, { keys: undefined, force: false }).finally(async () => {
      await into.close();
      await from.close();
    });
    expect(back.eventsWithoutTriggers).toBe(3);
    const again = kept(openExistingDatabase(file, { write: false }));
    expect(verifyAuditChain(again.db)).toEqual(onSqlite);
    expect(
      again.sqlite
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events' ORDER BY name",
        )
        .pluck()
        .all(),
    ).toEqual([
      'audit_events_linked',
      'audit_events_no_delete',
      'audit_events_no_update',
      'audit_events_sealed',
    ]);
  });

  it('rolls everything back when the target does not read as the source', async () => {
    const real = sqliteCopySource(kept(await logOf(5)), 'the source');
    // A source whose pages lose the last event (as if it changed while being read).
    const lossy: CopySource = {
      ...real,
      snapshot: (fn) =>
        real.snapshot((s) =>
          fn({
            ...s,
            async *pages(table) {
              for await (const page of s.pages(table))
                yield table.name === 'audit_events' ? page.slice(0, -1) : page;
            },
          }),
        ),
    };

    const refused = copyDatabase(lossy, target(), { keys: undefined, force: false });

    await expect(refused).rejects.toMatchObject({
      reason: 'TARGET_DIFFERS',
      message: expect.stringContaining('the row counts differ in audit_events (5 → 4)'),
    });
    expect(await rowsOnPostgres('audit_events')).toBe(0);
    expect(await triggerStates()).toEqual(allEnabled);
  });

  it('carries a key generator that stands past the largest key over, so no key is handed out twice', async () => {
    const source = kept(openDatabase(':memory:'));
    const lite = createSqliteStores(source, {});
    for (const n of [1, 2, 3]) {
      await lite.outbox.enqueue({ lane: 'req:a', requestId: 'a', kind: 'thread', notice: `a${n}` }, at(n));
    }
    source.sqlite.exec('DELETE FROM outbox WHERE id = 3');

    await copy(source);
    const stores = createPostgresStores(pg.handle, {});
    await stores.outbox.enqueue({ lane: 'req:a', requestId: 'a', kind: 'thread', notice: 'a4' }, at(4));

    const ids = (await pg.handle.pool.query<{ id: string }>('SELECT id FROM outbox ORDER BY id')).rows.map(
      (r) => Number(r.id),
    );
    expect(ids).toEqual([1, 2, 4]);
  });
});
