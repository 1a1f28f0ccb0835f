import { openLockKey } from '../../../../src/app/open-grant';
import {
  APPROVERS,
  approved,
  auditTypes,
  createTestApp,
  earliestDue,
  MINUTE,
  member,
  submit,
  type TestApp,
} from '../../../support/app-deps';
import { buildNewGrant, buildSgResource } from '../../../support/builders';

/** A grant of prod-db recorded as opening (its request approved), ending a minute from now. */
async function openingGrant(app: TestApp) {
  const request = await submit(app, 'prod-db');
  const now = app.clock.now();
  await app.stores.requests.decide(request.id, 'approved', APPROVERS[0], now);
  return app.stores.grants.insert(
    buildNewGrant({ requestId: request.id, startsAt: now, expiresAt: new Date(now.getTime() + MINUTE) }),
  );
}

describe('closing a grant', () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp({ policy: { warnBefore: 0 } });
  });

  it('keeps a close that failed closing with a retry time, wakes for it, and closes it on a later run', async () => {
    const { requestId, grantId } = await approved(app);
    app.clock.advance(30 * MINUTE);
    app.network.failNext('revoke');

    const failed = await app.useCases.dueWork.run(app.clock.now());

    expect(failed.closed).toBe(0);
    const retrying = await app.stores.grants.get(grantId);
    expect(retrying).toMatchObject({ state: 'closing', closeAttempts: 1 });
    const retryAt = retrying?.retryAt ?? new Date(0);
    // The first retry of a throttled close comes after one to two seconds (a step longer than after
    // another failure: the SDK already backed off).
    expect(retryAt.getTime() - app.clock.now().getTime()).toBeGreaterThanOrEqual(1_000);
    expect(retryAt.getTime() - app.clock.now().getTime()).toBeLessThanOrEqual(2_000);
    expect(await app.useCases.dueWork.nextDue()).toContainEqual(retryAt);
    expect([...app.network.rules.keys()]).toEqual(['sgr-1']);

    // Not before its time…
    app.clock.set(new Date(retryAt.getTime() - 1));
    expect((await app.useCases.dueWork.run(app.clock.now())).closed).toBe(0);
    expect((await app.stores.grants.get(grantId))?.state).toBe('closing');

    // …and at it.
    app.clock.set(retryAt);
    expect((await app.useCases.dueWork.run(app.clock.now())).closed).toBe(1);
    expect(await app.stores.grants.get(grantId)).toMatchObject({
      state: 'closed',
      endReason: 'expired',
      endedAt: retryAt,
    });
    expect(app.network.rules.size).toBe(0);
    expect(await app.stores.rules.holdsOf(grantId)).toEqual([]);
    expect((await auditTypes(app, requestId)).filter((t) => t.startsWith('grant.'))).toEqual([
      'grant.opened',
      'grant.closing',
      'grant.closed',
    ]);
    expect(await earliestDue(app)).toBeUndefined();
  });

  it('revokes a rule whose opener died before recording it, when the grant comes due still opening', async () => {
    // A replica authorized the rule and was killed before recording its hold: the grant is still
    // `opening` (another replica takes it over only after a grace), and only the rule's tags name it.
    const request = await submit(app, 'prod-db');
    const now = app.clock.now();
    await app.stores.requests.decide(request.id, 'approved', APPROVERS[0], now);
    const grant = await app.stores.grants.insert(
      buildNewGrant({ requestId: request.id, startsAt: now, expiresAt: new Date(now.getTime() + MINUTE) }),
    );
    await app.network.authorize(
      { region: 'us-east-1', groupId: buildSgResource().securityGroupId },
      { protocol: 'tcp', fromPort: 5432, toPort: 5432, cidr: '203.0.113.7/32' },
      { grantId: grant.id },
    );
    app.clock.advance(MINUTE);

    const ran = await app.useCases.dueWork.run(app.clock.now());

    expect(ran.closed).toBe(1);
    expect(app.network.rules.size).toBe(0);
    expect(await app.stores.grants.get(grant.id)).toMatchObject({ state: 'closed', endReason: 'expired' });
    expect(await app.stores.rules.holdsOf(grant.id)).toEqual([]);
    expect((await app.stores.audit.lastOfType('grant.closed'))?.details).toMatchObject({
      revokedRuleIds: ['sgr-1'],
    });
  });

  it('does not list the group for a grant closed while its opener is still at work', async () => {
    // The opener is alive (it holds the grant's open lock: waiting for the group's lock, or this very
    // call when the time ran out mid-open). It records every rule it authorizes under the group's lock,
    // so nothing of it can be unrecorded, and the close revokes what it holds without listing the group.
    const grant = await openingGrant(app);
    let listings = 0;
    const list = app.network.listManaged.bind(app.network);
    app.network.listManaged = (target) => {
      listings += 1;
      return list(target);
    };
    app.clock.advance(MINUTE);

    const closed = await app.deps.locks.run(openLockKey(grant.id), () =>
      app.useCases.closeGrant(grant.id, 'expired', 'hallpass'),
    );

    expect(closed).toMatchObject({ state: 'closed', endReason: 'expired' });
    expect(listings).toBe(0);
    // With the open lock free (the opener gone), the same close lists the group once.
    const orphan = await openingGrant(app);
    await app.useCases.closeGrant(orphan.id, 'expired', 'hallpass');
    expect(listings).toBe(1);
  });

  it('records the rule a dead opener left unrecorded when recovery closes its expired grant, so the sweep revokes it', async () => {
    // The opener authorized a rule and died before recording it; the grant's time ran out while
    // hallpass was down. Recovery moves it to closing and records the rule (found by its grant tag),
    // so the close that follows revokes it, before hallpass serves.
    const grant = await openingGrant(app);
    const resource = app.deps.policy().resources.find((r) => r.id === 'prod-db');
    if (resource?.kind !== 'security-group')
      throw new Error('prod-db is a security group in the test policy');
    app.network.rules.set('sgr-left', {
      ruleId: 'sgr-left',
      grantId: grant.id,
      region: resource.region,
      groupId: resource.securityGroupId,
      protocol: 'tcp',
      fromPort: 5432,
      toPort: 5432,
      cidr: '192.0.2.9/32',
    });
    app.clock.advance(2 * MINUTE);

    expect(await app.useCases.recoverInterrupted()).toEqual({ reopened: 0, closed: 1 });
    expect((await app.stores.rules.holdsOf(grant.id)).map((h) => h.ruleId)).toEqual(['sgr-left']);

    await app.useCases.dueWork.run(app.clock.now());
    expect(await app.stores.grants.get(grant.id)).toMatchObject({ state: 'closed', endReason: 'expired' });
    expect(app.network.rules.has('sgr-left')).toBe(false);
  });

  it('keeps a rule two grants share until the last of them ends', async () => {
    app.directory.set(member('U_REQ2'));
    const first = await approved(app);
    const second = await approved(app, 'prod-db', { requester: 'U_REQ2' });
    expect(app.network.calls.filter((c) => c.startsWith('authorize'))).toHaveLength(1);
    expect(await app.stores.rules.otherLiveHolders('sgr-1', first.grantId)).toBe(1);

    const revoked = await app.useCases.revokeGrant({
      grantId: first.grantId,
      actor: member('U_REQ'),
      reason: 'done',
    });
    expect(revoked).toMatchObject({ ok: true, value: { state: 'closed', endReason: 'done' } });
    expect([...app.network.rules.keys()]).toEqual(['sgr-1']);
    expect((await app.stores.audit.lastOfType('grant.closed'))?.details).toMatchObject({
      revokedRuleIds: [],
      stillHeldByOtherGrants: ['sgr-1'],
    });

    await app.useCases.revokeGrant({ grantId: second.grantId, actor: member('U_REQ2'), reason: 'done' });
    expect(app.network.rules.size).toBe(0);
    expect(app.network.calls.at(-1)).toBe('revoke sg-0123456789abcdef0 sgr-1');
  });
});
