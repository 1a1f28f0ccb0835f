import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import { buildNewGrant, buildNewRequest, T0 } from '../../support/builders';

const MIN = 60_000;
const at = (ms: number): Date => new Date(T0.getTime() + ms);

describe('SQLite stores: reminders, warnings, extensions, reviews', () => {
  let handle: DbHandle;
  let stores: SqliteStores;
  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });
  afterEach(() => handle.close());

  const activeGrant = async (minutes: number, extra: { breakGlass?: boolean } = {}) => {
    const request = await stores.requests.insert(buildNewRequest());
    const grant = await stores.grants.insert(
      buildNewGrant({ requestId: request.id, startsAt: T0, expiresAt: at(minutes * MIN), ...extra }),
    );
    await stores.grants.move(grant.id, ['opening'], 'active');
    return grant;
  };

  it('reminds a pending request once, at half of its approval time', async () => {
    const r = await stores.requests.insert(
      buildNewRequest({ createdAt: T0, approvalDeadline: at(30 * MIN) }),
    );
    expect(await stores.requests.reminders.next()).toEqual(at(15 * MIN));
    expect(await stores.requests.reminders.due(at(15 * MIN - 1))).toEqual([]);
    expect((await stores.requests.reminders.due(at(15 * MIN))).map((x) => x.id)).toEqual([r.id]);
    await stores.requests.markReminded(r.id, at(15 * MIN));
    expect(await stores.requests.reminders.due(at(29 * MIN))).toEqual([]);
    expect(await stores.requests.reminders.next()).toBeUndefined();
  });

  it('does not remind a request that was decided', async () => {
    const r = await stores.requests.insert(
      buildNewRequest({ createdAt: T0, approvalDeadline: at(30 * MIN) }),
    );
    await stores.requests.decide(r.id, 'denied', 'U_APP', at(MIN));
    expect(await stores.requests.reminders.due(at(20 * MIN))).toEqual([]);
  });

  it('finds the pending extension of a grant', async () => {
    const g = await activeGrant(30);
    expect(await stores.requests.pendingExtension(g.id)).toBeUndefined();
    const ext = await stores.requests.insert(buildNewRequest({ kind: 'extension', extendsGrantId: g.id }));
    expect(await stores.requests.pendingExtension(g.id)).toMatchObject({
      id: ext.id,
      kind: 'extension',
      extendsGrantId: g.id,
    });
  });

  it('warns long grants once, warnBefore ahead of the end, and never grants shorter than twice that', async () => {
    const long = await activeGrant(30);
    await activeGrant(9); // shorter than 2 × 5m: never warned
    expect(await stores.grants.warnings(5 * MIN).next()).toEqual(at(25 * MIN));
    expect(await stores.grants.warnings(5 * MIN).due(at(25 * MIN - 1))).toEqual([]);
    expect((await stores.grants.warnings(5 * MIN).due(at(25 * MIN))).map((g) => g.id)).toEqual([long.id]);
    await stores.grants.markWarned(long.id, at(25 * MIN));
    expect(await stores.grants.warnings(5 * MIN).due(at(29 * MIN))).toEqual([]);
    expect(await stores.grants.warnings(0).due(at(29 * MIN))).toEqual([]);
  });

  it('lists unreviewed break-glass grants until an approver reviews them, once', async () => {
    const bg = await activeGrant(30, { breakGlass: true });
    await activeGrant(30);
    expect((await stores.grants.unreviewedBreakGlass()).map((g) => g.id)).toEqual([bg.id]);
    expect(await stores.grants.markReviewed(bg.id, 'U_APP', at(40 * MIN))).toMatchObject({
      ok: true,
      value: { reviewedBy: 'U_APP', reviewedAt: at(40 * MIN) },
    });
    expect(await stores.grants.markReviewed(bg.id, 'U_OTHER', at(41 * MIN))).toMatchObject({
      ok: false,
      error: 'ALREADY_REVIEWED',
    });
    expect(await stores.grants.unreviewedBreakGlass()).toEqual([]);
  });
});
