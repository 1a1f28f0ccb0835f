import { randomBytes } from 'node:crypto';
import { type AuditChainReport, verifyAuditChain } from '../../../src/adapters/db/audit-log';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { openPostgres, type PgHandle } from '../../../src/adapters/db/open-pg';
import { verifyPostgresAuditChain } from '../../../src/adapters/db/pg/audit-log';
import { createPostgresStores } from '../../../src/adapters/db/pg/stores';
import { createSqliteStores } from '../../../src/adapters/db/stores';
import type { AuditKey } from '../../../src/app/audit-ports';
import type { AuditEvent, DueQuery, RuleHold } from '../../../src/app/ports';
import { buildNewGrant, buildNewRequest, buildSgResource, T0 } from '../../support/builders';
import { withAuditTriggersOff } from '../../support/copy-to-postgres';
import { createMemoryStores, type Stores } from '../../support/memory-stores';
import {
  createTestDatabase,
  describeWithPostgres,
  dropTestDatabase,
  postgresAvailable,
  type TestDatabase,
  withTestDatabase,
} from '../../support/postgres';

const MIN = 60_000;
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const FAR = at(1_000 * 24 * 60 * MIN);
const ids = (items: readonly { id: string }[]): string[] => items.map((x) => x.id);
/** Ids in code-unit order, to compare what a batch returns in no particular order. */
const sortedIds = (items: readonly { id: string }[]): string[] => ids(items).sort();
const KEY: AuditKey = { id: 'k1', secret: randomBytes(32) };

/** `n` audit events of every shape (with and without ids and details; a Date inside details), from `from`. */
const auditEvents = (n: number, from = 0): AuditEvent[] =>
  Array.from({ length: n }, (_, k): AuditEvent => {
    const i = from + k;
    return {
      at: at(i),
      actor: i % 2 === 0 ? 'hallpass' : 'U_A',
      type: i % 3 === 0 ? 'grant.closed' : 'grant.closing',
      ...(i % 4 === 3 ? {} : { requestId: `req_${i}` }),
      ...(i % 2 === 0 ? { grantId: `grt_${i}`, details: { n: i, expiresAt: at(MIN + i) } } : {}),
    };
  });

/** An event as the log reads it back: its details stored as JSON (a Date inside becomes its ISO string). */
const asStored = (e: AuditEvent): AuditEvent =>
  e.details === undefined ? e : { ...e, details: JSON.parse(JSON.stringify(e.details)) };

/** Stores open on one database, for one test. */
type Opened = {
  readonly stores: Stores;
  /** Frees what they hold. */
  readonly close: () => Promise<void> | void;
  /** More stores on the same database, sealing audit events under `key` (absent: no keyed audit log). */
  readonly sameDatabase?: (key: AuditKey | undefined) => Stores;
  /** The chain walk over the database's audit log, knowing `KEY` (absent: the memory twin keeps no chain to walk). */
  readonly verify?: () => Promise<AuditChainReport>;
};

/** One implementation of the store ports. */
type Implementation = {
  /** False when it cannot run here (no PostgreSQL server): skipped, as the other PostgreSQL suites are. */
  readonly available: boolean;
  /** Whether its audit log seals with a key (the memory twin's is the unkeyed chain only). */
  readonly keyed: boolean;
  /** Registers what the whole suite shares (a database), if anything. */
  readonly setup?: () => void;
  /**
   * Fresh, empty stores for one test, sealing audit events under `key` when given. On PostgreSQL the
   * suite shares one database: opening again empties it under the stores opened before.
   */
  readonly open: (key?: AuditKey) => Promise<Opened>;
};

/**
 * PostgreSQL: one database for the suite (made and migrated once, dropped afterwards), emptied before
 * each test — one per test would cost most of a second each.
 */
function postgresImplementation(): Implementation {
  let db: TestDatabase | undefined;
  let handle: PgHandle | undefined;
  return {
    available: postgresAvailable(),
    keyed: true,
    setup: () => {
      beforeAll(async () => {
        db = await createTestDatabase();
        handle = await openPostgres(db.url);
      });
      afterAll(async () => {
        await handle?.close();
        if (db !== undefined) await dropTestDatabase(db);
      });
    },
    open: async (key) => {
      const h = handle;
      if (h === undefined) throw new Error('the suite’s database is not open');
      // The audit log refuses TRUNCATE as it refuses DELETE: its triggers are off for this one statement.
      await withAuditTriggersOff(h.pool, async (client) => {
        await client.query(
          'TRUNCATE requests, approvals, grants, role_sessions, rule_holds, backstops, connection_cuts, outbox, audit_events, api_requests, api_tokens RESTART IDENTITY',
        );
      });
      return {
        stores: createPostgresStores(h, { key }),
        close: () => {},
        sameDatabase: (other) => createPostgresStores(h, { key: other }),
        verify: () => verifyPostgresAuditChain(h.db, { keys: { current: KEY } }),
      };
    },
  };
}

/** Each implementation of the store ports. */
const IMPLEMENTATIONS: [string, Implementation][] = [
  [
    'sqlite',
    {
      available: true,
      keyed: true,
      open: async (key) => {
        const handle = openDatabase(':memory:');
        return {
          stores: createSqliteStores(handle, { key }),
          close: () => handle.close(),
          sameDatabase: (other) => createSqliteStores(handle, { key: other }),
          verify: async () => verifyAuditChain(handle.db, { keys: { current: KEY } }),
        };
      },
    },
  ],
  [
    'memory',
    {
      available: true,
      keyed: false,
      open: async (key) => {
        if (key !== undefined) throw new Error('the memory twin’s audit log has no key');
        return { stores: createMemoryStores(), close: () => {} };
      },
    },
  ],
  ['postgres', postgresImplementation()],
];

/**
 * The invariant `DueQuery` exists for: `next()` is when `due` first returns something, so a scheduler
 * that wakes at `next()` always finds work, and one that finds none may sleep.
 */
async function expectDueAndNextAgree<T>(query: DueQuery<T>): Promise<void> {
  const next = await query.next();
  if (next === undefined) {
    expect(await query.due(FAR)).toEqual([]);
    return;
  }
  expect((await query.due(next)).length).toBeGreaterThan(0);
  expect(await query.due(new Date(next.getTime() - 1))).toEqual([]);
}

