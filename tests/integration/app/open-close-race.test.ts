import { createLocalLocks } from '../../../src/adapters/db/local/locks';
import { createLocalRateLimits } from '../../../src/adapters/db/local/rate-limits';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores } from '../../../src/adapters/db/stores';
import type { AppDeps } from '../../../src/app/deps';
import { type NetworkAccess, noFaults, type RuleTarget } from '../../../src/app/ports';
import { createUseCases } from '../../../src/app/use-cases';
import type { Policy } from '../../../src/domain/policy';
import { buildNewGrant, buildNewRequest, buildSgResource, T0 } from '../../support/builders';
import { FakeClock } from '../../support/fake-clock';
import { MemoryLogger } from '../../support/harness';

/**
 * A grant whose time runs out while it is still opening (slow or throttled AWS) is due, and is closed
 * while the open is in progress: the close waits for the group's lock, the open stops at the next port,
 * and every rule the open created is revoked — none is left behind for a closed grant.
 */
describe('a close that overtakes an open still in progress', () => {
  it('revokes what the open created, and the open creates nothing more', async () => {
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
    let release: () => void = () => {};
    const firstAuthorize = new Promise<void>((resolve) => {
      release = resolve;
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
      locks: createLocalLocks(),
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

    const opening = uc.openGrant(grant.id);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(60_000);
    // Due though still opening: the scheduler's run closes it, while the first authorize is in flight.
    const due = uc.dueWork.run(clock.now());
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([opening, due]);

    expect(calls).toEqual(['authorize 443', 'revoke sgr-1']);
    expect(open.size).toBe(0);
    expect(await stores.grants.get(grant.id)).toMatchObject({ state: 'closed', endReason: 'expired' });
    expect(await stores.rules.holdsOf(grant.id)).toEqual([]);
    handle.close();
  });
});
