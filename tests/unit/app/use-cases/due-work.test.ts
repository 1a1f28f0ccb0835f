import { REVOKED_SESSIONS_POLICY } from '../../../../src/app/role-revocation';
import { createUseCases } from '../../../../src/app/use-cases';
import {
  approved,
  createTestApp,
  drainOutbox,
  earliestDue,
  MINUTE,
  REQUESTER,
  submit,
  type TestApp,
} from '../../../support/app-deps';

/** Sets the clock to `at` and runs the due work there, as the scheduler's timer does. */
async function runAt(app: TestApp, at: Date) {
  app.clock.set(at);
  return app.useCases.dueWork.run(at);
}

const justBefore = (t: Date): Date => new Date(t.getTime() - 1);

/**
 * The invariant due-work.ts exists for: for every kind of due work, `nextDue()` names its time, and a
 * run at that time (not a millisecond earlier) does it. A kind the scheduler is not woken for, or one
 * it wakes for and the run skips, fails here.
 */
describe('due work: every kind is woken for, and done, at its time', () => {
  it('closes an expired grant exactly at its end', async () => {
    const app = createTestApp({ policy: { warnBefore: 0 } });
    const { grantId } = await approved(app);
    const end = (await app.stores.grants.get(grantId))?.expiresAt ?? new Date(0);
    expect(await earliestDue(app)).toEqual(end);

    expect((await runAt(app, justBefore(end))).closed).toBe(0);
    expect((await app.stores.grants.get(grantId))?.state).toBe('active');

    expect((await runAt(app, end)).closed).toBe(1);
    expect(await app.stores.grants.get(grantId)).toMatchObject({
      state: 'closed',
      endReason: 'expired',
      endedAt: end,
    });
    expect(app.network.rules.size).toBe(0);
    expect(await drainOutbox(app)).toContainEqual({ kind: 'dm', userId: REQUESTER, notice: 'grant-ended' });
    expect(await earliestDue(app)).toBeUndefined();
  });

  it('reminds the approvers at half the approval time, then times the request out at its deadline', async () => {
    const app = createTestApp();
    const request = await submit(app);
    await drainOutbox(app);
    const halfway = new Date(request.createdAt.getTime() + 15 * MINUTE);
    expect(await earliestDue(app)).toEqual(halfway);

    await runAt(app, justBefore(halfway));
    expect((await app.stores.requests.get(request.id))?.remindedAt).toBeUndefined();
    await runAt(app, halfway);
    expect((await app.stores.requests.get(request.id))?.remindedAt).toEqual(halfway);
    expect(await drainOutbox(app)).toEqual([{ kind: 'thread', notice: 'approval-reminder' }]);

    expect(await earliestDue(app)).toEqual(request.approvalDeadline);
    expect((await runAt(app, justBefore(request.approvalDeadline))).timedOut).toBe(0);
    expect((await runAt(app, request.approvalDeadline)).timedOut).toBe(1);
    expect(await app.stores.requests.get(request.id)).toMatchObject({
      state: 'timed_out',
      decidedBy: 'hallpass',
    });
    expect(await drainOutbox(app)).toContainEqual({
      kind: 'dm',
      userId: REQUESTER,
      notice: 'request-timed-out',
    });
    expect(await earliestDue(app)).toBeUndefined();
  });

  it('warns the requester warnBefore ahead of the end, once, then closes at the end', async () => {
    const app = createTestApp({ policy: { warnBefore: 5 * MINUTE } });
    const { grantId } = await approved(app);
    await drainOutbox(app);
    const end = (await app.stores.grants.get(grantId))?.expiresAt ?? new Date(0);
    const warnAt = new Date(end.getTime() - 5 * MINUTE);
    expect(await earliestDue(app)).toEqual(warnAt);

    await runAt(app, justBefore(warnAt));
    expect((await app.stores.grants.get(grantId))?.warnedAt).toBeUndefined();
    await runAt(app, warnAt);
    expect((await app.stores.grants.get(grantId))?.warnedAt).toEqual(warnAt);
    expect(await drainOutbox(app)).toEqual([{ kind: 'dm', userId: REQUESTER, notice: 'grant-expiring' }]);

    expect(await earliestDue(app)).toEqual(end);
    expect((await runAt(app, end)).closed).toBe(1);
  });

  it('takes a revoked role session out of the deny list once it has expired by itself', async () => {
    const app = createTestApp();
    const { grantId } = await approved(app, 'prod-readonly');
    const session = await app.stores.roleSessions.get(grantId);
    const expiry = session?.expiresAt ?? new Date(0);
    expect(expiry).toEqual(new Date(app.clock.now().getTime() + 30 * MINUTE));
    app.clock.advance(10 * MINUTE);
    await app.useCases.revokeGrant({ grantId, actor: await app.directory.actor(REQUESTER), reason: 'done' });
    expect(app.roles.lists.get(session?.roleArn ?? '?')).toEqual([session?.assumedRoleId]);
    expect((await app.stores.roleSessions.get(grantId))?.denyPolicyName).toBe(REVOKED_SESSIONS_POLICY);
    expect(await earliestDue(app)).toEqual(expiry);

    await runAt(app, justBefore(expiry));
    expect((await app.stores.roleSessions.get(grantId))?.denyRemovedAt).toBeUndefined();
    await runAt(app, expiry);
    expect((await app.stores.roleSessions.get(grantId))?.denyRemovedAt).toEqual(expiry);
    expect(app.roles.lists.has(session?.roleArn ?? '?')).toBe(false);
    expect((await app.stores.audit.lastOfType('grant.deny_removed'))?.grantId).toBe(grantId);
    expect(await earliestDue(app)).toBeUndefined();
  });
});

describe('due work: announcing what it closed', () => {
  it('queues the announcements of its closes and returns without waiting for them', async () => {
    const app = createTestApp({ policy: { warnBefore: 0 } });
    const { grantId } = await approved(app);
    await drainOutbox(app);
    const end = (await app.stores.grants.get(grantId))?.expiresAt ?? new Date(0);
    const queued: { what: string; work: () => Promise<unknown> }[] = [];
    const useCases = createUseCases({
      ...app.deps,
      announcements: { after: (what, work) => void queued.push({ what, work }), idle: async () => {} },
    });

    app.clock.set(end);
    expect((await useCases.dueWork.run(end)).closed).toBe(1);
    // Closed and recorded, not yet announced: the run did not wait for the card and the notices.
    expect(await app.stores.grants.get(grantId)).toMatchObject({ state: 'closed', endedAt: end });
    expect(await drainOutbox(app)).toEqual([]);
    expect(queued.map((q) => q.what)).toEqual(['announcing 1 closed grant(s)']);

    await queued[0]?.work();
    expect(await drainOutbox(app)).toContainEqual({ kind: 'dm', userId: REQUESTER, notice: 'grant-ended' });
  });
});
