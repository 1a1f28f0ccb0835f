import { announceClosed, closeGrant } from '../../../../src/app/close-grant';
import { createNotices } from '../../../../src/app/notify';
import { lockKeyOf } from '../../../../src/app/open-grant';
import { reconcile } from '../../../../src/app/reconcile';
import { approve, createTestApp, submit, type TestApp } from '../../../support/app-deps';
import { buildSgResource } from '../../../support/builders';

const GROUP = buildSgResource().securityGroupId;
const LOCK = lockKeyOf({ region: 'us-east-1', groupId: GROUP });

/** Holds the group's lock (as an open or a close on it does) until `release` is called. */
async function holdGroupLock(app: TestApp): Promise<{ release: () => void; done: Promise<void> }> {
  let release = () => {};
  let taken = () => {};
  const held = new Promise<void>((resolve) => {
    taken = resolve;
  });
  const done = app.deps.locks.run(LOCK, async () => {
    taken();
    await new Promise<void>((resolve) => {
      release = resolve;
    });
  });
  await held;
  return { release, done };
}

/** Whether `promise` settles within a few turns of the event loop (the fakes answer at once). */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** A rule in EC2 tagged by hallpass for a grant the database has no live hold for. */
function strayRule(app: TestApp, ruleId: string, grantId = 'grt_unknown') {
  app.network.rules.set(ruleId, {
    ruleId,
    grantId,
    region: 'us-east-1',
    groupId: GROUP,
    protocol: 'tcp',
    fromPort: 5432,
    toPort: 5432,
    cidr: '192.0.2.9/32',
  });
}

/** Reconciliation of rules alone, as the use cases wire it (without backstops and connection tracking). */
function reconcileRules(app: TestApp) {
  const deps = { ...app.deps, notices: createNotices(app.deps) };
  return reconcile(deps, { closeGrant: closeGrant(deps), announceClosed: announceClosed(deps) })();
}

const revokes = (app: TestApp) => app.network.calls.filter((c) => c.startsWith('revoke '));

