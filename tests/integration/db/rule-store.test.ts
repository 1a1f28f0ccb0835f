import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import type { RuleHold, RuleKey } from '../../../src/app/ports';
import type { GrantState } from '../../../src/domain/grant';
import { buildNewGrant, buildNewRequest, T0 } from '../../support/builders';

const KEY: RuleKey = {
  region: 'us-east-1',
  groupId: 'sg-0123456789abcdef0',
  protocol: 'tcp',
  fromPort: 5432,
  toPort: 5432,
  cidr: '203.0.113.7/32',
};

describe('SQLite rule store', () => {
  let handle: DbHandle;
  let stores: SqliteStores;

  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });

  afterEach(() => {
    handle.close();
  });

  /** A grant in `state` (reached through the store's own moves). */
  const grantIn = async (state: GrantState): Promise<string> => {
    const request = await stores.requests.insert(buildNewRequest());
    const grant = await stores.grants.insert(buildNewGrant({ requestId: request.id }));
    if (state !== 'opening') {
      const result = await stores.grants.move(grant.id, ['opening'], state);
      if (!result.ok) throw new Error('setup: move failed');
    }
    return grant.id;
  };

  const holdOf = (grantId: string, overrides: Partial<RuleHold> = {}): RuleHold => ({
    ...KEY,
    grantId,
    ruleId: 'sgr-0aaa',
    managed: true,
    ...overrides,
  });

  it('round-trips the holds of one grant', async () => {
    const grantId = await grantIn('active');
    const first = holdOf(grantId);
    const second = holdOf(grantId, { ruleId: 'sgr-0bbb', fromPort: 8000, toPort: 8080, managed: false });

    await stores.rules.hold(first);
    await stores.rules.hold(second);

    expect(await stores.rules.holdsOf(grantId)).toStrictEqual([first, second]);
  });

  it('records a grant holding the same rule twice only once', async () => {
    const grantId = await grantIn('active');
    await stores.rules.hold(holdOf(grantId));
    await stores.rules.hold(holdOf(grantId));
    expect(await stores.rules.holdsOf(grantId)).toHaveLength(1);
  });

  it('counts the other live holders of a shared rule, and none once the other grant is closed', async () => {
    const mine = await grantIn('active');
    const theirs = await grantIn('active');
    await stores.rules.hold(holdOf(mine));
    await stores.rules.hold(holdOf(theirs));

    expect(await stores.rules.otherLiveHolders('sgr-0aaa', mine)).toBe(1);

    await stores.grants.move(theirs, ['active'], 'closed');
    expect(await stores.rules.otherLiveHolders('sgr-0aaa', mine)).toBe(0);
  });

  it('does not count released holds', async () => {
    const mine = await grantIn('active');
    const theirs = await grantIn('active');
    await stores.rules.hold(holdOf(mine));
    await stores.rules.hold(holdOf(theirs));

    await stores.rules.release(theirs, T0);

    expect(await stores.rules.otherLiveHolders('sgr-0aaa', mine)).toBe(0);
    expect(await stores.rules.holdsOf(theirs)).toEqual([]);
    expect(await stores.rules.holdsOf(mine)).toHaveLength(1);
  });

  it.each<[GrantState, number]>([
    ['opening', 1],
    ['active', 1],
    ['closing', 1],
    ['closed', 0],
    ['failed', 0],
  ])('counts a holder whose grant is %s as %i live holder(s)', async (state, expected) => {
    const mine = await grantIn('active');
    const theirs = await grantIn(state);
    await stores.rules.hold(holdOf(theirs));
    expect(await stores.rules.otherLiveHolders('sgr-0aaa', mine)).toBe(expected);
  });

  it('ignores holds on other rules', async () => {
    const mine = await grantIn('active');
    const theirs = await grantIn('active');
    await stores.rules.hold(holdOf(theirs, { ruleId: 'sgr-0other' }));
    expect(await stores.rules.otherLiveHolders('sgr-0aaa', mine)).toBe(0);
  });

  it('finds a live hold with the same key so its rule can be shared', async () => {
    const theirs = await grantIn('active');
    const hold = holdOf(theirs);
    await stores.rules.hold(hold);

    expect(await stores.rules.findLive(KEY)).toStrictEqual(hold);
  });

  it.each<[string, Partial<RuleKey>]>([
    ['region', { region: 'eu-west-1' }],
    ['group', { groupId: 'sg-0fff' }],
    ['protocol', { protocol: 'udp' }],
    ['from port', { fromPort: 5433 }],
    ['to port', { toPort: 5433 }],
    ['address', { cidr: '203.0.113.8/32' }],
  ])('does not share a rule whose %s differs', async (_field, change) => {
    await stores.rules.hold(holdOf(await grantIn('active')));
    expect(await stores.rules.findLive({ ...KEY, ...change })).toBeUndefined();
  });

  it('does not share a rule held only by a released or ended grant', async () => {
    const released = await grantIn('active');
    await stores.rules.hold(holdOf(released));
    await stores.rules.release(released, T0);
    await stores.rules.hold(holdOf(await grantIn('closed'), { ruleId: 'sgr-0ccc' }));

    expect(await stores.rules.findLive(KEY)).toBeUndefined();
  });

  it('lets a grant hold a rule again after releasing it', async () => {
    const grantId = await grantIn('active');
    await stores.rules.hold(holdOf(grantId));
    await stores.rules.release(grantId, T0);
    await stores.rules.hold(holdOf(grantId));
    expect(await stores.rules.holdsOf(grantId)).toHaveLength(1);
  });

  describe('what opened a rule', () => {
    const ROLE = 'arn:aws:iam::210987654321:role/NetworkAdmin';

    it('keeps the role that reached the group with each hold', async () => {
      const grantId = await grantIn('active');
      await stores.rules.hold(holdOf(grantId, { assumeRoleArn: ROLE }));
      await stores.rules.hold(holdOf(grantId, { ruleId: 'sgr-0bbb', fromPort: 6432, toPort: 6432 }));
      expect((await stores.rules.holdsOf(grantId)).map((h) => h.assumeRoleArn)).toEqual([ROLE, undefined]);
    });

    it('knows every group a hold still holds or released lately, with its role, whatever the policy says', async () => {
      const live = await grantIn('active');
      const ended = await grantIn('active');
      const old = await grantIn('active');
      await stores.rules.hold(holdOf(live, { assumeRoleArn: ROLE }));
      await stores.rules.hold(holdOf(ended, { ruleId: 'sgr-0bbb', groupId: 'sg-0fedcba9876543210' }));
      await stores.rules.hold(
        holdOf(old, { ruleId: 'sgr-0ccc', groupId: 'sg-0000000000000000f', region: 'eu-west-1' }),
      );
      await stores.rules.release(ended, new Date(T0.getTime() + 5_000));
      await stores.rules.release(old, new Date(T0.getTime() - 5_000));
      expect(await stores.rules.knownTargets(T0)).toEqual([
        { region: 'us-east-1', groupId: 'sg-0123456789abcdef0', assumeRoleArn: ROLE },
        { region: 'us-east-1', groupId: 'sg-0fedcba9876543210' },
      ]);
    });

    it('fills in, once, the role of holds written before holds recorded it', async () => {
      const grantId = await grantIn('active');
      await stores.rules.hold(holdOf(grantId));
      // As a database migrated from before: the hold exists, its target was never recorded.
      handle.sqlite.prepare('UPDATE rule_holds SET target_recorded = 0').run();
      expect(await stores.rules.recordLegacyTargets(() => ROLE)).toBe(1);
      expect((await stores.rules.holdsOf(grantId))[0]?.assumeRoleArn).toBe(ROLE);
      // Recorded now: a later policy cannot change what closes it.
      expect(await stores.rules.recordLegacyTargets(() => undefined)).toBe(0);
      expect((await stores.rules.holdsOf(grantId))[0]?.assumeRoleArn).toBe(ROLE);
    });
  });
});
