import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import { buildNewGrant, buildNewRequest, T0 } from '../../support/builders';

const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
const ROLE = 'arn:aws:iam::123456789012:role/ProdReadOnly';

describe('SQLite role-session store', () => {
  let handle: DbHandle;
  let stores: SqliteStores;
  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });
  afterEach(() => handle.close());

  const sessionFor = async (expiresInMs: number, roleArn = ROLE) => {
    const request = await stores.requests.insert(buildNewRequest());
    const grant = await stores.grants.insert(buildNewGrant({ requestId: request.id }));
    const session = {
      sessionName: grant.id,
      assumedRoleId: `AROAEXAMPLE:${grant.id}`,
      expiresAt: at(expiresInMs),
    };
    await stores.roleSessions.record(grant.id, roleArn, session);
    return { grant, session };
  };

  it('keeps identity and timing of a session, to the millisecond', async () => {
    const { grant, session } = await sessionFor(900_000);
    expect(await stores.roleSessions.get(grant.id)).toEqual({ grantId: grant.id, roleArn: ROLE, ...session });
  });

  it('has no column where credentials could be stored', () => {
    const columns = handle.sqlite.prepare('PRAGMA table_info(role_sessions)').all() as { name: string }[];
    expect(columns.map((c) => c.name).filter((n) => /secret|token|key|credential/i.test(n))).toEqual([]);
  });

  it('lists a denied session for cleanup only once the session itself has expired', async () => {
    const { grant } = await sessionFor(900_000);
    expect(await stores.roleSessions.cleanups.next()).toBeUndefined();
    await stores.roleSessions.markDenied(grant.id, `hallpass-deny-${grant.id}`, at(300_000));
    expect(await stores.roleSessions.cleanups.next()).toEqual(at(900_000));
    expect(await stores.roleSessions.cleanups.due(at(899_999))).toEqual([]);
    expect((await stores.roleSessions.cleanups.due(at(900_000))).map((s) => s.grantId)).toEqual([grant.id]);
    await stores.roleSessions.markDenyRemoved(grant.id, at(900_001));
    expect(await stores.roleSessions.cleanups.due(at(2_000_000))).toEqual([]);
    expect(await stores.roleSessions.cleanups.next()).toBeUndefined();
    expect(await stores.roleSessions.get(grant.id)).toMatchObject({
      denyPolicyName: `hallpass-deny-${grant.id}`,
      deniedAt: at(300_000),
      denyRemovedAt: at(900_001),
    });
  });

  it('lists the sessions of one role STS still honours, denied or not, soonest expiry first', async () => {
    const late = await sessionFor(3_600_000);
    const soon = await sessionFor(900_000);
    const expired = await sessionFor(60_000);
    await sessionFor(900_000, 'arn:aws:iam::123456789012:role/Other');
    await stores.roleSessions.markDenied(late.grant.id, 'hallpass-revoked-sessions', at(1_000));

    const live = await stores.roleSessions.liveOfRole(ROLE, at(60_000));

    expect(live.map((s) => s.grantId)).toEqual([soon.grant.id, late.grant.id]);
    expect(live[1]).toMatchObject({ denyPolicyName: 'hallpass-revoked-sessions', deniedAt: at(1_000) });
    expect(live.map((s) => s.grantId)).not.toContain(expired.grant.id);
    expect(await stores.roleSessions.liveOfRole(ROLE, at(3_600_000))).toEqual([]);
  });

  it('never lists a session that was not denied (it simply expires)', async () => {
    await sessionFor(1_000);
    expect(await stores.roleSessions.cleanups.due(at(10_000))).toEqual([]);
  });
});
