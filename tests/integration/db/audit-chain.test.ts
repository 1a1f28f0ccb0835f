import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalJson, eventHash, GENESIS_HASH, verifyAuditChain } from '../../../src/adapters/db/audit-log';
import { type DbHandle, MIGRATIONS_FOLDER, openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import { dropGuards, type RawRow, rawRow, rawRows } from '../../support/audit-tamper';
import { T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

/** Sets every column but `seq` of event `seq` to `row`'s. */
function overwrite(h: DbHandle, seq: number, row: RawRow): void {
  h.sqlite
    .prepare(
      `UPDATE audit_events SET at = @at, actor = @actor, type = @type, request_id = @request_id,
       grant_id = @grant_id, details = @details, prev_hash = @prev_hash, hash = @hash WHERE seq = @target`,
    )
    .run({ ...row, target: seq });
}

async function appendSix(stores: SqliteStores): Promise<void> {
  await stores.audit.append({
    at: at(0),
    actor: 'U_REQ',
    type: 'request.submitted',
    requestId: 'req_1',
    details: { resourceId: 'prod-db', durationMs: 1_800_000, source: '203.0.113.7/32', reason: 'why, "me"' },
  });
  await stores.audit.append({
    at: at(1),
    actor: 'U_APP',
    type: 'request.approved',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { approvers: ['U_APP'], nested: { z: 1, a: [{ y: 2, b: 3 }] } },
  });
  await stores.audit.append({
    at: at(2),
    actor: 'hallpass',
    type: 'grant.opened',
    requestId: 'req_1',
    grantId: 'grt_1',
  });
  await stores.audit.append({ at: at(3), actor: 'U_OTHER', type: 'request.submitted', requestId: 'req_2' });
  await stores.audit.append({
    at: at(4),
    actor: 'hallpass',
    type: 'grant.closing',
    requestId: 'req_1',
    grantId: 'grt_1',
  });
  await stores.audit.append({
    at: at(5),
    actor: 'hallpass',
    type: 'grant.closed',
    requestId: 'req_1',
    grantId: 'grt_1',
  });
}

describe('audit hash chain', () => {
  let handle: DbHandle;
  let stores: SqliteStores;

  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });

  afterEach(() => {
    handle.close();
  });

  it('verifies an empty log', () => {
    expect(verifyAuditChain(handle.db)).toEqual({
      ok: true,
      events: 0,
      legacy: 0,
      unkeyed: 0,
      keyIds: [],
      lastSeq: 0,
      head: GENESIS_HASH,
      accepted: [],
    });
  });

  it('seals each event with sha256(prev_hash + "\\n" + canonical JSON of its content), linked from 64 zeros', async () => {
    await appendSix(stores);
    const rows = rawRows(handle);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    let prev = GENESIS_HASH;
    for (const r of rows) {
      const content = {
        actor: r.actor,
        at: r.at,
        details: r.details === null ? null : JSON.parse(r.details),
        grantId: r.grant_id,
        requestId: r.request_id,
        seq: r.seq,
        type: r.type,
      };
      const expected = createHash('sha256')
        .update(`${prev}\n${canonicalJson(content)}`)
        .digest('hex');
      expect(r.prev_hash).toBe(prev);
      expect(r.hash).toBe(expected);
      prev = expected;
    }
    // Keys sorted at every depth, no whitespace: the form an auditor can recompute by hand.
    expect(canonicalJson({ z: 1, a: [{ y: 2, b: 3 }], m: null })).toBe(
      '{"a":[{"b":3,"y":2}],"m":null,"z":1}',
    );
    expect(
      eventHash(GENESIS_HASH, {
        seq: 1,
        at: rows[0]?.at ?? 0,
        actor: 'U_REQ',
        type: 'request.submitted',
        requestId: 'req_1',
        grantId: null,
        details: rows[0]?.details ?? null,
      }),
    ).toBe(rows[0]?.hash);
  });

  it('verifies an intact log and reports its head', async () => {
    await appendSix(stores);
    expect(verifyAuditChain(handle.db)).toEqual({
      ok: true,
      events: 6,
      legacy: 0,
      unkeyed: 6,
      keyIds: [],
      lastSeq: 6,
      head: rawRow(handle, 6).hash,
      accepted: [],
    });
  });

  it('keeps the chain intact across appends inside a transaction that rolls back', async () => {
    await appendSix(stores);
    await expect(
      stores.uow.tx(async () => {
        await stores.audit.append({ at: at(6), actor: 'U_X', type: 'request.submitted' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await stores.uow.tx(() => stores.audit.append({ at: at(7), actor: 'U_Y', type: 'request.submitted' }));
    expect(rawRows(handle).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: true, events: 7 });
  });

  it('names an edited event', async () => {
    await appendSix(stores);
    dropGuards(handle);
    handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_SOMEONE_ELSE' WHERE seq = 3").run();
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: 'edited' });
  });

  it('names an event whose details were edited, even into something that is not JSON', async () => {
    await appendSix(stores);
    dropGuards(handle);
    handle.sqlite
      .prepare(`UPDATE audit_events SET details = '{"reason": "nothing to see"' WHERE seq = 1`)
      .run();
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 1, reason: 'edited' });
  });

  it('names an event that was edited and resealed with a freshly computed hash', async () => {
    await appendSix(stores);
    dropGuards(handle);
    const row = { ...rawRow(handle, 4), actor: 'U_FORGED' };
    const hash = eventHash(row.prev_hash ?? '', {
      seq: row.seq,
      at: row.at,
      actor: row.actor,
      type: row.type,
      requestId: row.request_id,
      grantId: row.grant_id,
      details: row.details,
    });
    overwrite(handle, 4, { ...row, hash });
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 4, reason: 'edited' });
  });

  it('names a forged first event that links to something other than the genesis hash', async () => {
    await appendSix(stores);
    dropGuards(handle);
    const first = { ...rawRow(handle, 1), prev_hash: 'a'.repeat(64) };
    const hash = eventHash(first.prev_hash, {
      seq: 1,
      at: first.at,
      actor: first.actor,
      type: first.type,
      requestId: first.request_id,
      grantId: first.grant_id,
      details: first.details,
    });
    overwrite(handle, 1, { ...first, hash });
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 1, reason: 'edited' });
  });

  it('names an event whose seal was removed', async () => {
    await appendSix(stores);
    dropGuards(handle);
    handle.sqlite.prepare('UPDATE audit_events SET hash = NULL, prev_hash = NULL WHERE seq = 5').run();
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'edited' });
  });

  it.each([1, 3, 5])('names a deleted event (event %i)', async (seq) => {
    await appendSix(stores);
    dropGuards(handle);
    handle.sqlite.prepare('DELETE FROM audit_events WHERE seq = ?').run(seq);
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: seq, reason: 'deleted' });
  });

  it('names a deletion hidden by renumbering the later events', async () => {
    await appendSix(stores);
    dropGuards(handle);
    handle.sqlite.prepare('DELETE FROM audit_events WHERE seq = 3').run();
    for (const seq of [4, 5, 6]) {
      handle.sqlite.prepare('UPDATE audit_events SET seq = ? WHERE seq = ?').run(seq - 1, seq);
    }
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: 'deleted' });
  });

  it('catches events cut off the end as soon as hallpass appends the next one', async () => {
    await appendSix(stores);
    dropGuards(handle);
    handle.sqlite.prepare('DELETE FROM audit_events WHERE seq >= 5').run();
    // A shorter chain is still a chain: the cut alone is invisible (hence the head to record elsewhere) …
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: true, events: 4 });
    // … but the sequence counter does not rewind, so the next event leaves a gap.
    await stores.audit.append({ at: at(9), actor: 'hallpass', type: 'grant.closed' });
    expect(rawRows(handle).map((r) => r.seq)).toEqual([1, 2, 3, 4, 7]);
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'deleted' });
  });

  it.each([
    [2, 5],
    [3, 4],
  ])('names swapped events as reordered (events %i and %i)', async (a, b) => {
    await appendSix(stores);
    dropGuards(handle);
    const rowA = rawRow(handle, a);
    const rowB = rawRow(handle, b);
    overwrite(handle, a, rowB);
    overwrite(handle, b, rowA);
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: a, reason: 'reordered' });
  });

  it('refuses, in the database itself, an event without a seal or linked to the wrong predecessor', async () => {
    await appendSix(stores);
    const insert = handle.sqlite.prepare(
      "INSERT INTO audit_events (at, actor, type, prev_hash, hash) VALUES (0, 'U_X', 'forged', ?, ?)",
    );
    expect(() => insert.run(null, null)).toThrow(/hash-chained/);
    expect(() => insert.run(GENESIS_HASH, 'f'.repeat(64))).toThrow(
      /prev_hash must be the hash of the last event/,
    );
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: true, events: 6 });
  });
});

