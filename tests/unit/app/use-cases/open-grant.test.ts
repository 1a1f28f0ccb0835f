import { STILL_CLOSING } from '../../../../src/app/open-grant';
import {
  approved,
  auditTypes,
  createTestApp,
  drainOutbox,
  earliestDue,
  MINUTE,
  REQUESTER,
  type TestApp,
} from '../../../support/app-deps';

describe('openGrant', () => {
  let app: TestApp;
  beforeEach(() => {
    app = createTestApp();
  });

  it('opens the rule, holds it, and makes the grant active, recording each step in order', async () => {
    const start = app.clock.now();
    const { requestId, grantId } = await approved(app, 'prod-db');

    expect(app.network.calls).toEqual(['authorize sg-0123456789abcdef0 5432-5432 203.0.113.7/32']);
    expect(await app.stores.grants.get(grantId)).toMatchObject({
      state: 'active',
      startsAt: start,
      expiresAt: new Date(start.getTime() + 30 * MINUTE),
    });
    expect(await app.stores.rules.holdsOf(grantId)).toEqual([
      expect.objectContaining({
        ruleId: 'sgr-1',
        groupId: 'sg-0123456789abcdef0',
        cidr: '203.0.113.7/32',
        managed: true,
      }),
    ]);
    expect([...app.network.rules.keys()]).toEqual(['sgr-1']);
    expect(await auditTypes(app, requestId)).toEqual([
      'request.submitted',
      'request.approval_recorded',
      'request.approved',
      'grant.opened',
    ]);
    expect((await app.stores.audit.lastOfType('grant.opened'))?.details).toMatchObject({
      ruleIds: ['sgr-1'],
      shared: [],
    });
    expect(await drainOutbox(app)).toEqual(
      expect.arrayContaining([{ kind: 'dm', userId: REQUESTER, notice: 'grant-started' }]),
    );
    expect(app.wakes()).toBeGreaterThan(0);
  });

  it('rolls back the rule it opened when a later authorize fails: the grant fails and holds nothing', async () => {
    app.network.failNext('authorize', { skip: 1 });
    const { requestId, grantId } = await approved(app, 'prod-web');

    expect(app.network.calls).toEqual([
      'authorize sg-0web 443-443 203.0.113.7/32',
      'authorize sg-0web 8000-8080 203.0.113.7/32',
      'revoke sg-0web sgr-1',
    ]);
    expect(app.network.rules.size).toBe(0);
    expect(await app.stores.grants.get(grantId)).toMatchObject({
      state: 'failed',
      endReason: 'failed',
      endedAt: app.clock.now(),
    });
    expect(await app.stores.rules.holdsOf(grantId)).toEqual([]);
    expect((await app.stores.requests.get(requestId))?.state).toBe('failed');
    expect((await app.stores.requests.get(requestId))?.note).toMatch(/throttling/);
    expect((await app.stores.audit.lastOfType('grant.failed'))?.details).not.toHaveProperty('rollback');
    // Nothing is left to close.
    expect(await app.stores.grants.closes.next()).toBeUndefined();
  });

  it('leaves the grant closing when the rollback fails too, and the next due-work run closes it', async () => {
    app.network.failNext('authorize', { skip: 1 });
    app.network.failNext('revoke');
    const { requestId, grantId } = await approved(app, 'prod-web');

    expect(await app.stores.grants.get(grantId)).toMatchObject({ state: 'closing', endReason: 'failed' });
    expect((await app.stores.requests.get(requestId))?.note).toContain(STILL_CLOSING);
    expect((await app.stores.rules.holdsOf(grantId)).map((h) => h.ruleId)).toEqual(['sgr-1']);
    expect([...app.network.rules.keys()]).toEqual(['sgr-1']);
    expect((await app.stores.audit.lastOfType('grant.failed'))?.details).toMatchObject({
      rollback: 'failed',
      stillOpenRuleIds: ['sgr-1'],
    });
    // Due at once: the scheduler wakes for it now, not at the grant's planned end.
    const due = await earliestDue(app);
    expect(due?.getTime()).toBeLessThanOrEqual(app.clock.now().getTime());

    const run = await app.useCases.dueWork.run(app.clock.now());

    expect(run.closed).toBe(1);
    expect(app.network.rules.size).toBe(0);
    expect(app.network.calls.at(-1)).toBe('revoke sg-0web sgr-1');
    expect(await app.stores.grants.get(grantId)).toMatchObject({ state: 'failed', endedAt: app.clock.now() });
    expect(await app.stores.rules.holdsOf(grantId)).toEqual([]);
    expect((await auditTypes(app, requestId)).slice(-2)).toEqual(['grant.failed', 'grant.closed']);
    expect(await app.stores.grants.closes.next()).toBeUndefined();
  });
});
