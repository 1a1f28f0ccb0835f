import { createHmac, randomBytes } from 'node:crypto';
import { createSqliteAuditRecordSource } from '../../../src/adapters/db/audit-export-query';
import {
  BREAK_ACCEPTED_EVENT,
  canonicalJson,
  checkHead,
  eventHash,
  GENESIS_HASH,
  parseHead,
  repeatedKey,
  verifyAuditChain,
  verifyAuditChainAsync,
} from '../../../src/adapters/db/audit-log';
import { type DbHandle, openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import type { AuditKey } from '../../../src/app/audit-ports';
import { columnsOf, dropGuards, rawRow, rawRows, resealWithSha256 } from '../../support/audit-tamper';
import { buildNewRequest, T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
const K1: AuditKey = { id: 'k1', secret: randomBytes(32) };
const K2: AuditKey = { id: 'k2', secret: randomBytes(32) };

async function appendSix(stores: SqliteStores): Promise<void> {
  await stores.audit.append({
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
  await stores.audit.append({
    at: at(1),
    actor: 'U_APP',
    type: 'request.approval_recorded',
    requestId: 'req_1',
  });
  await stores.audit.append({
    at: at(2),
    actor: 'U_APP',
    type: 'request.approved',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { approvers: ['U_APP'], expiresAt: at(1_800_002).toISOString() },
  });
  await stores.audit.append({
    at: at(3),
    actor: 'hallpass',
    type: 'grant.opened',
    requestId: 'req_1',
    grantId: 'grt_1',
  });
  await stores.audit.append({
    at: at(4),
    actor: 'hallpass',
    type: 'grant.closing',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { reason: 'expired' },
  });
  await stores.audit.append({
    at: at(5),
    actor: 'hallpass',
    type: 'grant.closed',
    requestId: 'req_1',
    grantId: 'grt_1',
    details: { reason: 'expired' },
  });
}

describe('keyed audit chain (HMAC-SHA-256 under HALLPASS_AUDIT_KEY)', () => {
  let handle: DbHandle;
  let stores: SqliteStores;
  const keys = { current: K1 };

  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle, { key: K1 });
  });

  afterEach(() => {
    handle.close();
  });

  it('seals each event with an HMAC over its stored bytes and key id, and records the key id, never the key', async () => {
    await appendSix(stores);
    const rows = rawRows(handle);
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
    await appendSix(stores);
    expect(verifyAuditChain(handle.db, { keys })).toEqual({
      ok: true,
      events: 6,
      legacy: 0,
      unkeyed: 0,
      keyIds: ['k1'],
      lastSeq: 6,
      head: rawRow(handle, 6).hash,
      accepted: [],
    });
  });

  it('walks the same way a page at a time for the running bot', async () => {
    await appendSix(stores);
    expect(await verifyAuditChainAsync(handle.db, { keys })).toEqual(verifyAuditChain(handle.db, { keys }));
    dropGuards(handle);
    handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_X' WHERE seq = 2").run();
    expect(await verifyAuditChainAsync(handle.db, { keys })).toEqual(verifyAuditChain(handle.db, { keys }));
  });

  it('cannot be verified with another key', async () => {
    await appendSix(stores);
    expect(
      verifyAuditChain(handle.db, { keys: { current: { id: 'k1', secret: randomBytes(32) } } }),
    ).toMatchObject({
      ok: false,
      firstBrokenSeq: 1,
      reason: 'edited',
      message: expect.stringContaining('under audit key "k1"'),
    });
    expect(verifyAuditChain(handle.db, { keys: { current: K2 } })).toMatchObject({
      ok: false,
      firstBrokenSeq: 1,
      reason: 'unknown-key',
    });
  });

  it('refuses to append an unkeyed event after keyed ones', async () => {
    await appendSix(stores);
    const unkeyed = createSqliteStores(handle);
    await expect(
      unkeyed.audit.append({ at: at(9), actor: 'hallpass', type: 'audit.searched' }),
    ).rejects.toThrow(/sealed with key "k1".*HALLPASS_AUDIT_KEY/);
  });

  describe('tampering, each caught given the key or a published head', () => {
    let head: { count: number; hash: string };
    beforeEach(async () => {
      await appendSix(stores);
      head = await stores.audit.head();
      dropGuards(handle);
    });

    it('edit: an event changed in place', () => {
      handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 3").run();
      expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 3,
        reason: 'edited',
      });
      expect(checkHead(handle.db, head)).toEqual({ ok: true }); // the seal is unchanged: the key is what catches it
    });

    it('delete: an event removed from the middle', () => {
      handle.sqlite.prepare('DELETE FROM audit_events WHERE seq = 4').run();
      expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 4,
        reason: 'deleted',
      });
    });

    it('truncate: the tail cut, the counter reset, and hallpass appending again', async () => {
      handle.sqlite.prepare('DELETE FROM audit_events WHERE seq >= 5').run();
      handle.sqlite.prepare("UPDATE sqlite_sequence SET seq = 4 WHERE name = 'audit_events'").run();
      // The shorter log alone fails the published head …
      expect(checkHead(handle.db, head)).toMatchObject({ ok: false, reason: 'shorter' });
      await stores.audit.append({ at: at(9), actor: 'hallpass', type: 'grant.closed', grantId: 'grt_1' });
      await stores.audit.append({ at: at(10), actor: 'hallpass', type: 'audit.exported' });
      // … and once refilled with valid seals (hallpass holds the key), only the head can tell.
      expect(verifyAuditChain(handle.db, { keys })).toMatchObject({ ok: true, events: 6 });
      expect(checkHead(handle.db, head)).toMatchObject({
        ok: false,
        reason: 'different',
        message: expect.stringContaining(`but the published head says ${head.hash}`),
      });
    });

    it('reorder: two events swapped', () => {
      const a = rawRow(handle, 2);
      const b = rawRow(handle, 5);
      const put = handle.sqlite.prepare(
        `UPDATE audit_events SET at = @at, actor = @actor, type = @type, request_id = @request_id, grant_id = @grant_id,
         details = @details, prev_hash = @prev_hash, hash = @hash, key_id = @key_id WHERE seq = @target`,
      );
      put.run({ ...b, target: 2 });
      put.run({ ...a, target: 5 });
      expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 2,
        reason: 'reordered',
      });
    });

    it('recompute with SHA-256, keeping the key id: the first changed event no longer matches its HMAC', () => {
      handle.sqlite.prepare('UPDATE audit_events SET details = ? WHERE seq = 1').run(
        JSON.stringify({
          resourceId: 'prod-db',
          durationMs: 1_800_000,
          source: '198.51.100.9/32',
          reason: 'x',
        }),
      );
      resealWithSha256(handle, 1, true);
      expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 1,
        reason: 'edited',
      });
      expect(checkHead(handle.db, head)).toMatchObject({ ok: false, reason: 'different' });
    });

    it('recompute with SHA-256 from the middle, dropping the key id: a downgrade after keyed events', () => {
      handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 4").run();
      resealWithSha256(handle, 4, false);
      expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 4,
        reason: 'downgraded',
        message: expect.stringContaining('rewritten by someone without the key'),
      });
    });

    it('recompute the whole log with SHA-256: a log that never had a key, which only the published head exposes', () => {
      handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 1").run();
      resealWithSha256(handle, 1, false);
      expect(verifyAuditChain(handle.db, { keys })).toMatchObject({ ok: true, unkeyed: 6, keyIds: [] });
      expect(checkHead(handle.db, head)).toMatchObject({ ok: false, reason: 'different' });
    });

    it('duplicate key in details: refused even where the hash of the parsed value still matches', () => {
      const forged = JSON.stringify({
        resourceId: 'prod-db',
        durationMs: 1_800_000,
        source: '203.0.113.7/32',
      }).replace(/}$/, ',"reason":"forged reason","reason":"real reason"}');
      handle.sqlite.prepare('UPDATE audit_events SET details = ? WHERE seq = 1').run(forged);
      // What SQLite's json_extract shows a reader: the forged value.
      const shown = handle.sqlite
        .prepare("SELECT json_extract(details, '$.reason') AS reason FROM audit_events WHERE seq = 1")
        .get() as { reason: string };
      expect(shown.reason).toBe('forged reason');
      expect(repeatedKey(forged)).toBe('reason');
      expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
        ok: false,
        firstBrokenSeq: 1,
        reason: 'edited',
        message: expect.stringContaining('repeat the key "reason"'),
      });
    });
  });

  it('keeps verifying across a key rotation with the old key kept for verification', async () => {
    await appendSix(stores);
    const rotated = createSqliteStores(handle, { key: K2 });
    await rotated.audit.append({ at: at(10), actor: 'U_REQ', type: 'request.submitted', requestId: 'req_2' });
    const rows = rawRows(handle);
    expect(rows.map((r) => r.key_id)).toEqual(['k1', 'k1', 'k1', 'k1', 'k1', 'k1', 'k2']);
    // The first event under the new key links to the last under the old one.
    expect(rows[6]?.prev_hash).toBe(rows[5]?.hash);
    expect(verifyAuditChain(handle.db, { keys: { current: K2, old: [K1] } })).toMatchObject({
      ok: true,
      events: 7,
      keyIds: ['k1', 'k2'],
    });
    expect(verifyAuditChain(handle.db, { keys: { current: K2 } })).toMatchObject({
      ok: false,
      firstBrokenSeq: 1,
      reason: 'unknown-key',
      message: expect.stringContaining('HALLPASS_AUDIT_OLD_KEYS'),
    });
  });

  it('accepts exactly the break on record, and no other', async () => {
    await appendSix(stores);
    dropGuards(handle);
    handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 3").run();
    const broken = verifyAuditChain(handle.db, { keys });
    if (broken.ok) throw new Error('expected a break');
    await stores.audit.append({
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
    expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
      ok: true,
      events: 7,
      accepted: [{ seq: 3, reason: 'edited', acceptedBySeq: 7, acceptedAt: at(20) }],
    });
    // A later break is a break.
    handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 5").run();
    expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
      ok: false,
      firstBrokenSeq: 5,
      reason: 'edited',
    });
    handle.sqlite.prepare("UPDATE audit_events SET actor = 'hallpass' WHERE seq = 5").run();
    // So is the accepted event changed again (its seal replaced).
    handle.sqlite.prepare(`UPDATE audit_events SET hash = '${'e'.repeat(64)}' WHERE seq = 3`).run();
    expect(verifyAuditChain(handle.db, { keys })).toMatchObject({ ok: false, firstBrokenSeq: 3 });
  });

  it('an acceptance forged without the key is itself a break', async () => {
    await appendSix(stores);
    dropGuards(handle);
    handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 3").run();
    const broken = verifyAuditChain(handle.db, { keys });
    if (broken.ok) throw new Error('expected a break');
    const details = JSON.stringify({
      seq: 3,
      reason: 'edited',
      message: 'x',
      detectedAtSeq: broken.detectedAtSeq,
      storedHash: broken.detectedHash,
    });
    const prev = rawRow(handle, 6).hash ?? '';
    const columns = {
      seq: 7,
      at: at(20).getTime(),
      actor: 'hallpass',
      type: BREAK_ACCEPTED_EVENT,
      requestId: null,
      grantId: null,
      details,
    };
    handle.sqlite
      .prepare(
        'INSERT INTO audit_events (seq, at, actor, type, details, prev_hash, hash, key_id) VALUES (7, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(columns.at, 'hallpass', BREAK_ACCEPTED_EVENT, details, prev, eventHash(prev, columns), 'k1');
    expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
      ok: false,
      firstBrokenSeq: 7,
      reason: 'edited',
    });
  });
});