describe('audit hash chain over a database from before the chain existed', () => {
  let dir: string;
  let file: string;

  /** Migrations up to and including `lastTag`, as a database from that release would have run them. */
  function migrationsUpTo(lastTag: string): string {
    const folder = path.join(dir, 'migrations');
    cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
    const journalPath = path.join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as {
      entries: { idx: number; tag: string }[];
    };
    const last = journal.entries.findIndex((e) => e.tag === lastTag);
    expect(last).toBeGreaterThanOrEqual(0);
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
    return folder;
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-chain-'));
    file = path.join(dir, 'hallpass.db');
    const old = openDatabase(file, { migrationsFolder: migrationsUpTo('0003_lifecycle') });
    const insert = old.sqlite.prepare(
      'INSERT INTO audit_events (at, actor, type, request_id, details) VALUES (?, ?, ?, ?, ?)',
    );
    insert.run(at(0).getTime(), 'U_REQ', 'request.submitted', 'req_old', '{"resourceId":"prod-db"}');
    insert.run(at(1).getTime(), 'U_APP', 'request.approved', 'req_old', null);
    insert.run(at(2).getTime(), 'hallpass', 'grant.opened', 'req_old', '{"b":1,"a":2}');
    old.close();
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the unsealed legacy events and chains the new ones through them', async () => {
    const h = openDatabase(file);
    try {
      const stores = createSqliteStores(h);
      expect(verifyAuditChain(h.db)).toMatchObject({ ok: true, events: 3, legacy: 3 });
      await stores.audit.append({ at: at(3), actor: 'hallpass', type: 'grant.closed', requestId: 'req_old' });
      await stores.audit.append({
        at: at(4),
        actor: 'U_NEW',
        type: 'request.submitted',
        requestId: 'req_new',
      });
      const rows = rawRows(h);
      expect(rows.map((r) => r.hash === null)).toEqual([true, true, true, false, false]);
      expect(verifyAuditChain(h.db)).toMatchObject({
        ok: true,
        events: 5,
        legacy: 3,
        unkeyed: 5,
        head: rows[4]?.hash,
      });
      expect((await stores.audit.list()).map((e) => e.type)).toEqual([
        'request.submitted',
        'request.approved',
        'grant.opened',
        'grant.closed',
        'request.submitted',
      ]);
    } finally {
      h.close();
    }
  });

  it('detects a change to a legacy event made after the first sealed event', async () => {
    const h = openDatabase(file);
    try {
      await createSqliteStores(h).audit.append({ at: at(3), actor: 'hallpass', type: 'grant.closed' });
      dropGuards(h);
      h.sqlite.prepare("UPDATE audit_events SET actor = 'U_FORGED' WHERE seq = 2").run();
      expect(verifyAuditChain(h.db)).toMatchObject({ ok: false, firstBrokenSeq: 1, reason: 'edited' });
    } finally {
      h.close();
    }
  });
});
