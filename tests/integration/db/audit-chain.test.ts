import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalJson, eventHash, GENESIS_HASH } from '../../../src/adapters/db/audit-log';
import { MIGRATIONS_FOLDER, openDatabase } from '../../../src/adapters/db/open-db';
import type { AuditLog } from '../../../src/app/ports';
import { AUDIT_ENGINES, useAuditEngine } from '../../support/audit-engines';
import { columnsOf, type RawRow } from '../../support/audit-tamper';
import { T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

/** Sets every column but `seq` of event `seq` to `row`'s. */
const overwrite = (seq: number, row: RawRow): [string, unknown[]] => [
  `UPDATE audit_events SET at = ?, actor = ?, type = ?, request_id = ?, grant_id = ?, details = ?,
   prev_hash = ?, hash = ? WHERE seq = ?`,
  [row.at, row.actor, row.type, row.request_id, row.grant_id, row.details, row.prev_hash, row.hash, seq],
];

async function appendSix(audit: AuditLog): Promise<void> {
  await audit.append({
    at: at(0),
    actor: 'U_REQ',
    type: 'request.submitted',
    requestId: 'req_1',
    details: { resourceId: 'prod-db', durationMs: 1_800_000, source: '203.0.113.7/32', reason: 'why, "me"' },
  });
  await audit.append({
    at: at(1),
    actor: 'U_APP',
    type: 'request.approved',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { approvers: ['U_APP'], nested: { z: 1, a: [{ y: 2, b: 3 }] } },
  });
  await audit.append({
    at: at(2),
    actor: 'hallpass',
    type: 'grant.opened',
    requestId: 'req_1',
    grantId: 'grt_1',
  });
  await audit.append({ at: at(3), actor: 'U_OTHER', type: 'request.submitted', requestId: 'req_2' });
  await audit.append({
    at: at(4),
    actor: 'hallpass',
    type: 'grant.closing',
    requestId: 'req_1',
    grantId: 'grt_1',
  });
  await audit.append({
    at: at(5),
    actor: 'hallpass',
    type: 'grant.closed',
    requestId: 'req_1',
    grantId: 'grt_1',
  });
}

describe.each(AUDIT_ENGINES)('audit hash chain on %s', (name) => {
  const engine = useAuditEngine(name);
  let audit: AuditLog;

  beforeEach(() => {
    audit = engine.log();
  });

  it('verifies an empty log', async () => {
    expect(await engine.verify()).toEqual({
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
    await appendSix(audit);
    const rows = await engine.rows();
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
    await appendSix(audit);
    expect(await engine.verify()).toEqual({
      ok: true,
      events: 6,
      legacy: 0,
      unkeyed: 6,
      keyIds: [],
      lastSeq: 6,
      head: (await engine.row(6)).hash,
      accepted: [],
    });
    expect(await audit.head()).toEqual({ count: 6, hash: (await engine.row(6)).hash });
  });

  it('keeps the chain intact across appends inside a transaction that rolls back', async () => {
    await appendSix(audit);
    await expect(
      engine.tx(async () => {
        await audit.append({ at: at(6), actor: 'U_X', type: 'request.submitted' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await engine.tx(() => audit.append({ at: at(7), actor: 'U_Y', type: 'request.submitted' }));
    expect((await engine.rows()).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await engine.verify()).toMatchObject({ ok: true, events: 7 });
  });

  it('names an edited event', async () => {
    await appendSix(audit);
    await engine.tamper("UPDATE audit_events SET actor = 'U_SOMEONE_ELSE' WHERE seq = 3");
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: 'edited' });
  });

  it('names an event whose details were edited, even into something that is not JSON', async () => {
    await appendSix(audit);
    await engine.tamper(`UPDATE audit_events SET details = '{"reason": "nothing to see"' WHERE seq = 1`);
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 1, reason: 'edited' });
  });

  it('names an event that was edited and resealed with a freshly computed hash', async () => {
    await appendSix(audit);
    const row = { ...(await engine.row(4)), actor: 'U_FORGED' };
    const hash = eventHash(row.prev_hash ?? '', columnsOf(row));
    await engine.tamper(overwrite(4, { ...row, hash }));
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 4, reason: 'edited' });
  });

  it('names a forged first event that links to something other than the genesis hash', async () => {
    await appendSix(audit);
    const first = { ...(await engine.row(1)), prev_hash: 'a'.repeat(64) };
    const hash = eventHash(first.prev_hash, columnsOf(first));
    await engine.tamper(overwrite(1, { ...first, hash }));
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 1, reason: 'edited' });
  });

  it('names an event whose seal was removed', async () => {
    await appendSix(audit);
    await engine.tamper('UPDATE audit_events SET hash = NULL, prev_hash = NULL WHERE seq = 5');
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'edited' });
  });

  it.each([1, 3, 5])('names a deleted event (event %i)', async (seq) => {
    await appendSix(audit);
    await engine.tamper(['DELETE FROM audit_events WHERE seq = ?', [seq]]);
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: seq, reason: 'deleted' });
  });

  it('names a deletion hidden by renumbering the later events', async () => {
    await appendSix(audit);
    await engine.tamper(
      'DELETE FROM audit_events WHERE seq = 3',
      ...[4, 5, 6].map((seq): [string, unknown[]] => [
        'UPDATE audit_events SET seq = ? WHERE seq = ?',
        [seq - 1, seq],
      ]),
    );
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 3, reason: 'deleted' });
  });

  it('hides events cut off the end until the next append (SQLite) or for good (PostgreSQL): the published head shows them', async () => {
    await appendSix(audit);
    const head = await audit.head();
    await engine.tamper('DELETE FROM audit_events WHERE seq >= 5');
    // A shorter chain is still a chain: the cut alone is invisible (hence the head to record elsewhere).
    expect(await engine.verify()).toMatchObject({ ok: true, events: 4 });
    expect(await engine.checkHead(head)).toMatchObject({ ok: false, reason: 'shorter' });
    await audit.append({ at: at(9), actor: 'hallpass', type: 'grant.closed' });
    if (name === 'sqlite') {
      // SQLite's AUTOINCREMENT counter does not rewind, so the next event leaves a gap.
      expect((await engine.rows()).map((r) => r.seq)).toEqual([1, 2, 3, 4, 7]);
      expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 5, reason: 'deleted' });
    } else {
      // PostgreSQL numbers the next event after the last one (a sequence is not transactional: it
      // would leave gaps on every rollback), so the log refills; the published head still shows it.
      expect((await engine.rows()).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(await engine.verify()).toMatchObject({ ok: true, events: 5 });
      expect(await engine.checkHead(head)).toMatchObject({ ok: false, reason: 'shorter' });
    }
  });

  it.each([
    [2, 5],
    [3, 4],
  ])('names swapped events as reordered (events %i and %i)', async (a, b) => {
    await appendSix(audit);
    const rowA = await engine.row(a);
    const rowB = await engine.row(b);
    await engine.tamper(overwrite(a, rowB), overwrite(b, rowA));
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: a, reason: 'reordered' });
  });

  it('refuses, in the database itself, an event without a seal or linked to the wrong predecessor', async () => {
    await appendSix(audit);
    const insert =
      "INSERT INTO audit_events (at, actor, type, prev_hash, hash) VALUES (0, 'U_X', 'forged', ?, ?)";
    await expect(engine.sql(insert, [null, null])).rejects.toThrow(/hash-chained/);
    await expect(engine.sql(insert, [GENESIS_HASH, 'f'.repeat(64)])).rejects.toThrow(
      /prev_hash must be the hash of the last event/,
    );
    expect(await engine.verify()).toMatchObject({ ok: true, events: 6 });
  });
});

