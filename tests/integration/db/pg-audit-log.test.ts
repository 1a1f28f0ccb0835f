import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { createSqliteAuditLog, GENESIS_HASH, verifyAuditChain } from '../../../src/adapters/db/audit-log';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { openPostgres, type PgHandle } from '../../../src/adapters/db/open-pg';
import {
  createPostgresAuditLog,
  type PgTx,
  verifyPostgresAuditChain,
} from '../../../src/adapters/db/pg/audit-log';
import { readPostgresAuditRecord } from '../../../src/adapters/db/pg/audit-record';
import { requests } from '../../../src/adapters/db/pg-schema';
import type { AuditKey } from '../../../src/app/audit-ports';
import type { AuditEvent, AuditLog } from '../../../src/app/ports';
import { emptyPostgres, submittedEvent } from '../../support/audit-engines';
import { buildNewRequest, T0 } from '../../support/builders';
import { copySqliteToPostgres } from '../../support/copy-to-postgres';
import { describeWithPostgres, withTestDatabase } from '../../support/postgres';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
const K1: AuditKey = { id: 'k1', secret: randomBytes(32) };

/**
 * What only PostgreSQL has to show: several replicas appending at once, appends inside the caller's
 * transaction, one snapshot per reading, and seals equal to SQLite's for the same events.
 */

/** A unit of work as the PostgreSQL one keeps its transaction (AsyncLocalStorage), over one pool. */
function replica(pg: PgHandle, key?: AuditKey) {
  const current = new AsyncLocalStorage<PgTx>();
  const db = () => current.getStore() ?? pg.db;
  const tx = <T>(fn: () => Promise<T>): Promise<T> => pg.db.transaction((t) => current.run(t, fn));
  return { audit: createPostgresAuditLog(db, { key }), tx, db };
}

/** A varied run of events: details with nesting, quotes and non-ASCII, ids present and absent. */
const sequence = (n: number): AuditEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    at: at(i * 1_000 + (i % 7)),
    actor: i % 3 === 0 ? 'hallpass' : `U_${i % 5}`,
    type: i % 2 === 0 ? 'request.submitted' : 'grant.opened',
    ...(i % 4 === 0 ? {} : { requestId: `req_${i}` }),
    ...(i % 3 === 1 ? { grantId: `grt_${i}` } : {}),
    ...(i % 5 === 0
      ? {}
      : { details: { reason: `why "${i}" — ünïcode`, n: i, nested: { z: [i, null, true], a: 'x' } } }),
  })) as AuditEvent[];

