import { createHmac, randomBytes } from 'node:crypto';
import { createSqliteAuditRecordSource } from '../../../src/adapters/db/audit-export-query';
import {
  BREAK_ACCEPTED_EVENT,
  canonicalJson,
  eventHash,
  GENESIS_HASH,
  parseHead,
  repeatedKey,
  verifyAuditChain,
  verifyAuditChainAsync,
} from '../../../src/adapters/db/audit-log';
import { type DbHandle, openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores } from '../../../src/adapters/db/stores';
import type { AuditKey } from '../../../src/app/audit-ports';
import type { AuditLog } from '../../../src/app/ports';
import { AUDIT_ENGINES, submittedEvent, useAuditEngine } from '../../support/audit-engines';
import { columnsOf, type RawRow } from '../../support/audit-tamper';
import { buildNewRequest, T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
const K1: AuditKey = { id: 'k1', secret: randomBytes(32) };
const K2: AuditKey = { id: 'k2', secret: randomBytes(32) };

async function appendSix(audit: AuditLog): Promise<void> {
  await audit.append({
    at: at(0),
    actor: 'U_REQ',
    type: 'request.submitted',
    requestId: 'req_1',
    details: {
      resourceId: 'prod-db',
      durationMs: 1_800_000,
      source: '203.0.113.7/32',
      reason: 'real reason',
    },
  });
  await audit.append({ at: at(1), actor: 'U_APP', type: 'request.approval_recorded', requestId: 'req_1' });
  await audit.append({
    at: at(2),
    actor: 'U_APP',
    type: 'request.approved',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { approvers: ['U_APP'], expiresAt: at(1_800_002).toISOString() },
  });
  await audit.append({
    at: at(3),
    actor: 'hallpass',
    type: 'grant.opened',
    requestId: 'req_1',
    grantId: 'grt_1',
  });
  await audit.append({
    at: at(4),
    actor: 'hallpass',
    type: 'grant.closing',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { reason: 'expired' },
  });
  await audit.append({
    at: at(5),
    actor: 'hallpass',
    type: 'grant.closed',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { reason: 'expired' },
  });
}

/** Sets every column but `seq` of event `seq` to `row`'s, key id included. */
const overwrite = (seq: number, row: RawRow): [string, unknown[]] => [
  `UPDATE audit_events SET at = ?, actor = ?, type = ?, request_id = ?, grant_id = ?, details = ?,
   prev_hash = ?, hash = ?, key_id = ? WHERE seq = ?`,
  [
    row.at,
    row.actor,
    row.type,
    row.request_id,
    row.grant_id,
    row.details,
    row.prev_hash,
    row.hash,
    row.key_id,
    seq,
  ],
];

describe.each(AUDIT_ENGINES)('keyed audit chain (HMAC-SHA-256 under HALLPASS_AUDIT_KEY) on %s', (name) => {
  const engine = useAuditEngine(name);
  let audit: AuditLog;
  const keys = { current: K1 };

  beforeEach(() => {
    audit = engine.log(K1);
  });

  it('seals each event with an HMAC over its stored bytes and key id, and records the key id, never the key', async () => {
    await appendSix(audit);
    const rows = await engine.rows();
    let prev = GENESIS_HASH;
    for (const r of rows) {
      const content = canonicalJson({ ...columnsOf(r), keyId: 'k1' });
      const expected = createHmac('sha256', K1.secret)
        .update(`hallpass-audit-v2\n${prev}\n${content}`)
        .digest('hex');
      expect([r.key_id, r.prev_hash, r.hash]).toEqual(['k1', prev, expected]);
      prev = expected;
    }
    // The details are in the MAC as the exact stored text, not as a parsed value.
    expect(canonicalJson({ details: rows[0]?.details })).toContain('\\"reason\\":\\"real reason\\"');
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(Buffer.from(K1.secret).toString('base64'));
    expect(stored).not.toContain(Buffer.from(K1.secret).toString('hex'));
  });

  it('verifies an intact keyed log with the key and reports the key ids', async () => {
    await appendSix(audit);
    expect(await engine.verify({ keys })).toEqual({
      ok: true,
      events: 6,
      legacy: 0,
      unkeyed: 0,
      keyIds: ['k1'],
      lastSeq: 6,
      head: (await engine.row(6)).hash,
      accepted: [],
    });
  });

  it('cannot be verified with another key', async () => {
    await appendSix(audit);
    expect(await engine.verify({ keys: { current: { id: 'k1', secret: randomBytes(32) } } })).toMatchObject({
      ok: false,
      firstBrokenSeq: 1,
      reason: 'edited',
      message: expect.stringContaining('under audit key "k1"'),
    });
    expect(await engine.verify({ keys: { current: K2 } })).toMatchObject({
      ok: false,
      firstBrokenSeq: 1,
      reason: 'unknown-key',
    });
  });

  it('refuses to append an unkeyed event after keyed ones', async () => {
    await appendSix(audit);
    await expect(
      engine.log().append({ at: at(9), actor: 'hallpass', type: 'audit.searched' }),
    ).rejects.toThrow(
      expect.objectContaining({
        code: 'AUDIT_KEY_REQUIRED',
        message: expect.stringMatching(/sealed with key "k1".*HALLPASS_AUDIT_KEY/),
      }),
    );
    expect(await engine.rows()).toHaveLength(6);
  });

  describe('tampering, each caught given the key or a published head', () => {
    let head: { count: number; hash: string };
    beforeEach(async () => {
      await appendSix(audit);
      head = await audit.head();
    });

    it('edit: an event changed in place', async () => {
      await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 3");
      expect(await engine.verify({ keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 3,
        reason: 'edited',
      });
      expect(await engine.checkHead(head)).toEqual({ ok: true }); // the seal is unchanged: the key is what catches it
    });

    it('delete: an event removed from the middle', async () => {
      await engine.tamper('DELETE FROM audit_events WHERE seq = 4');
      expect(await engine.verify({ keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 4,
        reason: 'deleted',
      });
    });

    it('truncate: the tail cut, the counter reset, and hallpass appending again', async () => {
      await engine.tamper(
        'DELETE FROM audit_events WHERE seq >= 5',
        // SQLite's AUTOINCREMENT counter would leave a gap; PostgreSQL's numbering has none to reset.
        ...(name === 'sqlite' ? ["UPDATE sqlite_sequence SET seq = 4 WHERE name = 'audit_events'"] : []),
      );
      // The shorter log alone fails the published head …
      expect(await engine.checkHead(head)).toMatchObject({ ok: false, reason: 'shorter' });
      await audit.append({ at: at(9), actor: 'hallpass', type: 'grant.closed', grantId: 'grt_1' });
      await audit.append({ at: at(10), actor: 'hallpass', type: 'audit.exported' });
      // … and once refilled with valid seals (hallpass holds the key), only the head can tell.
      expect(await engine.verify({ keys })).toMatchObject({ ok: true, events: 6 });
      expect(await engine.checkHead(head)).toMatchObject({
        ok: false,
        reason: 'different',
        message: expect.stringContaining(`but the published head says ${head.hash}`),
      });
    });

    it('reorder: two events swapped', async () => {
      const a = await engine.row(2);
      const b = await engine.row(5);
      await engine.tamper(overwrite(2, b), overwrite(5, a));
      expect(await engine.verify({ keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 2,
        reason: 'reordered',
      });
    });

    it('recompute with SHA-256, keeping the key id: the first changed event no longer matches its HMAC', async () => {
      await engine.tamper([
        'UPDATE audit_events SET details = ? WHERE seq = 1',
        [
          JSON.stringify({
            resourceId: 'prod-db',
            durationMs: 1_800_000,
            source: '198.51.100.9/32',
            reason: 'x',
          }),
        ],
      ]);
      await engine.resealWithSha256(1, true);
      expect(await engine.verify({ keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 1,
        reason: 'edited',
      });
      expect(await engine.checkHead(head)).toMatchObject({ ok: false, reason: 'different' });
    });

    it('recompute with SHA-256 from the middle, dropping the key id: a downgrade after keyed events', async () => {
      await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 4");
      await engine.resealWithSha256(4, false);
      expect(await engine.verify({ keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 4,
        reason: 'downgraded',
        message: expect.stringContaining('rewritten by someone without the key'),
      });
    });

    it('recompute the whole log with SHA-256: a log that never had a key, which only the published head exposes', async () => {
      await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 1");
      await engine.resealWithSha256(1, false);
      expect(await engine.verify({ keys })).toMatchObject({ ok: true, unkeyed: 6, keyIds: [] });
      expect(await engine.checkHead(head)).toMatchObject({ ok: false, reason: 'different' });
    });

    it('duplicate key in details: refused even where the hash of the parsed value still matches', async () => {
      const forged = JSON.stringify({
        resourceId: 'prod-db',
        durationMs: 1_800_000,
        source: '203.0.113.7/32',
      }).replace(/}$/, ',"reason":"forged reason","reason":"real reason"}');
      await engine.tamper(['UPDATE audit_events SET details = ? WHERE seq = 1', [forged]]);
      if ('sqlite' in engine.handle) {
        // What SQLite's json_extract shows a reader: the forged value.
        const shown = engine.handle.sqlite
          .prepare("SELECT json_extract(details, '$.reason') AS reason FROM audit_events WHERE seq = 1")
          .get() as { reason: string };
        expect(shown.reason).toBe('forged reason');
      }
      expect(repeatedKey(forged)).toBe('reason');
      expect(await engine.verify({ keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 1,
        reason: 'edited',
        message: expect.stringContaining('repeat the key "reason"'),
      });
    });
  });

  it('keeps verifying across a key rotation with the old key kept for verification', async () => {
    await appendSix(audit);
    await engine
      .log(K2)
      .append({ at: at(10), actor: 'U_REQ', type: 'request.submitted', requestId: 'req_2' });
    const rows = await engine.rows();
    expect(rows.map((r) => r.key_id)).toEqual(['k1', 'k1', 'k1', 'k1', 'k1', 'k1', 'k2']);
    // The first event under the new key links to the last under the old one.
    expect(rows[6]?.prev_hash).toBe(rows[5]?.hash);
    expect(await engine.verify({ keys: { current: K2, old: [K1] } })).toMatchObject({
      ok: true,
      events: 7,
      keyIds: ['k1', 'k2'],
    });
    expect(await engine.verify({ keys: { current: K2 } })).toMatchObject({
      ok: false,
      firstBrokenSeq: 1,
      reason: 'unknown-key',
      message: expect.stringContaining('HALLPASS_AUDIT_OLD_KEYS'),
    });
  });

  it('accepts exactly the break on record, and no other', async () => {
    await appendSix(audit);
    await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 3");
    const broken = await engine.verify({ keys });
    if (broken.ok) throw new Error('expected a break');
    await audit.append({
      at: at(20),
      actor: 'hallpass',
      type: BREAK_ACCEPTED_EVENT,
      details: {
        seq: broken.firstBrokenSeq,
        reason: broken.reason,
        message: broken.message,
        detectedAtSeq: broken.detectedAtSeq,
        storedHash: broken.detectedHash,
      },
    });
    expect(await engine.verify({ keys })).toMatchObject({
      ok: true,
      events: 7,
      accepted: [{ seq: 3, reason: 'edited', acceptedBySeq: 7, acceptedAt: at(20) }],
    });
    // A later break is a break.
    await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 5");
    expect(await engine.verify({ keys })).toMatchObject({
      ok: false,
      firstBrokenSeq: 5,
      reason: 'edited',
    });
    await engine.tamper("UPDATE audit_events SET actor = 'hallpass' WHERE seq = 5");
    // So is the accepted event changed again (its seal replaced).
    await engine.tamper(`UPDATE audit_events SET hash = '${'e'.repeat(64)}' WHERE seq = 3`);
    expect(await engine.verify({ keys })).toMatchObject({ ok: false, firstBrokenSeq: 3 });
  });

  it('an acceptance forged without the key is itself a break', async () => {
    await appendSix(audit);
    await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 3");
    const broken = await engine.verify({ keys });
    if (broken.ok) throw new Error('expected a break');
    const details = JSON.stringify({
      seq: 3,
      reason: 'edited',
      message: 'x',
      detectedAtSeq: broken.detectedAtSeq,
      storedHash: broken.detectedHash,
    });
    const prev = (await engine.row(6)).hash ?? '';
    const columns = {
      seq: 7,
      at: at(20).getTime(),
      actor: 'hallpass',
      type: BREAK_ACCEPTED_EVENT,
      requestId: null,
      grantId: null,
      details,
    };
    await engine.tamper([
      'INSERT INTO audit_events (seq, at, actor, type, details, prev_hash, hash, key_id) VALUES (7, ?, ?, ?, ?, ?, ?, ?)',
      [columns.at, 'hallpass', BREAK_ACCEPTED_EVENT, details, prev, eventHash(prev, columns), 'k1'],
    ]);
    expect(await engine.verify({ keys })).toMatchObject({
      ok: false,
      firstBrokenSeq: 7,
      reason: 'edited',
    });
  });
});

describe.each(AUDIT_ENGINES)('an unkeyed log that gets a key, on %s', (name) => {
  const engine = useAuditEngine(name);

  it('chains the first keyed event to the SHA-256 events before it, which then cannot be rewritten either', async () => {
    const before = engine.log();
    await before.append({
      at: at(0),
      actor: 'U_REQ',
      type: 'request.submitted',
      requestId: 'req_1',
      details: { reason: 'a' },
    });
    await before.append({ at: at(1), actor: 'U_APP', type: 'request.denied', requestId: 'req_1' });
    await engine.log(K1).append({ at: at(2), actor: 'U_REQ', type: 'request.submitted', requestId: 'req_2' });
    const rows = await engine.rows();
    expect(rows.map((r) => r.key_id)).toEqual([null, null, 'k1']);
    expect(rows[2]?.prev_hash).toBe(rows[1]?.hash);
    const keys = { current: K1 };
    expect(await engine.verify({ keys })).toMatchObject({
      ok: true,
      events: 3,
      unkeyed: 2,
      keyIds: ['k1'],
    });
    // Rewriting the unkeyed events and resealing them with SHA-256 leaves the keyed one linking to the original.
    await engine.tamper("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 1");
    await engine.resealWithSha256(1, false);
    await engine.tamper([
      'UPDATE audit_events SET prev_hash = ?, hash = ?, key_id = ? WHERE seq = 3',
      [rows[2]?.prev_hash, rows[2]?.hash, 'k1'],
    ]);
    expect(await engine.verify({ keys })).toMatchObject({
      ok: false,
      firstBrokenSeq: 2,
      reason: 'edited',
      message: expect.stringContaining('changed and resealed'),
    });
  });

  it('an unkeyed event with a duplicate key was accepted before; now it is named', async () => {
    await engine.log().append({
      at: at(0),
      actor: 'U_REQ',
      type: 'request.submitted',
      requestId: 'req_1',
      details: { reason: 'real' },
    });
    const forged = '{"reason":"forged","reason":"real"}';
    await engine.tamper(['UPDATE audit_events SET details = ? WHERE seq = 1', [forged]]);
    // The SHA-256 seal of the parsed value (last key wins) still matches: the old walk said intact.
    const row = await engine.row(1);
    expect(eventHash(GENESIS_HASH, columnsOf(row))).toBe(row.hash);
    expect(await engine.verify()).toMatchObject({ ok: false, firstBrokenSeq: 1, reason: 'edited' });
  });
});

describe('published heads', () => {
  it('reads <count>:<hash> exactly as the audit channel shows it', () => {
    const hash = 'a'.repeat(64);
    expect(parseHead(`12:${hash}`)).toEqual({ count: 12, hash });
    expect(parseHead(`12:${hash.toUpperCase()}`)).toBeUndefined();
    expect(parseHead('12')).toBeUndefined();
    expect(parseHead(`x:${hash}`)).toBeUndefined();
  });
});

describe.each(AUDIT_ENGINES)('published heads on %s', (name) => {
  const engine = useAuditEngine(name);

  it('holds for an untouched log, and names a missing event', async () => {
    const audit = engine.log(K1);
    await appendSix(audit);
    const head = await audit.head();
    expect(head).toEqual({ count: 6, hash: (await engine.row(6)).hash, keyId: 'k1' });
    await audit.append({ at: at(9), actor: 'hallpass', type: 'audit.head_published' });
    expect(await engine.checkHead(head)).toEqual({ ok: true });
    expect(await engine.checkHead({ count: 0, hash: GENESIS_HASH })).toEqual({ ok: true });
    expect(await engine.checkHead({ count: 9, hash: head.hash })).toMatchObject({
      ok: false,
      reason: 'shorter',
      message: 'the log ends at event 7, but the published head names event 9: events 8..9 were removed.',
    });
  });
});

describe('the running bot reading the record while it works (SQLite)', () => {
  let handle: DbHandle;
  beforeEach(() => {
    handle = openDatabase(':memory:');
  });
  afterEach(() => handle.close());

  it('walks the same way a page at a time', async () => {
    const keys = { current: K1 };
    const audit = createSqliteStores(handle, { key: K1 }).audit;
    await appendSix(audit);
    expect(await verifyAuditChainAsync(handle.db, { keys })).toEqual(verifyAuditChain(handle.db, { keys }));
    handle.sqlite.exec('DROP TRIGGER audit_events_no_update');
    handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_X' WHERE seq = 2").run();
    expect(await verifyAuditChainAsync(handle.db, { keys })).toEqual(verifyAuditChain(handle.db, { keys }));
  });

  it('sees a request made during the walk on both sides, never as a table row the chain lacks', async () => {
    const stores = createSqliteStores(handle, { key: K1 });
    // As submit-request writes it: the row and its event in one transaction.
    const submit = async (): Promise<void> => {
      const r = buildNewRequest();
      handle.sqlite.exec('BEGIN IMMEDIATE');
      await stores.requests.insert(r);
      await stores.audit.append(submittedEvent(r));
      handle.sqlite.exec('COMMIT');
    };
    await submit();
    const reading = createSqliteAuditRecordSource(handle.db, { current: K1 }).read();
    // The walk has read its first page and yielded to the event loop: the bot goes on working.
    await submit();
    const record = await reading;
    expect(record.mismatches).toEqual([]);
    expect(record.rows).toHaveLength(2);
    expect(record.chain).toMatchObject({ ok: true, events: 2 });
  });
});
