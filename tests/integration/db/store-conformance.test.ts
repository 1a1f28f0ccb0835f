import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores } from '../../../src/adapters/db/stores';
import type { DueQuery, RuleHold } from '../../../src/app/ports';
import { buildNewGrant, buildNewRequest, buildSgResource, T0 } from '../../support/builders';
import { createMemoryStores, type Stores } from '../../support/memory-stores';

const MIN = 60_000;
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const FAR = at(1_000 * 24 * 60 * MIN);
const ids = (items: readonly { id: string }[]): string[] => items.map((x) => x.id);

/** Each implementation of the store ports, fresh per test; `close` frees what it holds. */
const IMPLEMENTATIONS: [string, () => { stores: Stores; close: () => void }][] = [
  [
    'sqlite',
    () => {
      const handle = openDatabase(':memory:');
      return { stores: createSqliteStores(handle), close: () => handle.close() };
    },
  ],
  ['memory', () => ({ stores: createMemoryStores(), close: () => {} })],
];

/**
 * The invariant `DueQuery` exists for: `next()` is when `due` first returns something, so a scheduler
 * that wakes at `next()` always finds work, and one that finds none may sleep.
 */
function expectDueAndNextAgree<T>(query: DueQuery<T>): void {
  const next = query.next();
  if (next === undefined) {
    expect(query.due(FAR)).toEqual([]);
    return;
  }
  expect(query.due(next).length).toBeGreaterThan(0);
  expect(query.due(new Date(next.getTime() - 1))).toEqual([]);
}