describe.each(AUDIT_ENGINES)(
  'audit hash chain over a database from before the chain existed, on %s',
  (name) => {
    let dir: string;

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

    // A SQLite file of a release before the chain, with three events; hallpass migrates it on opening.
    // On PostgreSQL: that database copied over, legacy events and all, as an operator moving to it would.
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'hallpass-chain-'));
      const old = openDatabase(path.join(dir, 'hallpass.db'), {
        migrationsFolder: migrationsUpTo('0003_lifecycle'),
      });
      const insert = old.sqlite.prepare(
        'INSERT INTO audit_events (at, actor, type, request_id, details) VALUES (?, ?, ?, ?, ?)',
      );
      insert.run(at(0).getTime(), 'U_REQ', 'request.submitted', 'req_old', '{"resourceId":"prod-db"}');
      insert.run(at(1).getTime(), 'U_APP', 'request.approved', 'req_old', null);
      insert.run(at(2).getTime(), 'hallpass', 'grant.opened', 'req_old', '{"b":1,"a":2}');
      old.close();
    });
    const engine = useAuditEngine(name, () => openDatabase(path.join(dir, 'hallpass.db')));

    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('reports the unsealed legacy events and chains the new ones through them', async () => {
      const audit = engine.log();
      expect(await engine.verify()).toMatchObject({ ok: true, events: 3, legacy: 3 });
      const legacyHead = await audit.head();
      await audit.append({ at: at(3), actor: 'hallpass', type: 'grant.closed', requestId: 'req_old' });
      await audit.append({ at: at(4), actor: 'U_NEW', type: 'request.submitted', requestId: 'req_new' });
      const rows = await engine.rows();
      expect(rows.map((r) => r.hash === null)).toEqual([true, true, true, false, false]);
      // The first sealed event links to the seal computed through the legacy ones.
      expect(rows[3]?.prev_hash).toBe(legacyHead.hash);
      expect(await engine.checkHead(legacyHead)).toEqual({ ok: true });
      expect(await engine.verify()).toMatchObject({
        ok: true,
        events: 5,
        legacy: 3,
        unkeyed: 5,
        head: rows[4]?.hash,
      });
      expect((await audit.list()).map((e) => e.type)).toEqual([
        'request.submitted',
        'request.approved',
        'grant.opened',
        'grant.closed',
        'request.submitted',
      ]);
    });

    it('detects a change to a legacy event made after the first sealed event', async () => {
      await engine.log().append({ at: at(3), actor: 'hallpass', type: 'grant.closed' });
      await engine.tamper("UPDATE audit_events SET actor = 'U_FORGED' WHERE seq = 2");
      expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 1, reason: 'edited' });
    });
  },
);
