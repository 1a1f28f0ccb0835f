import { createLocalLocks } from '../../../src/adapters/db/local/locks';
import { createLocalRateLimits } from '../../../src/adapters/db/local/rate-limits';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores } from '../../../src/adapters/db/stores';
import type { AppDeps } from '../../../src/app/deps';
import { lockKeyOf, targetOf } from '../../../src/app/open-grant';
import { type NetworkAccess, noFaults, type RuleTarget } from '../../../src/app/ports';
import { createUseCases } from '../../../src/app/use-cases';
import type { Policy } from '../../../src/domain/policy';
import { buildNewGrant, buildNewRequest, buildSgResource, T0 } from '../../support/builders';
import { FakeClock } from '../../support/fake-clock';
import { MemoryLogger } from '../../support/harness';

/** A grant of a two-port resource, approved and committed as `opening`, over a fake EC2 whose first
 * authorize waits for `releaseFirstAuthorize`. */
async function setUp() {
  const handle = openDatabase(':memory:');
  const stores = createSqliteStores(handle);
  const clock = new FakeClock(T0);
  const resource = buildSgResource({
    ports: [
      { from: 443, to: 443 },
      { from: 8443, to: 8443 },
    ],
  });
  const policy: Policy = { admins: [], approvalTimeout: 1_800_000, warnBefore: 0, resources: [resource] };
  const open = new Map<string, string>();
  let releaseFirstAuthorize: () => void = () => {};
  const firstAuthorize = new Promise<void>((resolve) => {
    releaseFirstAuthorize = resolve;
  });
  const calls: string[] = [];
  let n = 0;
  const network: NetworkAccess = {
    async authorize(_target: RuleTarget, rule) {
      n += 1;
      const ruleId = `sgr-${n}`;
      calls.push(`authorize ${rule.fromPort}`);
      if (n === 1) await firstAuthorize;
      open.set(ruleId, String(rule.fromPort));
      return { ruleId, existed: false, managed: true };
    },
    async revoke(_target, ruleIds) {
      calls.push(`revoke ${ruleIds.join(',')}`);
      for (const id of ruleIds) open.delete(id);
    },
    async retag() {},
    async listManaged() {
      return [];
    },
  };
  const locks = createLocalLocks();
  const deps = {
    ...stores,
    deployment: 'default',
    clock,
    ids: { request: () => 'req_x', grant: () => 'grt_x' },
    logger: new MemoryLogger(),
    policy: () => policy,
    auditRecord: {} as AppDeps['auditRecord'],
    network,
    acls: {} as AppDeps['acls'],
    roles: {} as AppDeps['roles'],
    notifier: {} as AppDeps['notifier'],
    directory: {} as AppDeps['directory'],
    wakeup: { wake: () => {}, changed: () => {} },
    deliveries: { wake: () => {} },
    locks,
    rateLimits: createLocalRateLimits(),
    faults: noFaults,
  } satisfies AppDeps;
  const uc = createUseCases(deps);
  const request = await stores.requests.insert(
    buildNewRequest({ resourceAtRequest: resource, durationMs: 60_000 }),
  );
  await stores.requests.decide(request.id, 'approved', 'U_APP', T0);
  const grant = await stores.grants.insert(
    buildNewGrant({ id: 'grt_x', requestId: request.id, expiresAt: new Date(T0.getTime() + 60_000) }),
  );
  const groupLock = lockKeyOf(targetOf(resource));
  return { handle, stores, clock, uc, grant, calls, open, locks, groupLock, releaseFirstAuthorize };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A grant whose time runs out while it is still opening (slow or throttled AWS) is due, and is closed
 * while the open is in progress: the close waits for the group's lock, the open stops at the next port,
 * and every rule the open created is revoked — none is left behind for a closed grant.
 */
describe('a close that overtakes an open still in progress', () => {
  it('revokes what the open created, and the open creates nothing more', async () => {
    const { handle, stores, clock, uc, grant, calls, open, releaseFirstAuthorize } = await setUp();

    const opening = uc.openGrant(grant.id);
    await turn();
    clock.advance(60_000);
    // Due though still opening: the scheduler's run closes it, while the first authorize is in flight.
    const due = uc.dueWork.run(clock.now());
    await turn();
    releaseFirstAuthorize();
    await Promise.all([opening, due]);

    expect(calls).toEqual(['authorize 443', 'revoke sgr-1']);
    expect(open.size).toBe(0);
    expect(await stores.grants.get(grant.id)).toMatchObject({ state: 'closed', endReason: 'expired' });
    expect(await stores.rules.holdsOf(grant.id)).toEqual([]);
    handle.close();
  });
});

/**
 * Opens the grant while something else holds its group's lock, lets `heldMs` of the clock pass, then
 * lets the lock go; resolves once the open has finished.
 */
async function openBehindTheGroupLock(app: Awaited<ReturnType<typeof setUp>>, heldMs: number): Promise<void> {
  app.releaseFirstAuthorize();
  let letGo: () => void = () => {};
  const holding = app.locks.run(app.groupLock, () => new Promise<void>((resolve) => (letGo = resolve)));
  const opening = app.uc.openGrant(app.grant.id);
  await turn();
  app.clock.advance(heldMs);
  letGo();
  await Promise.all([holding, opening]);
}

describe('an open whose time runs out while it waits for its group', () => {
  it('opens nothing once it holds the lock, and closes the grant itself, without waiting for the scheduler', async () => {
    const app = await setUp();
    const { handle, stores, grant, calls } = app;
    // Something else holds the group (a mass close, another grant's open) past this grant's end, and
    // the scheduler, busy with that, has not marked it closing.
    await openBehindTheGroupLock(app, 60_000);

    expect(calls).toEqual([]);
    expect(await stores.grants.get(grant.id)).toMatchObject({ state: 'closed', endReason: 'expired' });
    expect(await stores.rules.holdsOf(grant.id)).toEqual([]);
    const types = (await stores.audit.list()).map((e) => e.type);
    expect(types).not.toContain('grant.opened');
    expect(types).toContain('grant.closed');
    // And the requester and the channel are told it ended: the card updated, the thread and the DM —
    // as access that never opened, not as access that closed.
    expect(await stores.outbox.waiting()).toBe(3);
    const rows = handle.sqlite.prepare('SELECT notice FROM outbox WHERE notice IS NOT NULL').all();
    const told = rows.map(
      (row) => JSON.parse((row as { notice: string }).notice) as { type: string; neverOpened?: boolean },
    );
    expect(told.filter((n) => n.type === 'grant-ended').map((n) => n.neverOpened)).toEqual([true, true]);
    handle.close();
  });

  it('still opens when the lock comes back before its end', async () => {
    const app = await setUp();
    const { handle, stores, grant, calls } = app;
    await openBehindTheGroupLock(app, 59_999);

    expect(calls).toEqual(['authorize 443', 'authorize 8443']);
    expect(await stores.grants.get(grant.id)).toMatchObject({ state: 'active' });
    handle.close();
  });
});
