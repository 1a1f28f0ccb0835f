import { ESCALATE_AFTER } from '../../../../src/app/close-grant';
import { InfraError } from '../../../../src/app/infra-error';
import {
  approve,
  createTestApp,
  drainOutbox,
  MINUTE,
  submit,
  TEST_RESOURCES,
  type TestApp,
} from '../../../support/app-deps';
import { buildSgResource } from '../../../support/builders';

/** A grant on `resourceId` from `address`, asked by its own requester and approved by U_APP1 (and U_APP2). */
async function grantFrom(app: TestApp, address: string, resourceId = 'prod-db'): Promise<string> {
  const request = await submit(app, resourceId, { requester: `U_${address.replaceAll('.', '_')}`, address });
  for (const approver of ['U_APP1', 'U_APP2']) {
    const r = await approve(app, request.id, approver);
    if (!r.ok) throw new Error(`approval refused: ${r.error}`);
    if (r.value.grantId !== undefined) return r.value.grantId;
  }
  throw new Error('not approved');
}

const revokeCalls = (app: TestApp) => app.network.calls.filter((c) => c.startsWith('revoke '));

/** Runs the due work at `at`, as the scheduler's timer does. */
async function runAt(app: TestApp, at: Date) {
  app.clock.set(at);
  return app.useCases.dueWork.run(at);
}

async function endOf(app: TestApp, grantId: string): Promise<Date> {
  const grant = await app.stores.grants.get(grantId);
  if (grant === undefined) throw new Error(`no grant ${grantId}`);
  return grant.expiresAt;
}