describe('reconciliation and the security group lock', () => {
  it('does not wait for the group lock when AWS and the database agree', async () => {
    const app = createTestApp();
    const request = await submit(app, 'prod-db', { address: '198.51.100.7' });
    const r = await approve(app, request.id, 'U_APP1');
    if (!r.ok) throw new Error(r.error);
    expect(app.network.rules.size).toBe(1);

    const lock = await holdGroupLock(app);
    const pass = reconcileRules(app);
    // A long open or close holds the group; a pass with nothing to do there must not queue behind it
    // (and, on the real EC2, make due closes queue behind its listing).
    expect(await settlesSoon(pass)).toBe(true);
    lock.release();
    await lock.done;
    expect(await pass).toMatchObject({ orphansRevoked: 0, drift: 0, failed: 0 });
    expect(revokes(app)).toEqual([]);
  });

  it('waits for the lock before revoking, and acts only on what it sees under the lock', async () => {
    const app = createTestApp();
    const lock = await holdGroupLock(app);
    // An open in progress: its rule is in EC2, its hold not yet recorded — at first sight an orphan.
    strayRule(app, 'sgr-opening');
    const pass = reconcileRules(app);
    expect(await settlesSoon(pass)).toBe(false);
    expect(revokes(app)).toEqual([]);
    // The open fails and takes its own rule back before releasing the group.
    app.network.rules.delete('sgr-opening');
    lock.release();
    await lock.done;
    expect(await pass).toMatchObject({ orphansRevoked: 0, failed: 0 });
    expect(revokes(app)).toEqual([]);
    expect((await app.stores.audit.list()).filter((e) => e.type === 'reconcile.orphan_revoked')).toEqual([]);
  });

  it('revokes an orphan still there when the lock is free again', async () => {
    const app = createTestApp();
    const lock = await holdGroupLock(app);
    strayRule(app, 'sgr-orphan');
    const pass = reconcileRules(app);
    expect(await settlesSoon(pass)).toBe(false);
    lock.release();
    await lock.done;
    expect(await pass).toMatchObject({ orphansRevoked: 1, failed: 0 });
    expect(revokes(app)).toEqual([`revoke ${GROUP} sgr-orphan`]);
    expect(app.network.rules.has('sgr-orphan')).toBe(false);
  });

  /** The one active grant of a new app, with its rule in EC2. */
  async function oneGrant(app: TestApp): Promise<string> {
    const request = await submit(app, 'prod-db', { address: '198.51.100.7' });
    const r = await approve(app, request.id, 'U_APP1');
    if (!r.ok) throw new Error(r.error);
    const [grant] = await app.stores.grants.list(['active']);
    if (grant === undefined) throw new Error('no active grant');
    return grant.id;
  }

  const closeIt = (app: TestApp, grantId: string) => {
    const deps = { ...app.deps, notices: createNotices(app.deps) };
    return closeGrant(deps)(grantId, 'revoked', 'U_APP1');
  };

  it('does not take the group lock for a rule whose grant was closed while AWS was being listed', async () => {
    const app = createTestApp();
    const grantId = await oneGrant(app);
    const list = app.network.listManaged.bind(app.network);
    let listings = 0;
    app.network.listManaged = async (target) => {
      const listed = await list(target);
      if (target.groupId !== GROUP) return listed;
      listings += 1;
      // The listing was taken; a close revokes the rule and records the grant closed a moment later.
      if (listings === 1) {
        app.clock.advance(5);
        await closeIt(app, grantId);
      }
      return listed;
    };
    expect(await reconcileRules(app)).toMatchObject({ orphansRevoked: 0, drift: 0, failed: 0 });
    // Nothing but that close's rule looked amiss: no second look at its group, under the group's lock.
    expect(listings).toBe(1);
    expect(revokes(app)).toHaveLength(1);
  });

  it('still revokes a rule left behind by a grant that had closed before the listing began', async () => {
    const app = createTestApp();
    const grantId = await oneGrant(app);
    await closeIt(app, grantId);
    app.clock.advance(5);
    // The close was recorded, yet its rule is still there (put back by hand with hallpass's tags).
    strayRule(app, 'sgr-left', grantId);
    expect(await reconcileRules(app)).toMatchObject({ orphansRevoked: 1, failed: 0 });
    expect(app.network.rules.has('sgr-left')).toBe(false);
  });

  it('rests between security groups when paced, so a pass never takes the process for long', async () => {
    const app = createTestApp();
    const steps: string[] = [];
    const list = app.network.listManaged.bind(app.network);
    app.network.listManaged = async (target) => {
      steps.push(`list ${target.groupId}`);
      return list(target);
    };
    const deps = {
      ...app.deps,
      notices: createNotices(app.deps),
      reconcilePacing: {
        async paced<T>(work: () => Promise<T>): Promise<T> {
          const value = await work();
          steps.push('rest');
          return value;
        },
        lanes: () => 1,
      },
    };
    await reconcile(deps, { closeGrant: closeGrant(deps), announceClosed: announceClosed(deps) })();
    const groups = steps.filter((s) => s.startsWith('list '));
    expect(groups.length).toBeGreaterThan(1);
    // Each group's look, then a rest, before the next group is listed.
    expect(steps).toEqual(groups.flatMap((g) => [g, 'rest']));
  });

  it('looks at several groups at once when unpaced (start-up), and one that fails does not stop the others', async () => {
    const app = createTestApp();
    let inFlight = 0;
    let most = 0;
    const listed: string[] = [];
    const list = app.network.listManaged.bind(app.network);
    const groupIds = [
      ...new Set(
        app.deps.policy().resources.flatMap((r) => (r.kind === 'security-group' ? [r.securityGroupId] : [])),
      ),
    ];
    app.network.listManaged = async (target) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      // Each listing waits a few turns, so listings that may overlap do.
      for (let i = 0; i < 5; i++) await Promise.resolve();
      inFlight -= 1;
      listed.push(target.groupId);
      if (target.groupId === groupIds[0]) throw new Error('throttled');
      return list(target);
    };
    const deps = {
      ...app.deps,
      notices: createNotices(app.deps),
      reconcilePacing: { paced: <T>(work: () => Promise<T>) => work(), lanes: () => 4 },
    };
    const outcome = await reconcile(deps, {
      closeGrant: closeGrant(deps),
      announceClosed: announceClosed(deps),
    })();
    expect(groupIds.length).toBeGreaterThan(1);
    expect(most).toBe(Math.min(4, groupIds.length));
    expect([...listed].sort()).toEqual([...groupIds].sort());
    expect(outcome.failed).toBe(1);
  });
});
