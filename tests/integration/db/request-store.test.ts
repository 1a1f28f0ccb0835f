import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import { buildNewRequest, T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

describe('SQLite request store', () => {
  let handle: DbHandle;
  let stores: SqliteStores;

  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });

  afterEach(() => {
    handle.close();
  });

  describe('insert and get', () => {
    it('round-trips a request with its source, to the millisecond, as pending', async () => {
      const input = buildNewRequest({ createdAt: at(1), approvalDeadline: at(1_800_001) });

      const inserted = await stores.requests.insert(input);

      const expected = { ...input, state: 'pending', kind: 'access', breakGlass: false };
      expect(inserted).toStrictEqual(expected);
      expect(await stores.requests.get(input.id)).toStrictEqual(expected);
      expect((await stores.requests.get(input.id))?.createdAt.getTime()).toBe(T0.getTime() + 1);
    });

    it('round-trips an IPv6 source', async () => {
      const input = buildNewRequest({ source: { family: 6, cidr: '2001:db8::/64', prefix: 64 } });
      await stores.requests.insert(input);
      expect((await stores.requests.get(input.id))?.source).toStrictEqual({
        family: 6,
        cidr: '2001:db8::/64',
        prefix: 64,
      });
    });

    it('leaves optional fields absent for a role request that has no source', async () => {
      const { source: _omitted, ...roleRequest } = buildNewRequest();
      await stores.requests.insert(roleRequest);

      const stored = await stores.requests.get(roleRequest.id);

      expect(stored).toStrictEqual({ ...roleRequest, state: 'pending', kind: 'access', breakGlass: false });
      expect(stored && Object.keys(stored)).not.toEqual(
        expect.arrayContaining(['source', 'decidedAt', 'decidedBy', 'note', 'message']),
      );
    });

    it('returns undefined for an unknown id', async () => {
      expect(await stores.requests.get('req_unknown')).toBeUndefined();
    });

    it('refuses a second request with the same id', async () => {
      const input = buildNewRequest();
      await stores.requests.insert(input);
      await expect(stores.requests.insert(input)).rejects.toThrow(
        expect.objectContaining({ operation: 'requests.insert', code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }),
      );
    });
  });

  describe('attachMessage', () => {
    it('stores where the approval message lives', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());
      await stores.requests.attachMessage(id, { channel: 'C123', ts: '1700000000.000100' });
      expect((await stores.requests.get(id))?.message).toStrictEqual({
        channel: 'C123',
        ts: '1700000000.000100',
      });
    });

    it('throws for an unknown request', async () => {
      await expect(
        stores.requests.attachMessage('req_unknown', { channel: 'C1', ts: '1.2' }),
      ).rejects.toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    });
  });

  describe('decide', () => {
    it('moves a pending request and records who, when and why', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());

      const result = await stores.requests.decide(
        id,
        'denied',
        'U_APPROVER',
        at(5_000),
        'not during the freeze',
      );

      expect(result).toStrictEqual({
        ok: true,
        value: expect.objectContaining({
          state: 'denied',
          decidedBy: 'U_APPROVER',
          decidedAt: at(5_000),
          note: 'not during the freeze',
        }),
      });
      expect(await stores.requests.get(id)).toMatchObject({ state: 'denied', decidedAt: at(5_000) });
    });

    it('refuses a second decision and keeps the first', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());
      await stores.requests.decide(id, 'approved', 'U_FIRST', at(1_000));

      const second = await stores.requests.decide(id, 'denied', 'U_SECOND', at(2_000), 'too late');

      expect(second).toStrictEqual({ ok: false, error: 'NOT_PENDING', detail: { state: 'approved' } });
      const stored = await stores.requests.get(id);
      expect(stored).toMatchObject({ state: 'approved', decidedBy: 'U_FIRST', decidedAt: at(1_000) });
      expect(stored?.note).toBeUndefined();
    });

    it('throws for an unknown request', async () => {
      await expect(stores.requests.decide('req_unknown', 'approved', 'U1', T0)).rejects.toThrow(
        expect.objectContaining({ operation: 'requests.decide', code: 'NOT_FOUND' }),
      );
    });
  });

  describe('addApproval', () => {
    it('returns every approval in the order they were recorded', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());

      await stores.requests.addApproval(id, 'U_A', at(2_000));
      const result = await stores.requests.addApproval(id, 'U_B', at(1_000));

      expect(result).toStrictEqual({
        ok: true,
        value: [
          { requestId: id, approverId: 'U_A', at: at(2_000) },
          { requestId: id, approverId: 'U_B', at: at(1_000) },
        ],
      });
      expect(await stores.requests.approvals(id)).toStrictEqual(result.ok ? result.value : []);
    });

    it('refuses a second vote by the same approver', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());
      await stores.requests.addApproval(id, 'U_A', at(1_000));

      const again = await stores.requests.addApproval(id, 'U_A', at(2_000));

      expect(again).toMatchObject({ ok: false, error: 'ALREADY_APPROVED' });
      expect(await stores.requests.approvals(id)).toStrictEqual([
        { requestId: id, approverId: 'U_A', at: at(1_000) },
      ]);
    });

    it('refuses a vote on a request that is no longer pending', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());
      await stores.requests.decide(id, 'cancelled', 'U_REQ', at(1_000));

      const vote = await stores.requests.addApproval(id, 'U_A', at(2_000));

      expect(vote).toStrictEqual({ ok: false, error: 'NOT_PENDING', detail: { state: 'cancelled' } });
      expect(await stores.requests.approvals(id)).toEqual([]);
    });

    it('keeps approvals of different requests apart', async () => {
      const one = await stores.requests.insert(buildNewRequest());
      const two = await stores.requests.insert(buildNewRequest());
      await stores.requests.addApproval(one.id, 'U_A', at(1_000));
      await stores.requests.addApproval(two.id, 'U_A', at(1_000));
      expect(await stores.requests.approvals(one.id)).toHaveLength(1);
      expect(await stores.requests.approvals(two.id)).toHaveLength(1);
    });
  });

  describe('markFailed', () => {
    it('fails an approved request with a note, keeping who approved it', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());
      await stores.requests.decide(id, 'approved', 'U_APPROVER', at(1_000));

      const failed = await stores.requests.markFailed(id, 'AWS refused: UnauthorizedOperation', at(3_000));

      expect(failed).toMatchObject({
        state: 'failed',
        note: 'AWS refused: UnauthorizedOperation',
        decidedAt: at(3_000),
        decidedBy: 'U_APPROVER',
      });
      expect(await stores.requests.get(id)).toStrictEqual(failed);
    });

    it('leaves an already failed request as it was', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());
      const first = await stores.requests.markFailed(id, 'first failure', at(1_000));

      expect(await stores.requests.markFailed(id, 'second failure', at(2_000))).toStrictEqual(first);
    });

    it('refuses to fail a denied request', async () => {
      const { id } = await stores.requests.insert(buildNewRequest());
      await stores.requests.decide(id, 'denied', 'U_APPROVER', at(1_000));
      await expect(stores.requests.markFailed(id, 'boom', at(2_000))).rejects.toThrow(
        expect.objectContaining({ code: 'INVALID_STATE' }),
      );
      expect((await stores.requests.get(id))?.state).toBe('denied');
    });
  });

  describe('listPending', () => {
    it('lists pending requests oldest first, optionally for one requester', async () => {
      const late = await stores.requests.insert(
        buildNewRequest({ createdAt: at(3_000), requesterId: 'U_1' }),
      );
      const early = await stores.requests.insert(
        buildNewRequest({ createdAt: at(1_000), requesterId: 'U_2' }),
      );
      const middle = await stores.requests.insert(
        buildNewRequest({ createdAt: at(2_000), requesterId: 'U_1' }),
      );
      const decided = await stores.requests.insert(buildNewRequest({ createdAt: at(0), requesterId: 'U_1' }));
      await stores.requests.decide(decided.id, 'denied', 'U_X', at(500));

      expect((await stores.requests.listPending()).map((r) => r.id)).toEqual([early.id, middle.id, late.id]);
      expect((await stores.requests.listPending('U_1')).map((r) => r.id)).toEqual([middle.id, late.id]);
      expect(await stores.requests.listPending('U_nobody')).toEqual([]);
    });
  });

  describe('approval deadlines', () => {
    it('finds pending requests whose deadline is at or before now, earliest first', async () => {
      const due = await stores.requests.insert(buildNewRequest({ approvalDeadline: at(10_000) }));
      const dueEarlier = await stores.requests.insert(buildNewRequest({ approvalDeadline: at(5_000) }));
      await stores.requests.insert(buildNewRequest({ approvalDeadline: at(10_001) }));
      const decided = await stores.requests.insert(buildNewRequest({ approvalDeadline: at(1_000) }));
      await stores.requests.decide(decided.id, 'approved', 'U_A', at(500));

      expect((await stores.requests.timeouts.due(at(10_000))).map((r) => r.id)).toEqual([
        dueEarlier.id,
        due.id,
      ]);
      expect(await stores.requests.timeouts.due(at(4_999))).toEqual([]);
    });

    it('reports the earliest deadline among pending requests only', async () => {
      expect(await stores.requests.timeouts.next()).toBeUndefined();

      const decided = await stores.requests.insert(buildNewRequest({ approvalDeadline: at(1_000) }));
      await stores.requests.insert(buildNewRequest({ approvalDeadline: at(9_000) }));
      await stores.requests.insert(buildNewRequest({ approvalDeadline: at(7_000) }));
      await stores.requests.decide(decided.id, 'timed_out', 'hallpass', at(1_000));

      expect(await stores.requests.timeouts.next()).toEqual(at(7_000));
    });
  });
});