describe.each(IMPLEMENTATIONS)('store ports on %s', (_name, open) => {
  let stores: Stores;
  let close: () => void;
  beforeEach(() => {
    ({ stores, close } = open());
  });
  afterEach(() => close());

  const request = (overrides: Parameters<typeof buildNewRequest>[0] = {}) =>
    stores.requests.insert(buildNewRequest(overrides));
  /** A grant for a fresh request, moved to `state` (30 minutes from T0 unless overridden). */
  const grant = (
    state: 'opening' | 'active' | 'closing' | 'closed' | 'failed' = 'active',
    overrides: Parameters<typeof buildNewGrant>[0] = {},
  ) => {
    const r = request();
    const g = stores.grants.insert(buildNewGrant({ requestId: r.id, ...overrides }));
    const path = {
      opening: [],
      active: ['active'],
      closing: ['closing'],
      closed: ['closed'],
      failed: ['failed'],
    }[state] as ('active' | 'closing' | 'closed' | 'failed')[];
    for (const to of path) stores.grants.move(g.id, ['opening'], to);
    return stores.grants.get(g.id) ?? g;
  };
  const hold = (grantId: string, overrides: Partial<RuleHold> = {}): RuleHold => {
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
    stores.rules.hold(h);
    return h;
  };

  describe('requests', () => {
    it('inserts a request as pending with defaults, reads it back, and refuses a second with the same id', () => {
      const resource = buildSgResource();
      const r = request({ id: 'req_one', resourceAtRequest: resource });
      expect(r).toMatchObject({ id: 'req_one', state: 'pending', kind: 'access', breakGlass: false });
      expect(stores.requests.get('req_one')).toEqual(r);
      expect(stores.requests.get('req_one')?.resourceAtRequest).toEqual(resource);
      expect(stores.requests.get('req_none')).toBeUndefined();
      expect(() => request({ id: 'req_one' })).toThrow();
    });

    it('attaches the approval message, and throws for an unknown request', () => {
      const r = request();
      stores.requests.attachMessage(r.id, { channel: 'C1', ts: '1.2' });
      expect(stores.requests.get(r.id)?.message).toEqual({ channel: 'C1', ts: '1.2' });
      expect(() => stores.requests.attachMessage('req_none', { channel: 'C1', ts: '1' })).toThrow();
    });

    it('counts each approver once, in order, and refuses a vote on a decided request', () => {
      const r = request();
      expect(stores.requests.addApproval(r.id, 'U_A', at(1))).toMatchObject({ ok: true });
      const second = stores.requests.addApproval(r.id, 'U_B', at(2));
      expect(second.ok && second.value.map((a) => a.approverId)).toEqual(['U_A', 'U_B']);
      expect(stores.requests.addApproval(r.id, 'U_A', at(3))).toEqual({
        ok: false,
        error: 'ALREADY_APPROVED',
        detail: { approverId: 'U_A' },
      });
      stores.requests.decide(r.id, 'approved', 'U_B', at(4));
      expect(stores.requests.addApproval(r.id, 'U_C', at(5))).toEqual({
        ok: false,
        error: 'NOT_PENDING',
        detail: { state: 'approved' },
      });
      expect(stores.requests.approvals(r.id)).toEqual([
        { requestId: r.id, approverId: 'U_A', at: at(1) },
        { requestId: r.id, approverId: 'U_B', at: at(2) },
      ]);
      expect(() => stores.requests.addApproval('req_none', 'U_A', at(1))).toThrow();
    });

    it('withdraws a vote only while pending, and the approver may vote again (last in order)', () => {
      const r = request();
      stores.requests.addApproval(r.id, 'U_A', at(1));
      stores.requests.addApproval(r.id, 'U_B', at(2));
      stores.requests.withdrawApproval(r.id, 'U_A');
      expect(stores.requests.approvals(r.id).map((a) => a.approverId)).toEqual(['U_B']);
      stores.requests.addApproval(r.id, 'U_A', at(3));
      expect(stores.requests.approvals(r.id).map((a) => a.approverId)).toEqual(['U_B', 'U_A']);
      stores.requests.decide(r.id, 'approved', 'U_A', at(4));
      stores.requests.withdrawApproval(r.id, 'U_B');
      expect(stores.requests.approvals(r.id)).toHaveLength(2);
    });

    it('decides only a pending request (compare-and-set), keeping the first decision', () => {
      const r = request();
      const first = stores.requests.decide(r.id, 'denied', 'U_A', at(1), 'not now');
      expect(first).toMatchObject({
        ok: true,
        value: { state: 'denied', decidedBy: 'U_A', decidedAt: at(1), note: 'not now' },
      });
      expect(stores.requests.decide(r.id, 'approved', 'U_B', at(2))).toEqual({
        ok: false,
        error: 'NOT_PENDING',
        detail: { state: 'denied' },
      });
      expect(stores.requests.get(r.id)).toMatchObject({ state: 'denied', decidedBy: 'U_A' });
      expect(() => stores.requests.decide('req_none', 'denied', 'U_A', at(1))).toThrow();
    });

    it('fails a pending or approved request, keeps the first failure, and refuses a denied one', () => {
      const approved = request();
      stores.requests.decide(approved.id, 'approved', 'U_A', at(1));
      expect(stores.requests.markFailed(approved.id, 'AWS said no', at(2))).toMatchObject({
        state: 'failed',
        note: 'AWS said no',
        decidedBy: 'U_A',
      });
      expect(stores.requests.markFailed(approved.id, 'again', at(3)).note).toBe('AWS said no');
      const denied = request();
      stores.requests.decide(denied.id, 'denied', 'U_A', at(1));
      expect(() => stores.requests.markFailed(denied.id, 'no', at(2))).toThrow();
      expect(stores.requests.get(denied.id)?.state).toBe('denied');
    });

    it('lists pending requests oldest first, optionally for one requester', () => {
      const late = request({ createdAt: at(2 * MIN) });
      const early = request({ createdAt: at(MIN), requesterId: 'U_OTHER' });
      stores.requests.decide(request({ createdAt: at(0) }).id, 'denied', 'U_A', at(3));
      expect(ids(stores.requests.listPending())).toEqual([early.id, late.id]);
      expect(ids(stores.requests.listPending('U_OTHER'))).toEqual([early.id]);
    });

    it('times out pending requests at their deadline: due and next agree, decided ones never', () => {
      expect(stores.requests.timeouts.next()).toBeUndefined();
      const a = request({ createdAt: T0, approvalDeadline: at(30 * MIN) });
      const b = request({ createdAt: T0, approvalDeadline: at(10 * MIN) });
      const decided = request({ createdAt: T0, approvalDeadline: at(5 * MIN) });
      stores.requests.decide(decided.id, 'approved', 'U_A', at(1));
      expect(stores.requests.timeouts.next()).toEqual(at(10 * MIN));
      expectDueAndNextAgree(stores.requests.timeouts);
      expect(ids(stores.requests.timeouts.due(at(30 * MIN)))).toEqual([b.id, a.id]);
    });

    it('reminds at half the approval time (rounded down to the millisecond), once', () => {
      // 30 minutes and 1 ms: SQLite's integer division drops the half millisecond.
      const r = request({ createdAt: T0, approvalDeadline: at(30 * MIN + 1) });
      expect(stores.requests.reminders.next()).toEqual(at(15 * MIN));
      expectDueAndNextAgree(stores.requests.reminders);
      stores.requests.markReminded(r.id, at(15 * MIN));
      expect(stores.requests.get(r.id)?.remindedAt).toEqual(at(15 * MIN));
      expect(stores.requests.reminders.next()).toBeUndefined();
      expectDueAndNextAgree(stores.requests.reminders);
    });

    it('finds the pending extension of a grant, and not once it is decided', () => {
      const g = grant('active');
      const ext = request({ kind: 'extension', extendsGrantId: g.id });
      expect(stores.requests.pendingExtension(g.id)?.id).toBe(ext.id);
      stores.requests.decide(ext.id, 'denied', 'U_A', at(1));
      expect(stores.requests.pendingExtension(g.id)).toBeUndefined();
    });
  });

  describe('grants', () => {
    it('inserts one grant per existing request, as opening, and finds it by id and by request', () => {
      const r = request();
      const g = stores.grants.insert(buildNewGrant({ requestId: r.id }));
      expect(g).toMatchObject({ state: 'opening', breakGlass: false, closeAttempts: 0 });
      expect(stores.grants.get(g.id)).toEqual(g);
      expect(stores.grants.byRequest(r.id)).toEqual(g);
      expect(() => stores.grants.insert(buildNewGrant({ requestId: r.id }))).toThrow();
      expect(() => stores.grants.insert(buildNewGrant({ requestId: 'req_none' }))).toThrow();
      expect(stores.grants.get('grt_none')).toBeUndefined();
    });

    it('moves only from an expected state (compare-and-set), setting the end fields', () => {
      const g = grant('active');
      const moved = stores.grants.move(g.id, ['active'], 'closing', { endReason: 'revoked', endedBy: 'U_A' });
      expect(moved).toMatchObject({
        ok: true,
        value: { state: 'closing', endReason: 'revoked', endedBy: 'U_A' },
      });
      expect(stores.grants.move(g.id, ['active'], 'closing')).toEqual({
        ok: false,
        error: 'STATE_CHANGED',
        detail: { state: 'closing' },
      });
      expect(stores.grants.move(g.id, [], 'closed')).toMatchObject({ ok: false, error: 'STATE_CHANGED' });
      expect(stores.grants.move(g.id, ['closing'], 'closed', { endedAt: at(5) })).toMatchObject({
        ok: true,
        value: { state: 'closed', endedAt: at(5), endReason: 'revoked' },
      });
      expect(() => stores.grants.move('grt_none', ['active'], 'closing')).toThrow();
    });

    it('lists grants in the given states, earliest end first, optionally for one requester', () => {
      const late = grant('active', { expiresAt: at(50 * MIN) });
      const early = grant('opening', { expiresAt: at(20 * MIN), requesterId: 'U_OTHER' });
      grant('closed');
      expect(ids(stores.grants.list(['opening', 'active']))).toEqual([early.id, late.id]);
      expect(ids(stores.grants.list(['opening', 'active'], 'U_OTHER'))).toEqual([early.id]);
      expect(stores.grants.list([])).toEqual([]);
    });

    it('makes active and opening grants due at their end, and never closed or failed ones', () => {
      const active = grant('active', { expiresAt: at(30 * MIN) });
      const opening = grant('opening', { expiresAt: at(20 * MIN) });
      grant('closed', { expiresAt: at(MIN) });
      grant('failed', { expiresAt: at(MIN) });
      expect(stores.grants.closes.next()).toEqual(at(20 * MIN));
      expectDueAndNextAgree(stores.grants.closes);
      expect(ids(stores.grants.closes.due(at(30 * MIN)))).toEqual([opening.id, active.id]);
    });

    it('makes a closing grant due at once, and after a failed attempt at its retry time', () => {
      const g = grant('active', { expiresAt: at(30 * MIN) });
      stores.grants.move(g.id, ['active'], 'closing');
      // Due at once: "now" is whenever the scheduler looks, so next() lies in the past.
      expect(ids(stores.grants.closes.due(T0))).toEqual([g.id]);
      expect(stores.grants.closes.next()?.getTime()).toBeLessThanOrEqual(T0.getTime());
      expectDueAndNextAgree(stores.grants.closes);

      const failed = stores.grants.closeFailed(g.id, at(MIN));
      expect(failed).toMatchObject({ state: 'closing', closeAttempts: 1, retryAt: at(MIN) });
      expect(stores.grants.closes.next()).toEqual(at(MIN));
      expect(stores.grants.closes.due(at(MIN - 1))).toEqual([]);
      expect(ids(stores.grants.closes.due(at(MIN)))).toEqual([g.id]);
      expectDueAndNextAgree(stores.grants.closes);
      expect(stores.grants.closeFailed(g.id, at(2 * MIN))?.closeAttempts).toBe(2);

      // A fresh close of the same grant (closing → closing) starts again at once.
      const restarted = stores.grants.move(g.id, ['closing'], 'closing');
      expect(restarted.ok && restarted.value.retryAt).toBeUndefined();
      expect(ids(stores.grants.closes.due(T0))).toEqual([g.id]);
      stores.grants.move(g.id, ['closing'], 'closed');
      expect(stores.grants.closes.next()).toBeUndefined();
      expect(stores.grants.closeFailed(g.id, at(3 * MIN))).toBeUndefined();
    });

    it('warns only active, unwarned grants at least twice the warning time long, warnBefore ahead', () => {
      const long = grant('active', { startsAt: T0, expiresAt: at(30 * MIN) });
      const exactlyTwice = grant('active', { startsAt: T0, expiresAt: at(10 * MIN) });
      grant('active', { startsAt: T0, expiresAt: at(10 * MIN - 1) });
      grant('opening', { startsAt: T0, expiresAt: at(30 * MIN) });
      const warnings = stores.grants.warnings(5 * MIN);
      expect(warnings.next()).toEqual(at(5 * MIN));
      expectDueAndNextAgree(warnings);
      expect(ids(warnings.due(at(25 * MIN)))).toEqual([exactlyTwice.id, long.id]);
      stores.grants.markWarned(exactlyTwice.id, at(5 * MIN));
      expect(warnings.next()).toEqual(at(25 * MIN));
      expect(stores.grants.warnings(0).next()).toBeUndefined();
      expect(stores.grants.warnings(0).due(FAR)).toEqual([]);
    });

    it('extends only an active grant, and its new end is warned again', () => {
      const g = grant('active', { startsAt: T0, expiresAt: at(30 * MIN) });
      stores.grants.markWarned(g.id, at(25 * MIN));
      const extended = stores.grants.extend(g.id, at(60 * MIN));
      expect(extended).toMatchObject({ ok: true, value: { expiresAt: at(60 * MIN) } });
      expect(extended.ok && extended.value.warnedAt).toBeUndefined();
      expect(stores.grants.warnings(5 * MIN).next()).toEqual(at(55 * MIN));
      stores.grants.move(g.id, ['active'], 'closing');
      expect(stores.grants.extend(g.id, at(90 * MIN))).toEqual({ ok: false, error: 'STATE_CHANGED' });
    });

    it('lists break-glass grants until reviewed, and refuses a second review', () => {
      const bg = grant('active', { breakGlass: true, startsAt: at(MIN) });
      const older = grant('closed', { breakGlass: true, startsAt: T0 });
      const normal = grant('active');
      expect(ids(stores.grants.unreviewedBreakGlass())).toEqual([older.id, bg.id]);
      expect(stores.grants.markReviewed(bg.id, 'U_A', at(2))).toMatchObject({
        ok: true,
        value: { reviewedBy: 'U_A', reviewedAt: at(2) },
      });
      expect(stores.grants.markReviewed(bg.id, 'U_B', at(3))).toEqual({
        ok: false,
        error: 'ALREADY_REVIEWED',
      });
      expect(stores.grants.markReviewed(normal.id, 'U_B', at(3))).toEqual({
        ok: false,
        error: 'ALREADY_REVIEWED',
      });
      expect(ids(stores.grants.unreviewedBreakGlass())).toEqual([older.id]);
    });
  });

  describe('rules', () => {
    it('keeps the holds of a grant, once each, with the role that reached the group', () => {
      const g = grant('active');
      const a = hold(g.id, { ruleId: 'sgr-a', assumeRoleArn: 'arn:aws:iam::1:role/x' });
      hold(g.id, { ruleId: 'sgr-a', assumeRoleArn: 'arn:aws:iam::1:role/x' });
      const b = hold(g.id, { ruleId: 'sgr-b', fromPort: 443, toPort: 443 });
      expect(stores.rules.holdsOf(g.id)).toEqual([a, b]);
      expect(() => hold('grt_none')).toThrow();
    });

    it('counts other live holders of a rule: not released holds, not ended grants, not the asker', () => {
      const mine = grant('active');
      const other = grant('active');
      const ended = grant('active');
      hold(mine.id);
      hold(other.id);
      hold(ended.id);
      expect(stores.rules.otherLiveHolders('sgr-1', mine.id)).toBe(2);
      stores.grants.move(ended.id, ['active'], 'closed');
      expect(stores.rules.otherLiveHolders('sgr-1', mine.id)).toBe(1);
      stores.rules.release(other.id, at(1));
      expect(stores.rules.otherLiveHolders('sgr-1', mine.id)).toBe(0);
      expect(stores.rules.liveHoldsOn('sgr-1').map((h) => h.grantId)).toEqual([mine.id]);
      expect(stores.rules.otherLiveHolders('sgr-other', mine.id)).toBe(0);
    });

    it('finds a live hold on the same key to share, and none once it is released or its grant ended', () => {
      const g = grant('closing');
      const h = hold(g.id);
      const { grantId: _g, ruleId: _r, managed: _m, ...key } = h;
      expect(stores.rules.findLive(key)).toEqual(h);
      expect(stores.rules.findLive({ ...key, cidr: '198.51.100.1/32' })).toBeUndefined();
      stores.grants.move(g.id, ['closing'], 'closed');
      expect(stores.rules.findLive(key)).toBeUndefined();
      const again = grant('active');
      hold(again.id);
      stores.rules.release(again.id, at(1));
      expect(stores.rules.findLive(key)).toBeUndefined();
      expect(stores.rules.holdsOf(again.id)).toEqual([]);
      hold(again.id);
      expect(stores.rules.holdsOf(again.id)).toHaveLength(1);
    });

    it('knows each group held, or released since a moment, with its role, in order', () => {
      const g1 = grant('active');
      const g2 = grant('active');
      hold(g1.id, { groupId: 'sg-b' });
      hold(g1.id, { ruleId: 'sgr-2', groupId: 'sg-a', assumeRoleArn: 'arn:aws:iam::2:role/x' });
      hold(g2.id, { ruleId: 'sgr-3', groupId: 'sg-a' });
      stores.rules.release(g2.id, at(10));
      expect(stores.rules.knownTargets(at(10))).toEqual([
        { region: 'us-east-1', groupId: 'sg-a' },
        { region: 'us-east-1', groupId: 'sg-a', assumeRoleArn: 'arn:aws:iam::2:role/x' },
        { region: 'us-east-1', groupId: 'sg-b' },
      ]);
      expect(stores.rules.knownTargets(at(11))).toHaveLength(2);
      expect(stores.rules.recordLegacyTargets(() => 'arn:aws:iam::3:role/y')).toBe(0);
    });
  });

  describe('backstop records', () => {
    it('records what AWS holds per rule, and forgets it', () => {
      const record = { ruleId: 'sgr-b', target: { region: 'us-east-1', groupId: 'sg-1' }, fireAt: at(MIN) };
      stores.backstopRecords.set('sgr-b', record, T0);
      stores.backstopRecords.set('sgr-a', { ...record, ruleId: 'sgr-a' }, T0);
      expect(stores.backstopRecords.get('sgr-b')).toEqual(record);
      expect(stores.backstopRecords.all().map((r) => r.ruleId)).toEqual(['sgr-a', 'sgr-b']);
      stores.backstopRecords.set('sgr-b', undefined, T0);
      expect(stores.backstopRecords.get('sgr-b')).toBeUndefined();
    });

    it('wants a backstop per managed rule of a live grant, at its last holder’s end', () => {
      const early = grant('active', { expiresAt: at(10 * MIN) });
      const late = grant('opening', { expiresAt: at(40 * MIN) });
      const gone = grant('active', { expiresAt: at(90 * MIN) });
      hold(early.id);
      hold(late.id);
      hold(gone.id);
      stores.grants.move(gone.id, ['active'], 'closed');
      hold(early.id, { ruleId: 'sgr-unmanaged', managed: false });
      hold(early.id, { ruleId: 'sgr-2', fromPort: 443, toPort: 443 });
      expect(stores.backstopRecords.wanted()).toEqual([
        {
          ruleId: 'sgr-1',
          target: { region: 'us-east-1', groupId: 'sg-1' },
          grantId: late.id,
          resourceId: late.resourceId,
          lastEnd: at(40 * MIN),
        },
        expect.objectContaining({ ruleId: 'sgr-2', grantId: early.id, lastEnd: at(10 * MIN) }),
      ]);
      expect(stores.backstopRecords.wanted(['sgr-2']).map((w) => w.ruleId)).toEqual(['sgr-2']);
      expect(stores.backstopRecords.wanted([])).toEqual([]);
    });
  });

  describe('role sessions', () => {
    const session = (name: string, expiresAt: Date) => ({
      sessionName: name,
      assumedRoleId: `AROA:${name}`,
      expiresAt,
    });

    it('keeps the first session of a grant, and lists a role’s live sessions soonest expiry first', () => {
      const a = grant('active');
      const b = grant('active');
      const c = grant('active');
      stores.roleSessions.record(a.id, 'arn:role', session('a', at(30 * MIN)));
      stores.roleSessions.record(a.id, 'arn:role', session('a2', at(50 * MIN)));
      stores.roleSessions.record(b.id, 'arn:role', session('b', at(20 * MIN)));
      stores.roleSessions.record(c.id, 'arn:other', session('c', at(20 * MIN)));
      expect(stores.roleSessions.get(a.id)).toEqual({
        grantId: a.id,
        roleArn: 'arn:role',
        ...session('a', at(30 * MIN)),
      });
      expect(stores.roleSessions.liveOfRole('arn:role', T0).map((s) => s.sessionName)).toEqual(['b', 'a']);
      expect(stores.roleSessions.liveOfRole('arn:role', at(20 * MIN)).map((s) => s.sessionName)).toEqual([
        'a',
      ]);
      expect(() => stores.roleSessions.record('grt_none', 'arn:role', session('x', at(1)))).toThrow();
    });

    it('cleans up a denied session at its own expiry, once, and never one that was not denied', () => {
      const denied = grant('closed');
      const plain = grant('closed');
      stores.roleSessions.record(denied.id, 'arn:role', session('d', at(60 * MIN)));
      stores.roleSessions.record(plain.id, 'arn:role', session('p', at(10 * MIN)));
      expect(stores.roleSessions.cleanups.next()).toBeUndefined();
      stores.roleSessions.markDenied(denied.id, 'hallpass-revoked-sessions', at(MIN));
      expect(stores.roleSessions.get(denied.id)).toMatchObject({
        denyPolicyName: 'hallpass-revoked-sessions',
        deniedAt: at(MIN),
      });
      expect(stores.roleSessions.cleanups.next()).toEqual(at(60 * MIN));
      expectDueAndNextAgree(stores.roleSessions.cleanups);
      stores.roleSessions.markDenyRemoved(denied.id, at(60 * MIN));
      expect(stores.roleSessions.cleanups.next()).toBeUndefined();
      expectDueAndNextAgree(stores.roleSessions.cleanups);
    });
  });

  describe('outbox', () => {
    const thread = (requestId: string, text: string) => ({
      kind: 'thread' as const,
      lane: `req:${requestId}`,
      requestId,
      notice: text,
    });

    it('lets only the first waiting delivery of each lane go, oldest first', () => {
      stores.outbox.enqueue(thread('r1', 'one'), T0);
      stores.outbox.enqueue(thread('r1', 'two'), T0);
      stores.outbox.enqueue({ kind: 'channel', lane: 'chan:C1', channel: 'C1', notice: 'report' }, T0);
      expect(stores.outbox.ready(T0, 10).map((o) => o.notice)).toEqual(['one', 'report']);
      expect(stores.outbox.ready(T0, 1).map((o) => o.notice)).toEqual(['one']);
      expect(stores.outbox.waiting()).toBe(3);

      const [first] = stores.outbox.ready(T0, 1);
      // Retried later: the lane waits for it, the other lane does not.
      stores.outbox.retryLater(first?.id ?? -1, 1, at(MIN), 'slack down');
      expect(stores.outbox.ready(T0, 10).map((o) => o.notice)).toEqual(['report']);
      expect(stores.outbox.nextAttempt()).toEqual(T0);
      const [report] = stores.outbox.ready(T0, 10);
      stores.outbox.done(report?.id ?? -1, T0);
      expect(stores.outbox.nextAttempt()).toEqual(at(MIN));
      expect(stores.outbox.ready(at(MIN), 10)).toEqual([
        expect.objectContaining({ notice: 'one', attempts: 1, createdAt: T0 }),
      ]);
      stores.outbox.abandon(first?.id ?? -1, at(MIN), 'gave up');
      expect(stores.outbox.ready(at(MIN), 10).map((o) => o.notice)).toEqual(['two']);
      expect(stores.outbox.waiting()).toBe(1);
    });

    it('keeps one waiting card update per request', () => {
      const update = { kind: 'card-update' as const, lane: 'req:r1', requestId: 'r1' };
      stores.outbox.enqueue(update, T0);
      stores.outbox.enqueue(update, T0);
      expect(stores.outbox.waiting()).toBe(1);
      const [sent] = stores.outbox.ready(T0, 10);
      stores.outbox.done(sent?.id ?? -1, T0);
      stores.outbox.enqueue(update, at(1));
      expect(stores.outbox.ready(at(1), 10)).toEqual([
        {
          id: expect.any(Number),
          kind: 'card-update',
          lane: 'req:r1',
          requestId: 'r1',
          attempts: 0,
          createdAt: at(1),
        },
      ]);
      expect(stores.outbox.nextAttempt()).toEqual(at(1));
    });
  });

  describe('audit log', () => {
    it('appends events in order, lists them per request, and finds the last of a type', () => {
      expect(stores.audit.head()).toEqual({ count: 0, hash: '0'.repeat(64) });
      stores.audit.append({ at: at(1), actor: 'U_A', type: 'request.submitted', requestId: 'r1' });
      stores.audit.append({
        at: at(2),
        actor: 'hallpass',
        type: 'grant.opened',
        requestId: 'r1',
        grantId: 'g1',
        details: { expiresAt: at(MIN), ruleIds: ['sgr-1'] },
      });
      stores.audit.append({ at: at(3), actor: 'U_B', type: 'request.submitted', requestId: 'r2' });
      expect(stores.audit.list().map((e) => e.type)).toEqual([
        'request.submitted',
        'grant.opened',
        'request.submitted',
      ]);
      expect(stores.audit.list({ requestId: 'r1' })).toEqual([
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
      expect(stores.audit.lastOfType('request.submitted')?.requestId).toBe('r2');
      expect(stores.audit.lastOfType('grant.closed')).toBeUndefined();
    });

    it('moves its head with every event', () => {
      stores.audit.append({ at: at(1), actor: 'U_A', type: 'audit.searched' });
      const one = stores.audit.head();
      stores.audit.append({ at: at(2), actor: 'U_A', type: 'audit.searched' });
      const two = stores.audit.head();
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

    it('plans a cut once, and carries it out only once its grant let go of its rules', () => {
      const g = grant('closing');
      plan(g.id);
      plan(g.id);
      expect(stores.cuts.ofGrant(g.id)).toEqual([
        expect.objectContaining({ state: 'planned', grantId: g.id }),
      ]);
      expect(stores.cuts.unfinished(T0)).toEqual([]);
      stores.grants.move(g.id, ['closing'], 'closed');
      expect(stores.cuts.unfinished(T0).map((c) => c.state)).toEqual(['planned']);
    });

    it('expands a plan into numbered entries and refusals, once, and moves entries by compare-and-set', () => {
      const g = grant('closed');
      plan(g.id);
      const [planned] = stores.cuts.ofGrant(g.id);
      const made = stores.cuts.expand(
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
        stores.cuts.expand(planned?.id ?? -1, [{ aclId: 'acl-1', ruleNumber: 91 }], [], at(1), T0),
      ).toEqual([]);
      expect(stores.cuts.ofGrant(g.id).map((c) => c.state)).toEqual(['removed', 'adding', 'refused']);
      expect(stores.cuts.numbersInUse('acl-1')).toEqual([90]);
      expect(stores.cuts.liveOnGroup('us-east-1', 'sg-1').map((c) => c.aclId)).toEqual(['acl-1']);

      const entry = made[0]?.id ?? -1;
      expect(stores.cuts.move(entry, ['adding'], 'in_place', T0)).toBe(true);
      expect(stores.cuts.move(entry, ['adding'], 'in_place', T0)).toBe(false);
      // In place until its time to go.
      expect(stores.cuts.unfinished(at(10 * MIN - 1))).toEqual([]);
      expect(stores.cuts.unfinished(at(10 * MIN)).map((c) => c.id)).toEqual([entry]);
      expect(stores.cuts.move(entry, ['in_place'], 'removed', T0, { note: 'lifted' })).toBe(true);
      expect(stores.cuts.numbersInUse('acl-1')).toEqual([]);
      expect(stores.cuts.ofGrant(g.id).find((c) => c.id === entry)).toMatchObject({
        state: 'removed',
        note: 'lifted',
      });
    });

    it('marks a plan with nowhere to cut removed', () => {
      const g = grant('closed');
      plan(g.id);
      const [planned] = stores.cuts.ofGrant(g.id);
      expect(stores.cuts.expand(planned?.id ?? -1, [], [], at(1), T0)).toEqual([]);
      expect(stores.cuts.ofGrant(g.id)).toEqual([expect.objectContaining({ state: 'removed' })]);
      expect(stores.cuts.unfinished(FAR)).toEqual([]);
    });
  });

  describe('unit of work', () => {
    it('commits every write and returns the value', () => {
      const value = stores.uow.tx(() => {
        const r = request({ id: 'req_tx' });
        stores.audit.append({ at: T0, actor: 'U_A', type: 'request.submitted', requestId: r.id });
        return 42;
      });
      expect(value).toBe(42);
      expect(stores.requests.get('req_tx')).toBeDefined();
      expect(stores.audit.list()).toHaveLength(1);
    });

    it('rolls back every store’s writes when the function throws, and rethrows the error', () => {
      const kept = grant('active');
      const boom = new Error('boom');
      expect(() =>
        stores.uow.tx(() => {
          const r = request({ id: 'req_rolled' });
          stores.grants.insert(buildNewGrant({ id: 'grt_rolled', requestId: r.id }));
          stores.grants.move(kept.id, ['active'], 'closing');
          hold(kept.id);
          stores.outbox.enqueue({ kind: 'card-update', lane: 'req:r', requestId: 'r' }, T0);
          stores.audit.append({ at: T0, actor: 'U_A', type: 'audit.searched' });
          throw boom;
        }),
      ).toThrow(boom);
      expect(stores.requests.get('req_rolled')).toBeUndefined();
      expect(stores.grants.get('grt_rolled')).toBeUndefined();
      expect(stores.grants.get(kept.id)?.state).toBe('active');
      expect(stores.rules.holdsOf(kept.id)).toEqual([]);
      expect(stores.outbox.waiting()).toBe(0);
      expect(stores.audit.head().count).toBe(0);
    });

    it('rolls back only the inner work when a nested transaction throws and the outer one catches', () => {
      stores.uow.tx(() => {
        request({ id: 'req_outer' });
        try {
          stores.uow.tx(() => {
            request({ id: 'req_inner' });
            throw new Error('inner');
          });
        } catch {
          // The outer transaction goes on.
        }
      });
      expect(stores.requests.get('req_outer')).toBeDefined();
      expect(stores.requests.get('req_inner')).toBeUndefined();
    });

    it('refuses a function that returns a promise, and keeps nothing it wrote', () => {
      expect(() =>
        stores.uow.tx(() => {
          request({ id: 'req_async' });
          return Promise.resolve(1);
        }),
      ).toThrow();
      expect(stores.requests.get('req_async')).toBeUndefined();
    });
  });
});

describe('store ports: the twins agree', () => {
  it('seal the same events into the same audit head', () => {
    const handle = openDatabase(':memory:');
    const both = [createSqliteStores(handle), createMemoryStores()];
    for (const stores of both) {
      stores.audit.append({ at: at(1), actor: 'U_A', type: 'request.submitted', requestId: 'r1' });
      stores.audit.append({
        at: at(2),
        actor: 'hallpass',
        type: 'grant.opened',
        details: { at: at(3), n: 1 },
      });
    }
    expect(both[1]?.audit.head()).toEqual(both[0]?.audit.head());
    handle.close();
  });
});
