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

  const activeGrant = (minutes: number, extra: { breakGlass?: boolean } = {}) => {
    const request = stores.requests.insert(buildNewRequest());
    const grant = stores.grants.insert(
      buildNewGrant({ requestId: request.id, startsAt: T0, expiresAt: at(minutes * MIN), ...extra }),
    );
    stores.grants.move(grant.id, ['opening'], 'active');
    return grant;
  };

  it('reminds a pending request once, at half of its approval time', () => {
    const r = stores.requests.insert(buildNewRequest({ createdAt: T0, approvalDeadline: at(30 * MIN) }));
    expect(stores.requests.reminders.next()).toEqual(at(15 * MIN));
    expect(stores.requests.reminders.due(at(15 * MIN - 1))).toEqual([]);
    expect(stores.requests.reminders.due(at(15 * MIN)).map((x) => x.id)).toEqual([r.id]);
    stores.requests.markReminded(r.id, at(15 * MIN));
    expect(stores.requests.reminders.due(at(29 * MIN))).toEqual([]);
    expect(stores.requests.reminders.next()).toBeUndefined();
  });

  it('does not remind a request that was decided', () => {
    const r = stores.requests.insert(buildNewRequest({ createdAt: T0, approvalDeadline: at(30 * MIN) }));
    stores.requests.decide(r.id, 'denied', 'U_APP', at(MIN));
    expect(stores.requests.reminders.due(at(20 * MIN))).toEqual([]);
  });

  it('finds the pending extension of a grant', () => {
    const g = activeGrant(30);
    expect(stores.requests.pendingExtension(g.id)).toBeUndefined();
    const ext = stores.requests.insert(buildNewRequest({ kind: 'extension', extendsGrantId: g.id }));
    expect(stores.requests.pendingExtension(g.id)).toMatchObject({
      id: ext.id,
      kind: 'extension',
      extendsGrantId: g.id,
    });
  });

  it('warns long grants once, warnBefore ahead of the end, and never grants shorter than twice that', () => {
    const long = activeGrant(30);
    activeGrant(9); // shorter than 2 × 5m: never warned
    expect(stores.grants.warnings(5 * MIN).next()).toEqual(at(25 * MIN));
    expect(stores.grants.warnings(5 * MIN).due(at(25 * MIN - 1))).toEqual([]);
    expect(
      stores.grants
        .warnings(5 * MIN)
        .due(at(25 * MIN))
        .map((g) => g.id),
    ).toEqual([long.id]);
    stores.grants.markWarned(long.id, at(25 * MIN));
    expect(stores.grants.warnings(5 * MIN).due(at(29 * MIN))).toEqual([]);
    expect(stores.grants.warnings(0).due(at(29 * MIN))).toEqual([]);
  });

  it('lists unreviewed break-glass grants until an approver reviews them, once', () => {
    const bg = activeGrant(30, { breakGlass: true });
    activeGrant(30);
    expect(stores.grants.unreviewedBreakGlass().map((g) => g.id)).toEqual([bg.id]);
    expect(stores.grants.markReviewed(bg.id, 'U_APP', at(40 * MIN))).toMatchObject({
      ok: true,
      value: { reviewedBy: 'U_APP', reviewedAt: at(40 * MIN) },
    });
    expect(stores.grants.markReviewed(bg.id, 'U_OTHER', at(41 * MIN))).toMatchObject({
      ok: false,
      error: 'ALREADY_REVIEWED',
    });
    expect(stores.grants.unreviewedBreakGlass()).toEqual([]);
  });
});