function conformance(implementation: Implementation): void {
  let stores: Stores;
  let opened: Opened[] = [];
  implementation.setup?.();
  /** Fresh stores on a fresh database (on PostgreSQL: the suite's, emptied), closed after the test. */
  const fresh = async (key?: AuditKey): Promise<Opened> => {
    const o = await implementation.open(key);
    opened.push(o);
    return o;
  };
  beforeEach(async () => {
    ({ stores } = await fresh());
  });
  afterEach(async () => {
    for (const o of opened) await o.close();
    opened = [];
  });

  const request = (overrides: Parameters<typeof buildNewRequest>[0] = {}) =>
    stores.requests.insert(buildNewRequest(overrides));
  /** A grant for a fresh request, moved to `state` (30 minutes from T0 unless overridden). */
  const grant = async (
    state: 'opening' | 'active' | 'closing' | 'closed' | 'failed' = 'active',
    overrides: Parameters<typeof buildNewGrant>[0] = {},
  ) => {
    const r = await request();
    const g = await stores.grants.insert(buildNewGrant({ requestId: r.id, ...overrides }));
    const path = {
      opening: [],
      active: ['active'],
      closing: ['closing'],
      closed: ['closed'],
      failed: ['failed'],
    }[state] as ('active' | 'closing' | 'closed' | 'failed')[];
    for (const to of path) await stores.grants.move(g.id, ['opening'], to);
    return (await stores.grants.get(g.id)) ?? g;
  };
  const hold = async (grantId: string, overrides: Partial<RuleHold> = {}): Promise<RuleHold> => {
    const h: RuleHold = {
      grantId,
      ruleId: 'sgr-1',
      region: 'us-east-1',
      groupId: 'sg-1',
      protocol: 'tcp',
      fromPort: 5432,
      toPort: 5432,
      cidr: '203.0.113.7/32',
      managed: true,
      ...overrides,
    };
    await stores.rules.hold(h);
    return h;
  };

  describe('requests', () => {
    it('inserts a request as pending with defaults, reads it back, and refuses a second with the same id', async () => {
      const resource = buildSgResource();
      const r = await request({ id: 'req_one', resourceAtRequest: resource });
      expect(r).toMatchObject({ id: 'req_one', state: 'pending', kind: 'access', breakGlass: false });
      expect(await stores.requests.get('req_one')).toEqual(r);
      expect((await stores.requests.get('req_one'))?.resourceAtRequest).toEqual(resource);
      expect(await stores.requests.get('req_none')).toBeUndefined();
      await expect(request({ id: 'req_one' })).rejects.toThrow();
    });

    it('reads a batch of grants, skipping unknown ids and repeats (grants.getAll)', async () => {
      const a = await grant('active');
      const b = await grant('closed');
      await grant('active');
      const all = await stores.grants.getAll([b.id, 'grt_none', a.id, b.id]);
      expect(sortedIds(all)).toEqual([a.id, b.id].sort());
      for (const g of all) expect(g).toEqual(await stores.grants.get(g.id));
      expect(await stores.grants.getAll([])).toEqual([]);
    });

    it('reads a batch of requests, skipping unknown ids and repeats', async () => {
      const a = await request();
      const b = await request();
      await request();
      const all = await stores.requests.getAll([b.id, 'req_none', a.id, b.id]);
      expect(sortedIds(all)).toEqual([a.id, b.id].sort());
      for (const r of all) expect(r).toEqual(await stores.requests.get(r.id));
      expect(await stores.requests.getAll([])).toEqual([]);
      expect(await stores.requests.getAll(['req_none'])).toEqual([]);
    });

    it('attaches the approval message, and throws for an unknown request', async () => {
      const r = await request();
      await stores.requests.attachMessage(r.id, { channel: 'C1', ts: '1.2' });
      expect((await stores.requests.get(r.id))?.message).toEqual({ channel: 'C1', ts: '1.2' });
      await expect(stores.requests.attachMessage('req_none', { channel: 'C1', ts: '1' })).rejects.toThrow();
    });

    it('counts each approver once, in order, and refuses a vote on a decided request', async () => {
      const r = await request();
      expect(await stores.requests.addApproval(r.id, 'U_A', at(1))).toMatchObject({ ok: true });
      const second = await stores.requests.addApproval(r.id, 'U_B', at(2));
      expect(second.ok && second.value.map((a) => a.approverId)).toEqual(['U_A', 'U_B']);
      expect(await stores.requests.addApproval(r.id, 'U_A', at(3))).toEqual({
        ok: false,
        error: 'ALREADY_APPROVED',
        detail: { approverId: 'U_A' },
      });
      await stores.requests.decide(r.id, 'approved', 'U_B', at(4));
      expect(await stores.requests.addApproval(r.id, 'U_C', at(5))).toEqual({
        ok: false,
        error: 'NOT_PENDING',
        detail: { state: 'approved' },
      });
      expect(await stores.requests.approvals(r.id)).toEqual([
        { requestId: r.id, approverId: 'U_A', at: at(1) },
        { requestId: r.id, approverId: 'U_B', at: at(2) },
      ]);
      await expect(stores.requests.addApproval('req_none', 'U_A', at(1))).rejects.toThrow();
    });

    it('withdraws a vote only while pending, and the approver may vote again (last in order)', async () => {
      const r = await request();
      await stores.requests.addApproval(r.id, 'U_A', at(1));
      await stores.requests.addApproval(r.id, 'U_B', at(2));
      await stores.requests.withdrawApproval(r.id, 'U_A');
      expect((await stores.requests.approvals(r.id)).map((a) => a.approverId)).toEqual(['U_B']);
      await stores.requests.addApproval(r.id, 'U_A', at(3));
      expect((await stores.requests.approvals(r.id)).map((a) => a.approverId)).toEqual(['U_B', 'U_A']);
      await stores.requests.decide(r.id, 'approved', 'U_A', at(4));
      await stores.requests.withdrawApproval(r.id, 'U_B');
      expect(await stores.requests.approvals(r.id)).toHaveLength(2);
    });

    it('decides only a pending request (compare-and-set), keeping the first decision', async () => {
      const r = await request();
      const first = await stores.requests.decide(r.id, 'denied', 'U_A', at(1), 'not now');
      expect(first).toMatchObject({
        ok: true,
        value: { state: 'denied', decidedBy: 'U_A', decidedAt: at(1), note: 'not now' },
      });
      expect(await stores.requests.decide(r.id, 'approved', 'U_B', at(2))).toEqual({
        ok: false,
        error: 'NOT_PENDING',
        detail: { state: 'denied' },
      });
      expect(await stores.requests.get(r.id)).toMatchObject({ state: 'denied', decidedBy: 'U_A' });
      await expect(stores.requests.decide('req_none', 'denied', 'U_A', at(1))).rejects.toThrow();
    });

    it('fails a pending or approved request, keeps the first failure, and refuses a denied one', async () => {
      const approved = await request();
      await stores.requests.decide(approved.id, 'approved', 'U_A', at(1));
      expect(await stores.requests.markFailed(approved.id, 'AWS said no', at(2))).toMatchObject({
        state: 'failed',
        note: 'AWS said no',
        decidedBy: 'U_A',
      });
      expect((await stores.requests.markFailed(approved.id, 'again', at(3))).note).toBe('AWS said no');
      const denied = await request();
      await stores.requests.decide(denied.id, 'denied', 'U_A', at(1));
      await expect(stores.requests.markFailed(denied.id, 'no', at(2))).rejects.toThrow();
      expect((await stores.requests.get(denied.id))?.state).toBe('denied');
    });

    it('lists pending requests oldest first, optionally for one requester', async () => {
      const late = await request({ createdAt: at(2 * MIN) });
      const early = await request({ createdAt: at(MIN), requesterId: 'U_OTHER' });
      await stores.requests.decide((await request({ createdAt: at(0) })).id, 'denied', 'U_A', at(3));
      expect(ids(await stores.requests.listPending())).toEqual([early.id, late.id]);
      expect(ids(await stores.requests.listPending('U_OTHER'))).toEqual([early.id]);
    });

    it('times out pending requests at their deadline: due and next agree, decided ones never', async () => {
      expect(await stores.requests.timeouts.next()).toBeUndefined();
      const a = await request({ createdAt: T0, approvalDeadline: at(30 * MIN) });
      const b = await request({ createdAt: T0, approvalDeadline: at(10 * MIN) });
      const decided = await request({ createdAt: T0, approvalDeadline: at(5 * MIN) });
      await stores.requests.decide(decided.id, 'approved', 'U_A', at(1));
      expect(await stores.requests.timeouts.next()).toEqual(at(10 * MIN));
      await expectDueAndNextAgree(stores.requests.timeouts);
      expect(ids(await stores.requests.timeouts.due(at(30 * MIN)))).toEqual([b.id, a.id]);
    });

    it('reminds at half the approval time (rounded down to the millisecond), once', async () => {
      // 30 minutes and 1 ms: SQLite's integer division drops the half millisecond.
      const r = await request({ createdAt: T0, approvalDeadline: at(30 * MIN + 1) });
      expect(await stores.requests.reminders.next()).toEqual(at(15 * MIN));
      await expectDueAndNextAgree(stores.requests.reminders);
      await stores.requests.markReminded(r.id, at(15 * MIN));
      expect((await stores.requests.get(r.id))?.remindedAt).toEqual(at(15 * MIN));
      expect(await stores.requests.reminders.next()).toBeUndefined();
      await expectDueAndNextAgree(stores.requests.reminders);
    });

    it('finds the pending extension of a grant, and not once it is decided', async () => {
      const g = await grant('active');
      const ext = await request({ kind: 'extension', extendsGrantId: g.id });
      expect((await stores.requests.pendingExtension(g.id))?.id).toBe(ext.id);
      await stores.requests.decide(ext.id, 'denied', 'U_A', at(1));
      expect(await stores.requests.pendingExtension(g.id)).toBeUndefined();
    });
  });

  describe('grants', () => {
    it('inserts one grant per existing request, as opening, and finds it by id and by request', async () => {
      const r = await request();
      const g = await stores.grants.insert(buildNewGrant({ requestId: r.id }));
      expect(g).toMatchObject({ state: 'opening', breakGlass: false, closeAttempts: 0 });
      expect(await stores.grants.get(g.id)).toEqual(g);
      expect(await stores.grants.byRequest(r.id)).toEqual(g);
      await expect(stores.grants.insert(buildNewGrant({ requestId: r.id }))).rejects.toThrow();
      await expect(stores.grants.insert(buildNewGrant({ requestId: 'req_none' }))).rejects.toThrow();
      expect(await stores.grants.get('grt_none')).toBeUndefined();
    });

    it('moves only from an expected state (compare-and-set), setting the end fields', async () => {
      const g = await grant('active');
      const moved = await stores.grants.move(g.id, ['active'], 'closing', {
        endReason: 'revoked',
        endedBy: 'U_A',
      });
      expect(moved).toMatchObject({
        ok: true,
        value: { state: 'closing', endReason: 'revoked', endedBy: 'U_A' },
      });
      expect(await stores.grants.move(g.id, ['active'], 'closing')).toEqual({
        ok: false,
        error: 'STATE_CHANGED',
        detail: { state: 'closing' },
      });
      expect(await stores.grants.move(g.id, [], 'closed')).toMatchObject({
        ok: false,
        error: 'STATE_CHANGED',
      });
      expect(await stores.grants.move(g.id, ['closing'], 'closed', { endedAt: at(5) })).toMatchObject({
        ok: true,
        value: { state: 'closed', endedAt: at(5), endReason: 'revoked' },
      });
      await expect(stores.grants.move('grt_none', ['active'], 'closing')).rejects.toThrow();
    });

    it('moves a batch only from the expected states (moveAll), returning exactly the moved grants', async () => {
      const a = await grant('active');
      const b = await grant('opening');
      const c = await grant('closing');
      await stores.grants.closeFailed(c.id, at(MIN));
      const closed = await grant('closed');
      const failed = await grant('failed');
      const untouched = [closed, failed, await grant('active')];
      const patch = { endedAt: at(5), endReason: 'expired' as const, endedBy: 'hallpass' };

      const moved = await stores.grants.moveAll(
        [c.id, a.id, 'grt_none', b.id, closed.id, failed.id, a.id],
        ['opening', 'active', 'closing'],
        'closed',
        patch,
      );
      expect(sortedIds(moved)).toEqual([a.id, b.id, c.id].sort());
      for (const g of moved) {
        expect(g).toMatchObject({ state: 'closed', ...patch });
        expect(g.retryAt).toBeUndefined();
        expect(await stores.grants.get(g.id)).toEqual(g);
      }
      // What the move keeps: the close attempts counted so far.
      expect(moved.find((g) => g.id === c.id)?.closeAttempts).toBe(1);
      for (const g of untouched) expect(await stores.grants.get(g.id)).toEqual(g);

      // Compare-and-set: a second batch finds none of them where it expects them.
      expect(await stores.grants.moveAll([a.id, b.id, c.id], ['active', 'closing'], 'failed')).toEqual([]);
      expect(await stores.grants.moveAll([untouched[2]?.id ?? ''], [], 'closed')).toEqual([]);
      expect(await stores.grants.moveAll([], ['active'], 'closed')).toEqual([]);
      expect((await stores.grants.get(untouched[2]?.id ?? ''))?.state).toBe('active');
    });

    it('moves a batch without a patch as `move` does: end fields kept, a failed close started afresh', async () => {
      const g = await grant('active');
      await stores.grants.move(g.id, ['active'], 'closing', { endReason: 'revoked', endedBy: 'U_A' });
      await stores.grants.closeFailed(g.id, at(MIN));
      const [moved] = await stores.grants.moveAll([g.id], ['closing'], 'closing');
      expect(moved).toMatchObject({
        state: 'closing',
        endReason: 'revoked',
        endedBy: 'U_A',
        closeAttempts: 1,
      });
      expect(moved?.retryAt).toBeUndefined();
      expect(moved?.endedAt).toBeUndefined();
      expect(ids(await stores.grants.closes.due(T0))).toEqual([g.id]);
    });

    it('lists grants in the given states, earliest end first, optionally for one requester', async () => {
      const late = await grant('active', { expiresAt: at(50 * MIN) });
      const early = await grant('opening', { expiresAt: at(20 * MIN), requesterId: 'U_OTHER' });
      await grant('closed');
      expect(ids(await stores.grants.list(['opening', 'active']))).toEqual([early.id, late.id]);
      expect(ids(await stores.grants.list(['opening', 'active'], 'U_OTHER'))).toEqual([early.id]);
      expect(await stores.grants.list([])).toEqual([]);
    });

    it('makes active and opening grants due at their end, and never closed or failed ones', async () => {
      const active = await grant('active', { expiresAt: at(30 * MIN) });
      const opening = await grant('opening', { expiresAt: at(20 * MIN) });
      await grant('closed', { expiresAt: at(MIN) });
      await grant('failed', { expiresAt: at(MIN) });
      expect(await stores.grants.closes.next()).toEqual(at(20 * MIN));
      await expectDueAndNextAgree(stores.grants.closes);
      expect(ids(await stores.grants.closes.due(at(30 * MIN)))).toEqual([opening.id, active.id]);
    });

    it('makes a closing grant due at once, and after a failed attempt at its retry time', async () => {
      const g = await grant('active', { expiresAt: at(30 * MIN) });
      await stores.grants.move(g.id, ['active'], 'closing');
      // Due at once: "now" is whenever the scheduler looks, so next() lies in the past.
      expect(ids(await stores.grants.closes.due(T0))).toEqual([g.id]);
      expect((await stores.grants.closes.next())?.getTime()).toBeLessThanOrEqual(T0.getTime());
      await expectDueAndNextAgree(stores.grants.closes);

      const failed = await stores.grants.closeFailed(g.id, at(MIN));
      expect(failed).toMatchObject({ state: 'closing', closeAttempts: 1, retryAt: at(MIN) });
      expect(await stores.grants.closes.next()).toEqual(at(MIN));
      expect(await stores.grants.closes.due(at(MIN - 1))).toEqual([]);
      expect(ids(await stores.grants.closes.due(at(MIN)))).toEqual([g.id]);
      await expectDueAndNextAgree(stores.grants.closes);
      expect((await stores.grants.closeFailed(g.id, at(2 * MIN)))?.closeAttempts).toBe(2);

      // A fresh close of the same grant (closing → closing) starts again at once.
      const restarted = await stores.grants.move(g.id, ['closing'], 'closing');
      expect(restarted.ok && restarted.value.retryAt).toBeUndefined();
      expect(ids(await stores.grants.closes.due(T0))).toEqual([g.id]);
      await stores.grants.move(g.id, ['closing'], 'closed');
      expect(await stores.grants.closes.next()).toBeUndefined();
      expect(await stores.grants.closeFailed(g.id, at(3 * MIN))).toBeUndefined();
    });

    it('warns only active, unwarned grants at least twice the warning time long, warnBefore ahead', async () => {
      const long = await grant('active', { startsAt: T0, expiresAt: at(30 * MIN) });
      const exactlyTwice = await grant('active', { startsAt: T0, expiresAt: at(10 * MIN) });
      await grant('active', { startsAt: T0, expiresAt: at(10 * MIN - 1) });
      await grant('opening', { startsAt: T0, expiresAt: at(30 * MIN) });
      const warnings = stores.grants.warnings(5 * MIN);
      expect(await warnings.next()).toEqual(at(5 * MIN));
      await expectDueAndNextAgree(warnings);
      expect(ids(await warnings.due(at(25 * MIN)))).toEqual([exactlyTwice.id, long.id]);
      await stores.grants.markWarned(exactlyTwice.id, at(5 * MIN));
      expect(await warnings.next()).toEqual(at(25 * MIN));
      expect(await stores.grants.warnings(0).next()).toBeUndefined();
      expect(await stores.grants.warnings(0).due(FAR)).toEqual([]);
    });

    it('extends only an active grant, and its new end is warned again', async () => {
      const g = await grant('active', { startsAt: T0, expiresAt: at(30 * MIN) });
      await stores.grants.markWarned(g.id, at(25 * MIN));
      const extended = await stores.grants.extend(g.id, at(60 * MIN));
      expect(extended).toMatchObject({ ok: true, value: { expiresAt: at(60 * MIN) } });
      expect(extended.ok && extended.value.warnedAt).toBeUndefined();
      expect(await stores.grants.warnings(5 * MIN).next()).toEqual(at(55 * MIN));
      await stores.grants.move(g.id, ['active'], 'closing');
      expect(await stores.grants.extend(g.id, at(90 * MIN))).toEqual({ ok: false, error: 'STATE_CHANGED' });
    });

    it('lists break-glass grants until reviewed, and refuses a second review', async () => {
      const bg = await grant('active', { breakGlass: true, startsAt: at(MIN) });
      const older = await grant('closed', { breakGlass: true, startsAt: T0 });
      const normal = await grant('active');
      expect(ids(await stores.grants.unreviewedBreakGlass())).toEqual([older.id, bg.id]);
      expect(await stores.grants.markReviewed(bg.id, 'U_A', at(2))).toMatchObject({
        ok: true,
        value: { reviewedBy: 'U_A', reviewedAt: at(2) },
      });
      expect(await stores.grants.markReviewed(bg.id, 'U_B', at(3))).toEqual({
        ok: false,
        error: 'ALREADY_REVIEWED',
      });
      expect(await stores.grants.markReviewed(normal.id, 'U_B', at(3))).toEqual({
        ok: false,
        error: 'ALREADY_REVIEWED',
      });
      expect(ids(await stores.grants.unreviewedBreakGlass())).toEqual([older.id]);
    });
  });

  describe('rules', () => {
    it('keeps the holds of a grant, once each, with the role that reached the group', async () => {
      const g = await grant('active');
      const a = await hold(g.id, { ruleId: 'sgr-a', assumeRoleArn: 'arn:aws:iam::1:role/x' });
      await hold(g.id, { ruleId: 'sgr-a', assumeRoleArn: 'arn:aws:iam::1:role/x' });
      const b = await hold(g.id, { ruleId: 'sgr-b', fromPort: 443, toPort: 443 });
      expect(await stores.rules.holdsOf(g.id)).toEqual([a, b]);
      await expect(hold('grt_none')).rejects.toThrow();
    });

    it('counts other live holders of a rule: not released holds, not ended grants, not the asker', async () => {
      const mine = await grant('active');
      const other = await grant('active');
      const ended = await grant('active');
      await hold(mine.id);
      await hold(other.id);
      await hold(ended.id);
      expect(await stores.rules.otherLiveHolders('sgr-1', mine.id)).toBe(2);
      await stores.grants.move(ended.id, ['active'], 'closed');
      expect(await stores.rules.otherLiveHolders('sgr-1', mine.id)).toBe(1);
      await stores.rules.release(other.id, at(1));
      expect(await stores.rules.otherLiveHolders('sgr-1', mine.id)).toBe(0);
      expect((await stores.rules.liveHoldsOn('sgr-1')).map((h) => h.grantId)).toEqual([mine.id]);
      expect(await stores.rules.otherLiveHolders('sgr-other', mine.id)).toBe(0);
    });

    it('finds a live hold on the same key to share, and none once it is released or its grant ended', async () => {
      const g = await grant('closing');
      const h = await hold(g.id);
      const { grantId: _g, ruleId: _r, managed: _m, ...key } = h;
      expect(await stores.rules.findLive(key)).toEqual(h);
      expect(await stores.rules.findLive({ ...key, cidr: '198.51.100.1/32' })).toBeUndefined();
      await stores.grants.move(g.id, ['closing'], 'closed');
      expect(await stores.rules.findLive(key)).toBeUndefined();
      const again = await grant('active');
      await hold(again.id);
      await stores.rules.release(again.id, at(1));
      expect(await stores.rules.findLive(key)).toBeUndefined();
      expect(await stores.rules.holdsOf(again.id)).toEqual([]);
      await hold(again.id);
      expect(await stores.rules.holdsOf(again.id)).toHaveLength(1);
    });

    it('reads the live holds of one group (liveHoldsIn): any rule, live grants only, unreleased only', async () => {
      const active = await grant('active');
      const opening = await grant('opening');
      const closed = await grant('closed');
      const released = await grant('active');
      const a = await hold(active.id, { ruleId: 'sgr-a' });
      const b = await hold(opening.id, { ruleId: 'sgr-b', cidr: '198.51.100.2/32' });
      await hold(active.id, { ruleId: 'sgr-other', groupId: 'sg-2' });
      await hold(active.id, { ruleId: 'sgr-region', region: 'eu-west-1' });
      await hold(closed.id, { ruleId: 'sgr-c' });
      await hold(released.id, { ruleId: 'sgr-r' });
      await stores.rules.release(released.id, at(1));
      const byRule = (holds: readonly RuleHold[]) =>
        [...holds].sort((x, y) => (x.ruleId < y.ruleId ? -1 : 1));

      expect(byRule(await stores.rules.liveHoldsIn({ region: 'us-east-1', groupId: 'sg-1' }))).toEqual([
        a,
        b,
      ]);
      expect(
        (await stores.rules.liveHoldsIn({ region: 'us-east-1', groupId: 'sg-2' })).map((h) => h.ruleId),
      ).toEqual(['sgr-other']);
      expect(await stores.rules.liveHoldsIn({ region: 'us-east-1', groupId: 'sg-none' })).toEqual([]);
    });

    it('reads and releases the holds of a batch of grants (holdsOfAll, releaseAll)', async () => {
      const g1 = await grant('closing');
      const g2 = await grant('closing');
      const g3 = await grant('closed');
      const outside = await grant('active');
      const a = await hold(g1.id, { ruleId: 'sgr-a', groupId: 'sg-a' });
      const b = await hold(g1.id, {
        ruleId: 'sgr-b',
        groupId: 'sg-b',
        assumeRoleArn: 'arn:aws:iam::1:role/x',
      });
      const c = await hold(g2.id, { ruleId: 'sgr-c', groupId: 'sg-c' });
      await hold(g3.id, { ruleId: 'sgr-d', groupId: 'sg-d' });
      const kept = await hold(outside.id, { ruleId: 'sgr-e', groupId: 'sg-e' });
      const byRule = (holds: readonly RuleHold[]) =>
        [...holds].sort((x, y) => (x.ruleId < y.ruleId ? -1 : 1));

      // Holds of a closed grant that were not released are still its unreleased holds.
      expect(byRule(await stores.rules.holdsOfAll([g2.id, 'grt_none', g1.id, g1.id]))).toEqual([a, b, c]);
      expect((await stores.rules.holdsOfAll([g3.id])).map((h) => h.ruleId)).toEqual(['sgr-d']);
      expect(await stores.rules.holdsOfAll([])).toEqual([]);

      await stores.rules.release(g2.id, at(5));
      expect(byRule(await stores.rules.holdsOfAll([g1.id, g2.id]))).toEqual([a, b]);

      await stores.rules.releaseAll([g1.id, g2.id, g3.id, 'grt_none'], at(10));
      await stores.rules.releaseAll([], at(11));
      expect(await stores.rules.holdsOfAll([g1.id, g2.id, g3.id])).toEqual([]);
      expect(await stores.rules.holdsOf(outside.id)).toEqual([kept]);
      // Released at the batch's moment; a hold released before keeps its own.
      expect((await stores.rules.knownTargets(at(10))).map((t) => t.groupId)).toEqual([
        'sg-a',
        'sg-b',
        'sg-d',
        'sg-e',
      ]);
      expect((await stores.rules.knownTargets(at(5))).map((t) => t.groupId)).toContain('sg-c');
      expect((await stores.rules.knownTargets(at(11))).map((t) => t.groupId)).toEqual(['sg-e']);
    });

    it('finds the rules of a batch that live grants outside it still hold (heldByOthers)', async () => {
      const b1 = await grant('closing');
      const b2 = await grant('closed');
      const batch = [b1.id, b2.id];
      const live = {
        opening: await grant('opening'),
        active: await grant('active'),
        closing: await grant('closing'),
      };
      await hold(b1.id, { ruleId: 'sgr-live' });
      await hold(live.active.id, { ruleId: 'sgr-live' });
      await hold(b2.id, { ruleId: 'sgr-opening' });
      await hold(live.opening.id, { ruleId: 'sgr-opening' });
      await hold(live.closing.id, { ruleId: 'sgr-closing' });
      // Held only by grants of the batch.
      await hold(b1.id, { ruleId: 'sgr-mine' });
      await hold(b2.id, { ruleId: 'sgr-mine' });
      // Held outside the batch only by ended grants, whose holds were never released.
      const ended = await grant('active');
      const failed = await grant('active');
      await hold(b1.id, { ruleId: 'sgr-ended' });
      await hold(ended.id, { ruleId: 'sgr-ended' });
      await hold(failed.id, { ruleId: 'sgr-ended' });
      await stores.grants.move(ended.id, ['active'], 'closed');
      await stores.grants.move(failed.id, ['active'], 'failed');
      // Held outside the batch by a live grant whose hold was released.
      const released = await grant('active');
      await hold(b1.id, { ruleId: 'sgr-released' });
      await hold(released.id, { ruleId: 'sgr-released' });
      await stores.rules.release(released.id, at(1));
      // Held by a live grant, but not asked about.
      await hold(live.active.id, { ruleId: 'sgr-unasked' });

      const asked = [
        'sgr-live',
        'sgr-opening',
        'sgr-closing',
        'sgr-mine',
        'sgr-ended',
        'sgr-released',
        'sgr-none',
      ];
      expect(await stores.rules.heldByOthers(asked, batch)).toEqual(
        new Set(['sgr-live', 'sgr-opening', 'sgr-closing']),
      );
      // Without exceptions, a live grant of the batch counts too (b1 is closing, b2 closed).
      expect(await stores.rules.heldByOthers(['sgr-mine', 'sgr-ended'], [])).toEqual(
        new Set(['sgr-mine', 'sgr-ended']),
      );
      expect(await stores.rules.heldByOthers([], batch)).toEqual(new Set());
      // Agrees with the one-grant question.
      expect(await stores.rules.otherLiveHolders('sgr-ended', b1.id)).toBe(0);
    });

    it('knows each group held, or released since a moment, with its role, in order', async () => {
      const g1 = await grant('active');
      const g2 = await grant('active');
      await hold(g1.id, { groupId: 'sg-b' });
      await hold(g1.id, { ruleId: 'sgr-2', groupId: 'sg-a', assumeRoleArn: 'arn:aws:iam::2:role/x' });
      await hold(g2.id, { ruleId: 'sgr-3', groupId: 'sg-a' });
      await stores.rules.release(g2.id, at(10));
      expect(await stores.rules.knownTargets(at(10))).toEqual([
        { region: 'us-east-1', groupId: 'sg-a' },
        { region: 'us-east-1', groupId: 'sg-a', assumeRoleArn: 'arn:aws:iam::2:role/x' },
        { region: 'us-east-1', groupId: 'sg-b' },
      ]);
      expect(await stores.rules.knownTargets(at(11))).toHaveLength(2);
      expect(await stores.rules.recordLegacyTargets(() => 'arn:aws:iam::3:role/y')).toBe(0);
    });
  });

  describe('batches', () => {
    it('takes 1,200 ids at once (more than one statement binds)', async () => {
      const n = 1_200;
      const grantIds: string[] = [];
      const requestIds: string[] = [];
      await stores.uow.tx(async () => {
        for (let i = 0; i < n; i++) {
          const r = await request({ id: `req_batch${String(i).padStart(4, '0')}` });
          const g = await stores.grants.insert(buildNewGrant({ id: `grt_batch${i}`, requestId: r.id }));
          await stores.grants.move(g.id, ['opening'], 'active');
          await hold(g.id, { ruleId: `sgr-${i}` });
          requestIds.push(r.id);
          grantIds.push(g.id);
        }
      });
      const ruleIds = grantIds.map((_, i) => `sgr-${i}`);

      expect(sortedIds(await stores.requests.getAll([...requestIds, 'req_none']))).toEqual(
        [...requestIds].sort(),
      );
      expect((await stores.rules.holdsOfAll(grantIds)).map((h) => h.grantId).sort()).toEqual(
        [...grantIds].sort(),
      );
      const moved = await stores.grants.moveAll([...grantIds, 'grt_none'], ['active'], 'closing', {
        endReason: 'expired',
      });
      expect(sortedIds(moved)).toEqual([...grantIds].sort());
      expect(await stores.grants.list(['active'])).toEqual([]);
      expect(await stores.grants.list(['closing'])).toHaveLength(n);
      // The first 700 grants are not in the batch: their rules are held by others.
      const held = await stores.rules.heldByOthers(ruleIds, grantIds.slice(700));
      expect(held.size).toBe(700);
      expect(held).toEqual(new Set(ruleIds.slice(0, 700)));
      await stores.rules.releaseAll(grantIds, at(1));
      expect(await stores.rules.holdsOfAll(grantIds)).toEqual([]);
      expect(await stores.rules.heldByOthers(ruleIds, [])).toEqual(new Set());
    }, 60_000);
  });

  describe('backstop records', () => {
    it('records what AWS holds per rule, and forgets it', async () => {
      const record = { ruleId: 'sgr-b', target: { region: 'us-east-1', groupId: 'sg-1' }, fireAt: at(MIN) };
      await stores.backstopRecords.set('sgr-b', record, T0);
      await stores.backstopRecords.set('sgr-a', { ...record, ruleId: 'sgr-a' }, T0);
      expect(await stores.backstopRecords.get('sgr-b')).toEqual(record);
      expect((await stores.backstopRecords.all()).map((r) => r.ruleId)).toEqual(['sgr-a', 'sgr-b']);
      await stores.backstopRecords.set('sgr-b', undefined, T0);
      expect(await stores.backstopRecords.get('sgr-b')).toBeUndefined();
    });

    it('wants a backstop per managed rule of a live grant, at its last holder’s end', async () => {
      const early = await grant('active', { expiresAt: at(10 * MIN) });
      const late = await grant('opening', { expiresAt: at(40 * MIN) });
      const gone = await grant('active', { expiresAt: at(90 * MIN) });
      await hold(early.id);
      await hold(late.id);
      await hold(gone.id);
      await stores.grants.move(gone.id, ['active'], 'closed');
      await hold(early.id, { ruleId: 'sgr-unmanaged', managed: false });
      await hold(early.id, { ruleId: 'sgr-2', fromPort: 443, toPort: 443 });
      expect(await stores.backstopRecords.wanted()).toEqual([
        {
          ruleId: 'sgr-1',
          target: { region: 'us-east-1', groupId: 'sg-1' },
          grantId: late.id,
          resourceId: late.resourceId,
          lastEnd: at(40 * MIN),
        },
        expect.objectContaining({ ruleId: 'sgr-2', grantId: early.id, lastEnd: at(10 * MIN) }),
      ]);
      expect((await stores.backstopRecords.wanted(['sgr-2'])).map((w) => w.ruleId)).toEqual(['sgr-2']);
      expect(await stores.backstopRecords.wanted([])).toEqual([]);
    });

    it('knows as its own only the rules it held managed (live or released) or recorded a backstop for', async () => {
      const live = await grant('active', { expiresAt: at(10 * MIN) });
      const ended = await grant('active', { expiresAt: at(20 * MIN) });
      await hold(live.id, { ruleId: 'sgr-live' });
      await hold(ended.id, { ruleId: 'sgr-released', fromPort: 443, toPort: 443 });
      await stores.grants.move(ended.id, ['active'], 'closed');
      await stores.rules.release(ended.id, at(20 * MIN));
      await hold(live.id, { ruleId: 'sgr-unmanaged', fromPort: 22, toPort: 22, managed: false });
      await stores.backstopRecords.set(
        'sgr-recorded',
        { ruleId: 'sgr-recorded', target: { region: 'us-east-1', groupId: 'sg-1' }, fireAt: at(MIN) },
        T0,
      );
      const asked = ['sgr-live', 'sgr-released', 'sgr-unmanaged', 'sgr-recorded', 'sgr-elsewhere'];
      expect([...(await stores.backstopRecords.ours(asked))].sort()).toEqual([
        'sgr-live',
        'sgr-recorded',
        'sgr-released',
      ]);
      expect(await stores.backstopRecords.ours([])).toEqual(new Set());
    });
  });

  describe('role sessions', () => {
    const session = (name: string, expiresAt: Date) => ({
      sessionName: name,
      assumedRoleId: `AROA:${name}`,
      expiresAt,
    });

    it('keeps the first session of a grant, and lists a role’s live sessions soonest expiry first', async () => {
      const a = await grant('active');
      const b = await grant('active');
      const c = await grant('active');
      await stores.roleSessions.record(a.id, 'arn:role', session('a', at(30 * MIN)));
      await stores.roleSessions.record(a.id, 'arn:role', session('a2', at(50 * MIN)));
      await stores.roleSessions.record(b.id, 'arn:role', session('b', at(20 * MIN)));
      await stores.roleSessions.record(c.id, 'arn:other', session('c', at(20 * MIN)));
      expect(await stores.roleSessions.get(a.id)).toEqual({
        grantId: a.id,
        roleArn: 'arn:role',
        ...session('a', at(30 * MIN)),
      });
      expect((await stores.roleSessions.liveOfRole('arn:role', T0)).map((s) => s.sessionName)).toEqual([
        'b',
        'a',
      ]);
      expect(
        (await stores.roleSessions.liveOfRole('arn:role', at(20 * MIN))).map((s) => s.sessionName),
      ).toEqual(['a']);
      await expect(stores.roleSessions.record('grt_none', 'arn:role', session('x', at(1)))).rejects.toThrow();
    });

    it('cleans up a denied session at its own expiry, once, and never one that was not denied', async () => {
      const denied = await grant('closed');
      const plain = await grant('closed');
      await stores.roleSessions.record(denied.id, 'arn:role', session('d', at(60 * MIN)));
      await stores.roleSessions.record(plain.id, 'arn:role', session('p', at(10 * MIN)));
      expect(await stores.roleSessions.cleanups.next()).toBeUndefined();
      await stores.roleSessions.markDenied(denied.id, 'hallpass-revoked-sessions', at(MIN));
      expect(await stores.roleSessions.get(denied.id)).toMatchObject({
        denyPolicyName: 'hallpass-revoked-sessions',
        deniedAt: at(MIN),
      });
      expect(await stores.roleSessions.cleanups.next()).toEqual(at(60 * MIN));
      await expectDueAndNextAgree(stores.roleSessions.cleanups);
      await stores.roleSessions.markDenyRemoved(denied.id, at(60 * MIN));
      expect(await stores.roleSessions.cleanups.next()).toBeUndefined();
      await expectDueAndNextAgree(stores.roleSessions.cleanups);
    });
  });

  describe('outbox', () => {
    const thread = (requestId: string, text: string) => ({
      kind: 'thread' as const,
      lane: `req:${requestId}`,
      requestId,
      notice: text,
    });

    it('lets only the first waiting delivery of each lane go, oldest first', async () => {
      await stores.outbox.enqueue(thread('r1', 'one'), T0);
      await stores.outbox.enqueue(thread('r1', 'two'), T0);
      await stores.outbox.enqueue({ kind: 'channel', lane: 'chan:C1', channel: 'C1', notice: 'report' }, T0);
      expect((await stores.outbox.ready(T0, 10)).map((o) => o.notice)).toEqual(['one', 'report']);
      expect((await stores.outbox.ready(T0, 1)).map((o) => o.notice)).toEqual(['one']);
      expect(await stores.outbox.waiting()).toBe(3);

      const [first] = await stores.outbox.ready(T0, 1);
      // Retried later: the lane waits for it, the other lane does not.
      await stores.outbox.retryLater(first?.id ?? -1, 1, at(MIN), 'slack down');
      expect((await stores.outbox.ready(T0, 10)).map((o) => o.notice)).toEqual(['report']);
      expect(await stores.outbox.nextAttempt()).toEqual(T0);
      const [report] = await stores.outbox.ready(T0, 10);
      await stores.outbox.done(report?.id ?? -1, T0);
      expect(await stores.outbox.nextAttempt()).toEqual(at(MIN));
      expect(await stores.outbox.ready(at(MIN), 10)).toEqual([
        expect.objectContaining({ notice: 'one', attempts: 1, createdAt: T0 }),
      ]);
      await stores.outbox.abandon(first?.id ?? -1, at(MIN), 'gave up');
      expect((await stores.outbox.ready(at(MIN), 10)).map((o) => o.notice)).toEqual(['two']);
      expect(await stores.outbox.waiting()).toBe(1);
    });

    it('keeps one waiting card update per request', async () => {
      const update = { kind: 'card-update' as const, lane: 'req:r1', requestId: 'r1' };
      await stores.outbox.enqueue(update, T0);
      await stores.outbox.enqueue(update, T0);
      expect(await stores.outbox.waiting()).toBe(1);
      const [sent] = await stores.outbox.ready(T0, 10);
      await stores.outbox.done(sent?.id ?? -1, T0);
      await stores.outbox.enqueue(update, at(1));
      expect(await stores.outbox.ready(at(1), 10)).toEqual([
        {
          id: expect.any(Number),
          kind: 'card-update',
          lane: 'req:r1',
          requestId: 'r1',
          attempts: 0,
          createdAt: at(1),
        },
      ]);
      expect(await stores.outbox.nextAttempt()).toEqual(at(1));
    });

    it('prunes sent deliveries older than the cut, oldest first, keeping abandoned and waiting ones', async () => {
      const ids: Record<string, number> = {};
      for (const name of ['a', 'b', 'c', 'd', 'e']) {
        await stores.outbox.enqueue(thread(name, name), T0);
        const [item] = (await stores.outbox.ready(T0, 10)).filter((o) => o.notice === name);
        ids[name] = item?.id ?? -1;
      }
      await stores.outbox.done(ids['a'] ?? -1, T0);
      await stores.outbox.done(ids['b'] ?? -1, at(MIN));
      await stores.outbox.abandon(ids['c'] ?? -1, T0, 'gave up');
      await stores.outbox.done(ids['d'] ?? -1, at(5 * MIN));

      expect(await stores.outbox.prune(at(2 * MIN), 1)).toBe(1);
      expect(await stores.outbox.prune(at(2 * MIN), 10)).toBe(1);
      // What is left: abandoned (kept for the record), sent after the cut, and waiting.
      expect(await stores.outbox.prune(at(2 * MIN), 10)).toBe(0);
      expect(await stores.outbox.prune(at(6 * MIN), 10)).toBe(1);
      expect(await stores.outbox.prune(at(60 * MIN), 10)).toBe(0);
      expect((await stores.outbox.ready(at(60 * MIN), 10)).map((o) => o.notice)).toEqual(['e']);
      expect(await stores.outbox.waiting()).toBe(1);
    });
  });

  describe('audit log', () => {
    it('appends events in order, lists them per request, and finds the last of a type', async () => {
      expect(await stores.audit.head()).toEqual({ count: 0, hash: '0'.repeat(64) });
      await stores.audit.append({ at: at(1), actor: 'U_A', type: 'request.submitted', requestId: 'r1' });
      await stores.audit.append({
        at: at(2),
        actor: 'hallpass',
        type: 'grant.opened',
        requestId: 'r1',
        grantId: 'g1',
        details: { expiresAt: at(MIN), ruleIds: ['sgr-1'] },
      });
      await stores.audit.append({ at: at(3), actor: 'U_B', type: 'request.submitted', requestId: 'r2' });
      expect((await stores.audit.list()).map((e) => e.type)).toEqual([
        'request.submitted',
        'grant.opened',
        'request.submitted',
      ]);
      expect(await stores.audit.list({ requestId: 'r1' })).toEqual([
        { at: at(1), actor: 'U_A', type: 'request.submitted', requestId: 'r1' },
        // Details are stored as JSON: a Date comes back as its ISO string.
        {
          at: at(2),
          actor: 'hallpass',
          type: 'grant.opened',
          requestId: 'r1',
          grantId: 'g1',
          details: { expiresAt: at(MIN).toISOString(), ruleIds: ['sgr-1'] },
        },
      ]);
      expect((await stores.audit.lastOfType('request.submitted'))?.requestId).toBe('r2');
      expect(await stores.audit.lastOfType('grant.closed')).toBeUndefined();
    });

    const keyings: [string, AuditKey | undefined][] = implementation.keyed
      ? [
          ['unkeyed', undefined],
          ['keyed', KEY],
        ]
      : [['unkeyed', undefined]];

    describe.each(keyings)('appendAll, %s', (_name, key) => {
      it('records what append one by one records: the same events, seqs, seals and head', async () => {
        const prefix = auditEvents(3);
        const batch = auditEvents(7, 3);
        const batched = await fresh(key);
        await batched.stores.audit.append(prefix[0] as AuditEvent);
        await batched.stores.audit.appendAll(prefix.slice(1));
        await batched.stores.audit.appendAll(batch);
        const head = await batched.stores.audit.head();
        const listed = await batched.stores.audit.list();
        const report = await batched.verify?.();

        const oneByOne = await fresh(key);
        for (const e of [...prefix, ...batch]) await oneByOne.stores.audit.append(e);
        expect(head).toEqual(await oneByOne.stores.audit.head());
        expect(head.count).toBe(10);
        expect(head.keyId).toBe(key?.id);
        expect(listed).toEqual(await oneByOne.stores.audit.list());
        if (report !== undefined) expect(report).toMatchObject({ ok: true, events: 10, lastSeq: 10 });
      });

      it('does nothing with an empty batch', async () => {
        const { stores: s } = await fresh(key);
        await s.audit.appendAll([]);
        expect(await s.audit.head()).toEqual({ count: 0, hash: '0'.repeat(64) });
        await s.audit.appendAll(auditEvents(2));
        const head = await s.audit.head();
        await s.audit.appendAll([]);
        expect(await s.audit.head()).toEqual(head);
        expect(await s.audit.list()).toHaveLength(2);
      });

      it('keeps one chain when appends and batches interleave, and a batch rolls back with its transaction', async () => {
        const events = auditEvents(9);
        const o = await fresh(key);
        const log = o.stores.audit;
        await log.append(events[0] as AuditEvent);
        await log.appendAll(events.slice(1, 4));
        await log.append(events[4] as AuditEvent);
        await expect(
          o.stores.uow.tx(async () => {
            await log.appendAll(auditEvents(3, 100));
            throw new Error('rolled back');
          }),
        ).rejects.toThrow('rolled back');
        await o.stores.uow.tx(async () => {
          await log.appendAll(events.slice(5, 7));
          await log.append(events[7] as AuditEvent);
        });
        await log.appendAll(events.slice(8));
        const head = await log.head();
        const listed = await log.list();
        const report = await o.verify?.();

        const oneByOne = await fresh(key);
        for (const e of events) await oneByOne.stores.audit.append(e);
        expect(head).toEqual(await oneByOne.stores.audit.head());
        expect(listed).toEqual(await oneByOne.stores.audit.list());
        if (report !== undefined) expect(report).toMatchObject({ ok: true, events: 9, lastSeq: 9 });
      });

      it('appends 1,200 events at once (more rows than one statement takes)', async () => {
        const events = auditEvents(1_200);
        const batched = await fresh(key);
        await batched.stores.audit.appendAll(events);
        const head = await batched.stores.audit.head();
        const report = await batched.verify?.();

        const oneByOne = await fresh(key);
        await oneByOne.stores.uow.tx(async () => {
          for (const e of events) await oneByOne.stores.audit.append(e);
        });
        expect(head).toEqual(await oneByOne.stores.audit.head());
        expect(head.count).toBe(1_200);
        if (report !== undefined) expect(report).toMatchObject({ ok: true, events: 1_200 });
      }, 60_000);
    });

    if (implementation.keyed) {
      it('refuses an unkeyed batch after keyed events, appending none of it', async () => {
        const o = await fresh(KEY);
        await o.stores.audit.appendAll(auditEvents(2));
        const head = await o.stores.audit.head();
        const unkeyed = o.sameDatabase?.(undefined);
        await expect(unkeyed?.audit.appendAll(auditEvents(3, 2))).rejects.toMatchObject({
          code: 'AUDIT_KEY_REQUIRED',
        });
        expect(await o.stores.audit.head()).toEqual(head);
        // A keyed batch after unkeyed events upgrades the chain, as a keyed append does.
        const upgraded = await fresh();
        await upgraded.stores.audit.appendAll(auditEvents(2));
        await upgraded.sameDatabase?.(KEY).audit.appendAll(auditEvents(2, 2));
        expect(await upgraded.stores.audit.head()).toMatchObject({ count: 4, keyId: KEY.id });
        expect(await upgraded.verify?.()).toMatchObject({ ok: true, events: 4, unkeyed: 2 });
      });
    }

    it('moves its head with every event', async () => {
      await stores.audit.append({ at: at(1), actor: 'U_A', type: 'audit.searched' });
      const one = await stores.audit.head();
      await stores.audit.append({ at: at(2), actor: 'U_A', type: 'audit.searched' });
      const two = await stores.audit.head();
      expect(one.count).toBe(1);
      expect(two.count).toBe(2);
      expect(two.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(two.hash).not.toBe(one.hash);
    });
  });

  describe('connection cuts', () => {
    const plan = (grantId: string) =>
      stores.cuts.plan(
        {
          grantId,
          target: { region: 'us-east-1', groupId: 'sg-1' },
          protocol: 'tcp',
          fromPort: 5432,
          toPort: 5432,
          cidr: '203.0.113.7/32',
        },
        T0,
      );

    it('plans a cut once, and carries it out only once its grant let go of its rules', async () => {
      const g = await grant('closing');
      await plan(g.id);
      await plan(g.id);
      expect(await stores.cuts.ofGrant(g.id)).toEqual([
        expect.objectContaining({ state: 'planned', grantId: g.id }),
      ]);
      expect(await stores.cuts.unfinished(T0)).toEqual([]);
      await stores.grants.move(g.id, ['closing'], 'closed');
      expect((await stores.cuts.unfinished(T0)).map((c) => c.state)).toEqual(['planned']);
    });

    it('expands a plan into numbered entries and refusals, once, and moves entries by compare-and-set', async () => {
      const g = await grant('closed');
      await plan(g.id);
      const [planned] = await stores.cuts.ofGrant(g.id);
      const made = await stores.cuts.expand(
        planned?.id ?? -1,
        [{ aclId: 'acl-1', ruleNumber: 90 }],
        [{ aclId: 'acl-2', note: 'full' }],
        at(10 * MIN),
        T0,
      );
      expect(made).toEqual([
        expect.objectContaining({ aclId: 'acl-1', ruleNumber: 90, state: 'adding', removeAt: at(10 * MIN) }),
        expect.objectContaining({ aclId: 'acl-2', state: 'refused', note: 'full' }),
      ]);
      expect(
        await stores.cuts.expand(planned?.id ?? -1, [{ aclId: 'acl-1', ruleNumber: 91 }], [], at(1), T0),
      ).toEqual([]);
      expect((await stores.cuts.ofGrant(g.id)).map((c) => c.state)).toEqual(['removed', 'adding', 'refused']);
      expect(await stores.cuts.numbersInUse('acl-1')).toEqual([90]);
      expect((await stores.cuts.liveOnGroup('us-east-1', 'sg-1')).map((c) => c.aclId)).toEqual(['acl-1']);

      const entry = made[0]?.id ?? -1;
      expect(await stores.cuts.move(entry, ['adding'], 'in_place', T0)).toBe(true);
      expect(await stores.cuts.move(entry, ['adding'], 'in_place', T0)).toBe(false);
      // In place until its time to go.
      expect(await stores.cuts.unfinished(at(10 * MIN - 1))).toEqual([]);
      expect((await stores.cuts.unfinished(at(10 * MIN))).map((c) => c.id)).toEqual([entry]);
      expect(await stores.cuts.move(entry, ['in_place'], 'removed', T0, { note: 'lifted' })).toBe(true);
      expect(await stores.cuts.numbersInUse('acl-1')).toEqual([]);
      expect((await stores.cuts.ofGrant(g.id)).find((c) => c.id === entry)).toMatchObject({
        state: 'removed',
        note: 'lifted',
      });
    });

    it('marks a plan with nowhere to cut removed', async () => {
      const g = await grant('closed');
      await plan(g.id);
      const [planned] = await stores.cuts.ofGrant(g.id);
      expect(await stores.cuts.expand(planned?.id ?? -1, [], [], at(1), T0)).toEqual([]);
      expect(await stores.cuts.ofGrant(g.id)).toEqual([expect.objectContaining({ state: 'removed' })]);
      expect(await stores.cuts.unfinished(FAR)).toEqual([]);
    });
  });

  describe('unit of work', () => {
    it('commits every write and returns the value', async () => {
      const value = await stores.uow.tx(async () => {
        const r = await request({ id: 'req_tx' });
        await stores.audit.append({ at: T0, actor: 'U_A', type: 'request.submitted', requestId: r.id });
        return 42;
      });
      expect(value).toBe(42);
      expect(await stores.requests.get('req_tx')).toBeDefined();
      expect(await stores.audit.list()).toHaveLength(1);
    });

    it('rolls back every store’s writes when the function throws, and rethrows the error', async () => {
      const kept = await grant('active');
      const boom = new Error('boom');
      await expect(
        stores.uow.tx(async () => {
          const r = await request({ id: 'req_rolled' });
          await stores.grants.insert(buildNewGrant({ id: 'grt_rolled', requestId: r.id }));
          await stores.grants.move(kept.id, ['active'], 'closing');
          await hold(kept.id);
          await stores.outbox.enqueue({ kind: 'card-update', lane: 'req:r', requestId: 'r' }, T0);
          await stores.audit.append({ at: T0, actor: 'U_A', type: 'audit.searched' });
          throw boom;
        }),
      ).rejects.toThrow(boom);
      expect(await stores.requests.get('req_rolled')).toBeUndefined();
      expect(await stores.grants.get('grt_rolled')).toBeUndefined();
      expect((await stores.grants.get(kept.id))?.state).toBe('active');
      expect(await stores.rules.holdsOf(kept.id)).toEqual([]);
      expect(await stores.outbox.waiting()).toBe(0);
      expect((await stores.audit.head()).count).toBe(0);
    });

    it('rolls back only the inner work when a nested transaction throws and the outer one catches', async () => {
      await stores.uow.tx(async () => {
        await request({ id: 'req_outer' });
        try {
          await stores.uow.tx(async () => {
            await request({ id: 'req_inner' });
            throw new Error('inner');
          });
        } catch {
          // The outer transaction goes on.
        }
      });
      expect(await stores.requests.get('req_outer')).toBeDefined();
      expect(await stores.requests.get('req_inner')).toBeUndefined();
    });

    it('keeps calls from outside a transaction out of it: they never see its writes, nor roll back with it', async () => {
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const inside = stores.uow.tx(async () => {
        await request({ id: 'req_inside' });
        await held;
        throw new Error('rolled back');
      });
      let seen: unknown = 'not read';
      const outside = (async () => {
        seen = await stores.requests.get('req_inside');
        await request({ id: 'req_outside' });
      })();
      await new Promise((resolve) => setImmediate(resolve));
      release();
      await expect(inside).rejects.toThrow('rolled back');
      await outside;
      expect(seen).toBeUndefined();
      expect(await stores.requests.get('req_inside')).toBeUndefined();
      expect(await stores.requests.get('req_outside')).toMatchObject({ id: 'req_outside' });
    });
  });
}

for (const [name, implementation] of IMPLEMENTATIONS) {
  (implementation.available ? describe : describe.skip)(`store ports on ${name}`, () =>
    conformance(implementation),
  );
}

describe('store ports: the twins agree', () => {
  it('seal the same events into the same audit head', async () => {
    const handle = openDatabase(':memory:');
    const both = [createSqliteStores(handle), createMemoryStores()];
    for (const stores of both) {
      await stores.audit.append({ at: at(1), actor: 'U_A', type: 'request.submitted', requestId: 'r1' });
      await stores.audit.append({
        at: at(2),
        actor: 'hallpass',
        type: 'grant.opened',
        details: { at: at(3), n: 1 },
      });
    }
    expect(await both[1]?.audit.head()).toEqual(await both[0]?.audit.head());
    handle.close();
  });

  it('seal the same batches into the same audit head', async () => {
    const handle = openDatabase(':memory:');
    const both = [createSqliteStores(handle), createMemoryStores()];
    for (const stores of both) {
      await stores.audit.appendAll(auditEvents(4));
      await stores.audit.append(auditEvents(1, 4)[0] as AuditEvent);
      await stores.audit.appendAll(auditEvents(3, 5));
    }
    expect(await both[1]?.audit.head()).toEqual(await both[0]?.audit.head());
    expect((await both[0]?.audit.head())?.count).toBe(8);
    handle.close();
  });
});

describeWithPostgres('store ports on postgres: audit batches from two replicas', () => {
  const tdb = withTestDatabase();
  let one: PgHandle;
  let two: PgHandle;
  beforeAll(async () => {
    one = await openPostgres(tdb.url);
    two = await openPostgres(tdb.url);
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('keeps one unforked chain, each batch in one piece, when two pools append batches at once', async () => {
    const replicas = [createPostgresStores(one, { key: KEY }), createPostgresStores(two, { key: KEY })];
    const batches = Array.from({ length: 12 }, (_, b) =>
      auditEvents(25, b * 100).map((e): AuditEvent => ({ ...e, actor: `batch-${b}` })),
    );
    const singles = auditEvents(6, 5_000).map((e): AuditEvent => ({ ...e, actor: 'single' }));
    await Promise.all([
      ...batches.map((batch, b) => replicas[b % 2]?.audit.appendAll(batch)),
      ...singles.map((e, i) => replicas[i % 2]?.audit.append(e)),
    ]);

    const report = await verifyPostgresAuditChain(one.db, { keys: { current: KEY } });
    expect(report).toMatchObject({ ok: true, events: 12 * 25 + 6, lastSeq: 12 * 25 + 6 });
    const listed = await replicas[0]?.audit.list();
    for (const [b, batch] of batches.entries()) {
      const first = listed?.findIndex((e) => e.actor === `batch-${b}`) ?? -1;
      // One lock for the whole batch: its events follow one another, in order, nothing in between.
      expect(listed?.slice(first, first + batch.length)).toEqual(batch.map(asStored));
    }
  });
});