describe('an unkeyed log that gets a key', () => {
  let handle: DbHandle;
  afterEach(() => handle.close());

  it('chains the first keyed event to the SHA-256 events before it, which then cannot be rewritten either', async () => {
    handle = openDatabase(':memory:');
    const before = createSqliteStores(handle);
    await before.audit.append({
      at: at(0),
      actor: 'U_REQ',
      type: 'request.submitted',
      requestId: 'req_1',
      details: { reason: 'a' },
    });
    await before.audit.append({ at: at(1), actor: 'U_APP', type: 'request.denied', requestId: 'req_1' });
    const after = createSqliteStores(handle, { key: K1 });
    await after.audit.append({ at: at(2), actor: 'U_REQ', type: 'request.submitted', requestId: 'req_2' });
    const rows = rawRows(handle);
    expect(rows.map((r) => r.key_id)).toEqual([null, null, 'k1']);
    expect(rows[2]?.prev_hash).toBe(rows[1]?.hash);
    const keys = { current: K1 };
    expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
      ok: true,
      events: 3,
      unkeyed: 2,
      keyIds: ['k1'],
    });
    // Rewriting the unkeyed events and resealing them with SHA-256 leaves the keyed one linking to the original.
    dropGuards(handle);
    handle.sqlite.prepare("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 1").run();
    resealWithSha256(handle, 1, false);
    handle.sqlite
      .prepare('UPDATE audit_events SET prev_hash = ?, hash = ?, key_id = ? WHERE seq = 3')
      .run(rows[2]?.prev_hash, rows[2]?.hash, 'k1');
    expect(verifyAuditChain(handle.db, { keys })).toMatchObject({
      ok: false,
      firstBrokenSeq: 2,
      reason: 'edited',
      message: expect.stringContaining('changed and resealed'),
    });
  });

  it('an unkeyed event with a duplicate key was accepted before; now it is named', async () => {
    handle = openDatabase(':memory:');
    const stores = createSqliteStores(handle);
    await stores.audit.append({
      at: at(0),
      actor: 'U_REQ',
      type: 'request.submitted',
      requestId: 'req_1',
      details: { reason: 'real' },
    });
    dropGuards(handle);
    const forged = '{"reason":"forged","reason":"real"}';
    handle.sqlite.prepare('UPDATE audit_events SET details = ? WHERE seq = 1').run(forged);
    // The SHA-256 seal of the parsed value (last key wins) still matches: the old walk said intact.
    const row = rawRow(handle, 1);
    expect(eventHash(GENESIS_HASH, columnsOf(row))).toBe(row.hash);
    expect(verifyAuditChain(handle.db)).toMatchObject({ ok: false, firstBrokenSeq: 1, reason: 'edited' });
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

  it('holds for an untouched log, and names a missing event', async () => {
    const handle = openDatabase(':memory:');
    try {
      const stores = createSqliteStores(handle, { key: K1 });
      await appendSix(stores);
      const head = await stores.audit.head();
      expect(head).toEqual({ count: 6, hash: rawRow(handle, 6).hash, keyId: 'k1' });
      await stores.audit.append({ at: at(9), actor: 'hallpass', type: 'audit.head_published' });
      expect(checkHead(handle.db, head)).toEqual({ ok: true });
      expect(checkHead(handle.db, { count: 9, hash: head.hash })).toMatchObject({
        ok: false,
        reason: 'shorter',
        message: 'the log ends at event 7, but the published head names event 9: events 8..9 were removed.',
      });
    } finally {
      handle.close();
    }
  });
});

describe('the running bot reading the record while it works', () => {
  it('sees a request made during the walk on both sides, never as a table row the chain lacks', async () => {
    const handle = openDatabase(':memory:');
    try {
      const stores = createSqliteStores(handle, { key: K1 });
      // As submit-request writes it: the row and its event in one transaction.
      const submit = async (): Promise<void> => {
        const r = buildNewRequest();
        await stores.uow.tx(async () => {
          await stores.requests.insert(r);
          await stores.audit.append({
            at: r.createdAt,
            actor: r.requesterId,
            type: 'request.submitted',
            requestId: r.id,
            details: {
              resourceId: r.resourceId,
              durationMs: r.durationMs,
              source: r.source?.cidr,
              reason: r.reason,
              breakGlass: false,
            },
          });
        });
      };
      await submit();
      const reading = createSqliteAuditRecordSource(handle.db, { current: K1 }).read();
      // The walk has read its first page and yielded to the event loop: the bot goes on working.
      await submit();
      const record = await reading;
      expect(record.mismatches).toEqual([]);
      expect(record.rows).toHaveLength(2);
      expect(record.chain).toMatchObject({ ok: true, events: 2 });
    } finally {
      handle.close();
    }
  });
});
