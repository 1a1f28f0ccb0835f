import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import type { NewGrant } from '../../../src/app/ports';
import { buildNewGrant, buildNewRequest, T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

describe('SQLite grant store', () => {
  let handle: DbHandle;
  let stores: SqliteStores;

  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });

  afterEach(() => {
    handle.close();
  });

  /** Inserts a request and a grant for it (grants reference their request). */
  const grantFor = async (overrides: Partial<NewGrant> = {}) => {
    const request = await stores.requests.insert(
      buildNewRequest({ requesterId: overrides.requesterId ?? 'U_REQ' }),
    );
    return stores.grants.insert(buildNewGrant({ requestId: request.id, ...overrides }));
  };

  const activeGrant = async (overrides: Partial<NewGrant> = {}) => {
    const grant = await grantFor(overrides);
    await stores.grants.move(grant.id, ['opening'], 'active');
    return grant;
  };

  describe('insert and read', () => {
    it('round-trips a grant in state opening, to the millisecond', async () => {
      const request = await stores.requests.insert(buildNewRequest());
      const input = buildNewGrant({ requestId: request.id, startsAt: at(1), expiresAt: at(1_800_001) });

      const inserted = await stores.grants.insert(input);

      expect(inserted).toStrictEqual({ ...input, state: 'opening', breakGlass: false, closeAttempts: 0 });
      expect(await stores.grants.get(input.id)).toStrictEqual(inserted);
      expect(await stores.grants.byRequest(request.id)).toStrictEqual(inserted);
    });

    it('returns undefined for an unknown grant or a request without a grant', async () => {
      const request = await stores.requests.insert(buildNewRequest());
      expect(await stores.grants.get('grt_unknown')).toBeUndefined();
      expect(await stores.grants.byRequest(request.id)).toBeUndefined();
    });

    it('refuses a second grant for the same request', async () => {
      const first = await grantFor();

      await expect(stores.grants.insert(buildNewGrant({ requestId: first.requestId }))).rejects.toThrow(
        expect.objectContaining({ operation: 'grants.insert', code: 'SQLITE_CONSTRAINT_UNIQUE' }),
      );
      expect(await stores.grants.list(['opening'])).toHaveLength(1);
    });

    it('refuses a grant for a request that does not exist', async () => {
      await expect(stores.grants.insert(buildNewGrant({ requestId: 'req_missing' }))).rejects.toThrow(
        expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }),
      );
    });
  });

  describe('move', () => {
    it('moves from an expected state and sets the end fields', async () => {
      const grant = await activeGrant();
      await stores.grants.move(grant.id, ['active'], 'closing');

      const closed = await stores.grants.move(grant.id, ['closing'], 'closed', {
        endedAt: at(60_000),
        endReason: 'revoked',
        endedBy: 'U_ADMIN',
      });

      const expected = {
        ...grant,
        state: 'closed',
        endedAt: at(60_000),
        endReason: 'revoked',
        endedBy: 'U_ADMIN',
      };
      expect(closed).toStrictEqual({ ok: true, value: expected });
      expect(await stores.grants.get(grant.id)).toStrictEqual(expected);
    });

    it('refuses a move from a state the grant is no longer in', async () => {
      const grant = await activeGrant();
      await stores.grants.move(grant.id, ['active'], 'closing');

      const late = await stores.grants.move(grant.id, ['active'], 'closing', { endedBy: 'U_LATE' });

      expect(late).toStrictEqual({ ok: false, error: 'STATE_CHANGED', detail: { state: 'closing' } });
      expect((await stores.grants.get(grant.id))?.endedBy).toBeUndefined();
    });

    it('refuses a move with no expected state', async () => {
      const grant = await grantFor();
      expect(await stores.grants.move(grant.id, [], 'active')).toMatchObject({
        ok: false,
        error: 'STATE_CHANGED',
      });
      expect((await stores.grants.get(grant.id))?.state).toBe('opening');
    });

    it('throws for an unknown grant', async () => {
      await expect(stores.grants.move('grt_unknown', ['active'], 'closing')).rejects.toThrow(
        expect.objectContaining({ code: 'NOT_FOUND' }),
      );
    });
  });

  describe('list', () => {
    it('lists grants in the given states, earliest expiry first, optionally for one requester', async () => {
      const later = await activeGrant({ expiresAt: at(90_000), requesterId: 'U_1' });
      const sooner = await activeGrant({ expiresAt: at(30_000), requesterId: 'U_2' });
      const opening = await grantFor({ expiresAt: at(60_000), requesterId: 'U_1' });
      const closed = await activeGrant({ expiresAt: at(10_000), requesterId: 'U_1' });
      await stores.grants.move(closed.id, ['active'], 'closed');

      expect((await stores.grants.list(['active', 'opening'])).map((g) => g.id)).toEqual([
        sooner.id,
        opening.id,
        later.id,
      ]);
      expect((await stores.grants.list(['active', 'opening'], 'U_1')).map((g) => g.id)).toEqual([
        opening.id,
        later.id,
      ]);
      expect(await stores.grants.list([])).toEqual([]);
    });
  });

  describe('expiry', () => {
    it('finds grants due to be closed: expired active or opening ones and unfinished closes, closes first', async () => {
      const dueNow = await activeGrant({ expiresAt: at(10_000) });
      const dueEarlier = await activeGrant({ expiresAt: at(5_000) });
      await activeGrant({ expiresAt: at(10_001) });
      const stuckClosing = await activeGrant({ expiresAt: at(99_000) });
      await stores.grants.move(stuckClosing.id, ['active'], 'closing');
      const closed = await activeGrant({ expiresAt: at(1_000) });
      await stores.grants.move(closed.id, ['active'], 'closed');
      // An open that ran past its end (or that a failure left behind) is due too: whatever it holds must go.
      const openingPastEnd = await grantFor({ expiresAt: at(1_000) });
      await grantFor({ expiresAt: at(20_000) }); // opening, in time: the open is still running

      expect((await stores.grants.closes.due(at(10_000))).map((g) => g.id)).toEqual([
        stuckClosing.id,
        openingPastEnd.id,
        dueEarlier.id,
        dueNow.id,
      ]);
    });

    it('reports the next due moment by the same definition: a close that has not finished is due at once', async () => {
      expect(await stores.grants.closes.next()).toBeUndefined();

      await grantFor({ expiresAt: at(8_000) });
      await activeGrant({ expiresAt: at(9_000) });
      await activeGrant({ expiresAt: at(7_000) });
      expect(await stores.grants.closes.next()).toEqual(at(7_000));

      const closing = await activeGrant({ expiresAt: at(60_000) });
      await stores.grants.move(closing.id, ['active'], 'closing');
      expect(await stores.grants.closes.next()).toEqual(new Date(0));
    });

    it('waits for a failed close until its retry time, counting the attempts', async () => {
      const grant = await activeGrant({ expiresAt: at(1_000) });
      await stores.grants.move(grant.id, ['active'], 'closing');
      const failed = await stores.grants.closeFailed(grant.id, at(30_000));
      expect(failed).toMatchObject({ state: 'closing', closeAttempts: 1, retryAt: at(30_000) });
      expect((await stores.grants.closeFailed(grant.id, at(40_000)))?.closeAttempts).toBe(2);
      expect(await stores.grants.closes.next()).toEqual(at(40_000));
      expect(await stores.grants.closes.due(at(39_999))).toEqual([]);
      expect((await stores.grants.closes.due(at(40_000))).map((g) => g.id)).toEqual([grant.id]);
      // Only a closing grant can fail a close.
      expect(await stores.grants.closeFailed((await activeGrant()).id, at(1))).toBeUndefined();
    });

    it.each([
      ['opening, in time', 'opening', 60_000, 60_000],
      ['opening, past its end', 'opening', 1_000, 1_000],
      ['active, in time', 'active', 60_000, 60_000],
      ['active, past its end', 'active', 1_000, 1_000],
      ['closing', 'closing', 60_000, 0],
      ['closed', 'closed', 1_000, undefined],
      ['failed', 'failed', 1_000, undefined],
    ] as const)(
      'agrees with itself on a grant %s: due now exactly when its next due time has come',
      async (_name, state, endsIn, dueAt) => {
        const grant = await grantFor({ expiresAt: at(endsIn) });
        if (state !== 'opening') await stores.grants.move(grant.id, ['opening'], state);
        const next = await stores.grants.closes.next();
        const dueNow = (await stores.grants.closes.due(at(10_000))).some((g) => g.id === grant.id);
        expect(next?.getTime()).toBe(dueAt === undefined ? undefined : dueAt === 0 ? 0 : at(dueAt).getTime());
        expect(dueNow).toBe(next !== undefined && next <= at(10_000));
        if (next !== undefined)
          expect((await stores.grants.closes.due(next)).some((g) => g.id === grant.id)).toBe(true);
      },
    );
  });
});