describe('closing grants that share an expiry, a security group at a time', () => {
  it('revokes every rule of one group in one call and records each grant closing, then closed', async () => {
    const app = createTestApp({ policy: { warnBefore: 0 } });
    const ids: string[] = [];
    for (let i = 1; i <= 12; i++) ids.push(await grantFrom(app, `198.51.100.${i}`));
    const end = await endOf(app, ids[0] ?? '');
    for (const id of ids) expect(await endOf(app, id)).toEqual(end);
    const ruleOf = new Map([...app.network.rules.values()].map((r) => [r.grantId, r.ruleId]));
    expect(ruleOf.size).toBe(12);

    const result = await runAt(app, end);

    expect(result.closed).toBe(12);
    expect(revokeCalls(app)).toHaveLength(1);
    expect(revokeCalls(app)[0]?.split(' ')[2]?.split(',').sort()).toEqual([...ruleOf.values()].sort());
    expect(app.network.rules.size).toBe(0);
    for (const id of ids) {
      expect(await app.stores.grants.get(id)).toMatchObject({
        state: 'closed',
        endReason: 'expired',
        endedBy: 'hallpass',
        endedAt: end,
      });
      expect(await app.stores.rules.holdsOf(id)).toEqual([]);
    }
    const events = await app.stores.audit.list();
    const closing = events.filter((e) => e.type === 'grant.closing');
    const closed = events.filter((e) => e.type === 'grant.closed');
    expect(closing.map((e) => e.grantId).sort()).toEqual([...ids].sort());
    expect(closed.map((e) => e.grantId).sort()).toEqual([...ids].sort());
    // Every closing is recorded before the first revoke, every closed after it.
    const lastClosing = events.lastIndexOf(closing.at(-1) as (typeof events)[number]);
    expect(events.indexOf(closed[0] as (typeof events)[number])).toBeGreaterThan(lastClosing);
    for (const e of closed) {
      expect(e.details).toEqual({
        reason: 'expired',
        endedBy: 'hallpass',
        plannedEnd: end.toISOString(),
        revokedRuleIds: [ruleOf.get(e.grantId ?? '')],
        stillHeldByOtherGrants: [],
      });
    }
    expect((await app.stores.audit.head()).count).toBe((await app.stores.audit.list()).length);
  });

  it('keeps a rule another live grant still holds, and revokes one only grants of the batch held once', async () => {
    const app = createTestApp({ policy: { warnBefore: 0 } });
    // Two grants share one rule and end together; a third shares another rule and ends later.
    const a = await grantFrom(app, '198.51.100.1');
    const b = await grantFrom(app, '198.51.100.1');
    const c = await grantFrom(app, '198.51.100.2');
    const end = await endOf(app, a);
    app.clock.set(new Date(app.clock.now().getTime() + 10 * MINUTE));
    const later = await grantFrom(app, '198.51.100.2');
    const shared = [...app.network.rules.values()].find((r) => r.cidr === '198.51.100.1/32')?.ruleId;
    const other = [...app.network.rules.values()].find((r) => r.cidr === '198.51.100.2/32')?.ruleId;
    expect(app.network.rules.size).toBe(2);

    expect((await runAt(app, end)).closed).toBe(3);

    expect(revokeCalls(app)).toEqual([`revoke sg-0123456789abcdef0 ${shared}`]);
    expect([...app.network.rules.values()].map((r) => r.ruleId)).toEqual([other]);
    const details = async (grantId: string) =>
      (await app.stores.audit.list()).find((e) => e.type === 'grant.closed' && e.grantId === grantId)
        ?.details;
    expect(await details(a)).toMatchObject({ revokedRuleIds: [shared], stillHeldByOtherGrants: [] });
    expect(await details(b)).toMatchObject({ revokedRuleIds: [shared], stillHeldByOtherGrants: [] });
    expect(await details(c)).toMatchObject({ revokedRuleIds: [], stillHeldByOtherGrants: [other] });
    expect((await app.stores.grants.get(later))?.state).toBe('active');

    // The later grant, alone, revokes the rule the batch kept.
    await runAt(app, await endOf(app, later));
    expect(app.network.rules.size).toBe(0);
  });

  it('gives each group its own call, and a group whose revoke fails leaves only its grants to be retried', async () => {
    const app = createTestApp({ policy: { warnBefore: 0 } });
    const db = [await grantFrom(app, '198.51.100.1'), await grantFrom(app, '198.51.100.2')];
    const web = [
      await grantFrom(app, '198.51.100.3', 'prod-web'),
      await grantFrom(app, '198.51.100.4', 'prod-web'),
    ];
    const end = await endOf(app, db[0] ?? '');
    app.network.failNext('revoke', {
      error: new InfraError('throttled', true, 'revoke throttled', { providerCode: 'RequestLimitExceeded' }),
    });

    const result = await runAt(app, end);

    expect(revokeCalls(app)).toHaveLength(2);
    expect(result.closed).toBe(2);
    const states = async (ids: string[]) =>
      Promise.all(ids.map(async (id) => (await app.stores.grants.get(id))?.state));
    const [first, second] = [await states(db), await states(web)];
    // Whichever group's call was refused stays closing, with its attempt counted; the other closed.
    expect([first, second].sort()).toEqual([
      ['closed', 'closed'],
      ['closing', 'closing'],
    ]);
    const failing = first[0] === 'closing' ? db : web;
    for (const id of failing) {
      const g = await app.stores.grants.get(id);
      expect(g?.closeAttempts).toBe(1);
      expect(g?.retryAt?.getTime()).toBeGreaterThan(end.getTime());
    }

    // Their retry, as the batch they were (one call naming both rules), closes them.
    await runAt(app, new Date(end.getTime() + MINUTE * 2));
    expect(await states(failing)).toEqual(['closed', 'closed']);
    expect(revokeCalls(app)).toHaveLength(3);
    expect(revokeCalls(app)[2]?.split(' ')[2]?.split(',')).toHaveLength(2);
    expect(app.network.rules.size).toBe(0);
    expect((await app.stores.audit.head()).count).toBe((await app.stores.audit.list()).length);
  });

  it('retries a throttled batch as one batch at one shared time, not grant by grant, and closes every grant', async () => {
    const app = createTestApp({ policy: { warnBefore: 0 } });
    const ids: string[] = [];
    for (let i = 1; i <= 12; i++) ids.push(await grantFrom(app, `198.51.100.${i}`));
    const end = await endOf(app, ids[0] ?? '');
    const throttled = () =>
      new InfraError('throttled', true, 'revoke throttled', { providerCode: 'RequestLimitExceeded' });
    app.network.failNext('revoke', { error: throttled() });
    app.network.failNext('revoke', { error: throttled() });

    // Refused twice: each time one call for the whole batch, and one retry time for all its grants.
    expect((await runAt(app, end)).closed).toBe(0);
    const first = await Promise.all(ids.map((id) => app.stores.grants.get(id)));
    const firstRetry = first[0]?.retryAt;
    expect(firstRetry?.getTime()).toBeGreaterThan(end.getTime());
    for (const g of first)
      expect(g).toMatchObject({ state: 'closing', closeAttempts: 1, retryAt: firstRetry });
    expect(await app.useCases.dueWork.nextDue()).toContainEqual(firstRetry);

    expect((await runAt(app, firstRetry ?? end)).closed).toBe(0);
    const second = await Promise.all(ids.map((id) => app.stores.grants.get(id)));
    const secondRetry = second[0]?.retryAt;
    // Backing off: the second wait is longer than the first could have been.
    expect((secondRetry?.getTime() ?? 0) - (firstRetry?.getTime() ?? 0)).toBeGreaterThanOrEqual(2_000);
    for (const g of second)
      expect(g).toMatchObject({ state: 'closing', closeAttempts: 2, retryAt: secondRetry });

    expect((await runAt(app, secondRetry ?? end)).closed).toBe(12);

    // Three calls in all, each naming every rule of the batch: never one per grant.
    expect(revokeCalls(app)).toHaveLength(3);
    for (const call of revokeCalls(app)) expect(call.split(' ')[2]?.split(',')).toHaveLength(12);
    expect(app.network.rules.size).toBe(0);
    for (const id of ids) {
      expect(await app.stores.grants.get(id)).toMatchObject({
        state: 'closed',
        endReason: 'expired',
        endedBy: 'hallpass',
      });
    }
    const events = await app.stores.audit.list();
    // Each grant's closing is recorded once, by its first attempt; its close once, by the last.
    expect(
      events
        .filter((e) => e.type === 'grant.closing')
        .map((e) => e.grantId)
        .sort(),
    ).toEqual([...ids].sort());
    expect(
      events
        .filter((e) => e.type === 'grant.closed')
        .map((e) => e.grantId)
        .sort(),
    ).toEqual([...ids].sort());
  });

  it('raises a batch that keeps failing once for all: each thread and requester told, the admins and channels once', async () => {
    const app = createTestApp({
      policy: { warnBefore: 0, admins: ['@security', 'U_ADMIN1', 'U_ADMIN2'], alertsChannel: 'C0ALERTS' },
    });
    const ids: string[] = [];
    for (let i = 1; i <= 12; i++) ids.push(await grantFrom(app, `198.51.100.${i}`));
    const end = await endOf(app, ids[0] ?? '');
    await drainOutbox(app);
    const refused = () =>
      new InfraError('denied', false, 'not authorized to revoke', { providerCode: 'UnauthorizedOperation' });
    for (let i = 0; i < ESCALATE_AFTER; i++) app.network.failNext('revoke', { error: refused() });

    let at = end;
    for (let i = 0; i < ESCALATE_AFTER; i++) {
      expect((await runAt(app, at)).closed).toBe(0);
      at = (await app.stores.grants.get(ids[0] ?? ''))?.retryAt ?? at;
    }
    const sent = (await drainOutbox(app)).filter(
      (d) => d.notice?.includes('close-failing') || d.notice === 'grant-alert',
    );
    const threads = sent.filter((d) => d.kind === 'thread');
    const dms = sent.filter((d) => d.kind === 'dm');
    const channel = sent.filter((d) => d.kind === 'channel');
    // Each grant's own record and its requester: twelve each.
    expect(threads).toHaveLength(12);
    expect(dms.filter((d) => d.userId?.startsWith('U_198') === true)).toHaveLength(12);
    // The admins by DM, once each; the resource's channel and the alerts channel, once each.
    expect(
      dms
        .filter((d) => d.userId?.startsWith('U_ADMIN') === true)
        .map((d) => d.userId)
        .sort(),
    ).toEqual(['U_ADMIN1', 'U_ADMIN2']);
    expect(channel).toHaveLength(2);
    // One log line for the batch each time, not one per grant.
    const lines = app.logger.lines.filter((l) => l.msg.startsWith('closing due grants together failed'));
    expect(lines).toHaveLength(ESCALATE_AFTER);
    expect(lines[0]?.fields).toMatchObject({ grants: 12 });
  });

  it('closes the grants whose rules EC2 revoked when it kept one rule of the batch, and retries only that one', async () => {
    const app = createTestApp({ policy: { warnBefore: 0 } });
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) ids.push(await grantFrom(app, `198.51.100.${i}`));
    const end = await endOf(app, ids[0] ?? '');
    const stuckGrant = ids[3] ?? '';
    const stuckRule = [...app.network.rules.values()].find((r) => r.grantId === stuckGrant)?.ruleId ?? '';
    app.network.failNext('revoke', {
      error: new InfraError('denied', false, `revoke refused for ${stuckRule}`, {
        providerCode: 'UnauthorizedOperation',
        ruleIds: [stuckRule],
      }),
    });

    const result = await runAt(app, end);

    expect(result.closed).toBe(5);
    expect([...app.network.rules.keys()]).toEqual([stuckRule]);
    for (const id of ids) {
      const g = await app.stores.grants.get(id);
      if (id === stuckGrant) {
        expect(g).toMatchObject({ state: 'closing', closeAttempts: 1 });
        expect((await app.stores.rules.holdsOf(id)).map((h) => h.ruleId)).toEqual([stuckRule]);
      } else {
        expect(g).toMatchObject({ state: 'closed', endedAt: end });
      }
    }

    // Its retry revokes the rule EC2 kept, and closes it.
    const retryAt = (await app.stores.grants.get(stuckGrant))?.retryAt ?? end;
    expect((await runAt(app, retryAt)).closed).toBe(1);
    expect(revokeCalls(app).at(-1)).toBe(`revoke sg-0123456789abcdef0 ${stuckRule}`);
    expect(app.network.rules.size).toBe(0);
    expect((await app.stores.grants.get(stuckGrant))?.state).toBe('closed');
    expect((await app.stores.audit.head()).count).toBe((await app.stores.audit.list()).length);
  });

  it('never revokes a rule that existed before hallpass', async () => {
    const app = createTestApp({ policy: { warnBefore: 0 } });
    const a = await grantFrom(app, '198.51.100.1');
    const b = await grantFrom(app, '198.51.100.2');
    const [hold] = await app.stores.rules.holdsOf(a);
    if (hold === undefined) throw new Error('no hold');
    // As if EC2 had the rule already, untagged: recorded as held, not managed.
    app.network.rules.delete(hold.ruleId);
    await app.stores.rules.release(a, app.clock.now());
    await app.stores.rules.hold({ ...hold, ruleId: 'sgr-preexisting', managed: false });

    await runAt(app, await endOf(app, a));

    expect(revokeCalls(app)).toHaveLength(1);
    expect(revokeCalls(app)[0]).not.toContain('sgr-preexisting');
    expect((await app.stores.grants.get(a))?.state).toBe('closed');
    expect((await app.stores.grants.get(b))?.state).toBe('closed');
    const closedA = (await app.stores.audit.list()).find((e) => e.type === 'grant.closed' && e.grantId === a);
    expect(closedA?.details).toMatchObject({
      revokedRuleIds: [],
      stillHeldByOtherGrants: ['sgr-preexisting'],
    });
  });

  it('closes a grant that cuts connections on its own, with its cut planned', async () => {
    const resources = [
      ...TEST_RESOURCES,
      buildSgResource({ id: 'prod-cut', securityGroupId: 'sg-0cut', cutConnections: 'nacl' }),
    ];
    const app = createTestApp({ resources, policy: { warnBefore: 0 } });
    const cut = await grantFrom(app, '198.51.100.1', 'prod-cut');
    const plain = await grantFrom(app, '198.51.100.2');

    await runAt(app, await endOf(app, cut));

    expect((await app.stores.grants.get(cut))?.state).toBe('closed');
    expect((await app.stores.grants.get(plain))?.state).toBe('closed');
    expect((await app.stores.cuts.ofGrant(cut)).length).toBeGreaterThan(0);
    expect(await app.stores.cuts.ofGrant(plain)).toEqual([]);
  });
});