describeWithPostgres('the audit log on PostgreSQL', () => {
  let a: PgHandle;
  let b: PgHandle;
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });
  const database = withTestDatabase();
  beforeAll(async () => {
    // Two replicas: two pools on one database.
    a = await openPostgres(database.url, { pool: { max: 6 } });
    b = await openPostgres(database.url, { pool: { max: 6 } });
  });
  beforeEach(async () => {
    await emptyPostgres(a);
  });

  it('keeps one intact chain, in order, when two replicas append many events at once', async () => {
    const logs = [replica(a, K1).audit, replica(b, K1).audit];
    const events = sequence(120);
    await Promise.all(events.map((e, i) => logs[i % 2]?.append(e)));
    expect(await verifyPostgresAuditChain(a.db, { keys: { current: K1 } })).toMatchObject({
      ok: true,
      events: 120,
      keyIds: ['k1'],
    });
    const rows = (await a.pool.query('SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq')).rows as {
      seq: string;
      prev_hash: string;
      hash: string;
    }[];
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    rows.forEach((r, i) => {
      expect(r.prev_hash).toBe(i === 0 ? GENESIS_HASH : rows[i - 1]?.hash);
    });
    // Every event is there once.
    expect(new Set((await logs[0]?.list())?.map((e) => JSON.stringify(e))).size).toBe(120);
  });

  it('appends inside the caller’s transaction: committed with it, rolled back with it, the lock held until it ends', async () => {
    const first = replica(a);
    const other = replica(b);
    await first.audit.append({ at: at(0), actor: 'U_1', type: 'request.submitted' });
    await expect(
      first.tx(async () => {
        await first.audit.append({ at: at(1), actor: 'U_1', type: 'request.cancelled' });
        throw new Error('the use case failed');
      }),
    ).rejects.toThrow('the use case failed');
    expect(await first.audit.list()).toHaveLength(1);

    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let appended: () => void = () => {};
    const inside = new Promise<void>((resolve) => {
      appended = resolve;
    });
    const transaction = first.tx(async () => {
      await first.audit.append({ at: at(2), actor: 'U_1', type: 'request.submitted' });
      appended();
      await held;
    });
    await inside;
    // Another replica's append waits for that transaction …
    let otherDone = false;
    const otherAppend = other.audit
      .append({ at: at(3), actor: 'U_2', type: 'request.submitted' })
      .then(() => {
        otherDone = true;
      });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(otherDone).toBe(false);
    // … and goes on, after it, once it commits.
    release();
    await transaction;
    await otherAppend;
    expect((await first.audit.list()).map((e) => e.actor)).toEqual(['U_1', 'U_1', 'U_2']);
    expect(await verifyPostgresAuditChain(a.db)).toMatchObject({ ok: true, events: 3 });
  });

  it('seals the same events exactly as SQLite does: the same head, keyed or not', async () => {
    const events = sequence(40);
    for (const key of [undefined, K1]) {
      await emptyPostgres(a);
      const sqlite = openDatabase(':memory:');
      try {
        const lite = createSqliteAuditLog(sqlite.db, { key });
        const pg: AuditLog = replica(a, key).audit;
        for (const e of events) {
          await lite.append(e);
          await pg.append(e);
        }
        const head = await lite.head();
        expect(await pg.head()).toEqual(head);
        expect(head.count).toBe(40);
        expect(await pg.list()).toEqual(await lite.list());
        const keys = key === undefined ? undefined : { current: key };
        expect(await verifyPostgresAuditChain(a.db, { keys })).toEqual(verifyAuditChain(sqlite.db, { keys }));
      } finally {
        sqlite.close();
      }
    }
  });

  it('verifies a log copied from SQLite and extends it there, with the chain unbroken', async () => {
    const sqlite = openDatabase(':memory:');
    try {
      const lite = createSqliteAuditLog(sqlite.db, { key: K1 });
      for (const e of sequence(25)) await lite.append(e);
      await copySqliteToPostgres(sqlite.sqlite, a.pool);
      const keys = { current: K1 };
      expect(await verifyPostgresAuditChain(a.db, { keys })).toEqual(verifyAuditChain(sqlite.db, { keys }));
      const pg = replica(a, K1).audit;
      await pg.append({ at: at(99), actor: 'hallpass', type: 'audit.exported' });
      await lite.append({ at: at(99), actor: 'hallpass', type: 'audit.exported' });
      expect(await pg.head()).toEqual(await lite.head());
      expect(await verifyPostgresAuditChain(a.db, { keys })).toMatchObject({ ok: true, events: 26 });
    } finally {
      sqlite.close();
    }
  });

  it('reads the record in one snapshot while another replica records a request', async () => {
    const writer = replica(b);
    const submit = async (): Promise<void> => {
      const r = buildNewRequest();
      await writer.tx(async () => {
        await writer
          .db()
          .insert(requests)
          .values({
            id: r.id,
            resourceId: r.resourceId,
            requesterId: r.requesterId,
            durationMs: r.durationMs,
            sourceCidr: r.source?.cidr ?? null,
            sourceFamily: r.source?.family ?? null,
            sourcePrefix: r.source?.prefix ?? null,
            reason: r.reason,
            state: 'pending',
            createdAt: r.createdAt.getTime(),
            approvalDeadline: r.approvalDeadline.getTime(),
          });
        await writer.audit.append(submittedEvent(r));
      });
    };
    // More events than one page of the walk, so the reading takes a while (sealed on SQLite and copied: quicker).
    const sqlite = openDatabase(':memory:');
    try {
      const lite = createSqliteAuditLog(sqlite.db);
      for (let i = 0; i < 1_500; i++)
        await lite.append({ at: at(i), actor: 'hallpass', type: 'audit.searched' });
      await copySqliteToPostgres(sqlite.sqlite, a.pool);
    } finally {
      sqlite.close();
    }
    await submit();
    const readings = [readPostgresAuditRecord(a.db), readPostgresAuditRecord(a.db)];
    await Promise.all([submit(), submit()]);
    for (const record of await Promise.all(readings)) {
      // Each request is on both sides or on neither.
      expect(record.mismatches).toEqual([]);
      expect(record.chain).toMatchObject({ ok: true, events: 1_500 + record.rows.length });
    }
    expect((await readPostgresAuditRecord(a.db)).rows).toHaveLength(3);
  });
});
