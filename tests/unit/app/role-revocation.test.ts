import { createLocalLocks } from '../../../src/adapters/db/local/locks';
import { InfraError } from '../../../src/app/infra-error';
import type {
  AuditEvent,
  Logger,
  RoleSession,
  RoleSessionStore,
  StoredRoleSession,
} from '../../../src/app/ports';
import {
  cutSession,
  ensureRevocable,
  issueRevocable,
  pruneRevokedSessions,
  REVOKED_SESSIONS_POLICY,
  RevocationRoomError,
  RevocationRoomUnknownError,
} from '../../../src/app/role-revocation';
import { FakeClock } from '../../support/fake-clock';
import { deferred, FakeRoles } from '../../support/fake-roles';
import { memoryDueQuery } from '../../support/memory-due-query';

const ROLE = 'arn:aws:iam::123456789012:role/ProdReadOnly';
const OTHER_ROLE = 'arn:aws:iam::123456789012:role/Other';
const MINUTE = 60_000;

/** The role-session store, in memory: the same questions the SQLite one answers. */
class MemoryRoleSessions implements RoleSessionStore {
  readonly rows = new Map<string, StoredRoleSession>();
  async record(grantId: string, roleArn: string, session: RoleSession): Promise<void> {
    if (!this.rows.has(grantId)) this.rows.set(grantId, { grantId, roleArn, ...session });
  }
  async get(grantId: string): Promise<StoredRoleSession | undefined> {
    return this.rows.get(grantId);
  }
  async liveOfRole(roleArn: string, now: Date): Promise<StoredRoleSession[]> {
    return [...this.rows.values()]
      .filter((s) => s.roleArn === roleArn && s.expiresAt > now)
      .sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime());
  }
  async markDenied(grantId: string, policyName: string, at: Date): Promise<void> {
    const row = this.rows.get(grantId);
    if (row !== undefined) this.rows.set(grantId, { ...row, denyPolicyName: policyName, deniedAt: at });
  }
  async markDenyRemoved(grantId: string, at: Date): Promise<void> {
    const row = this.rows.get(grantId);
    if (row !== undefined) this.rows.set(grantId, { ...row, denyRemovedAt: at });
  }
  readonly cleanups = memoryDueQuery(
    () => this.rows.values(),
    (s) => s.deniedAt !== undefined && s.denyRemovedAt === undefined,
    (s) => s.expiresAt.getTime(),
    (s) => s.grantId,
  );
}

const silent: Logger = { info: () => {}, warn: () => {}, error: () => {} };

function setup() {
  const clock = new FakeClock('2026-11-25T12:00:00.000Z');
  const roleSessions = new MemoryRoleSessions();
  const roles = new FakeRoles();
  const audit: AuditEvent[] = [];
  const deps = {
    clock,
    roles,
    roleSessions,
    locks: createLocalLocks(),
    uow: { tx: <T>(fn: () => Promise<T>): Promise<T> => fn(), afterCommit: (then: () => void) => then() },
    logger: silent,
    audit: { append: async (e: AuditEvent) => void audit.push(e) },
    grants: { get: async () => undefined },
  };
  /** A session of `grantId` on `roleArn`, ending `minutes` from now. */
  const session = async (grantId: string, minutes: number, roleArn = ROLE) => {
    await roleSessions.record(grantId, roleArn, {
      sessionName: grantId,
      assumedRoleId: `AROAROLE:${grantId}`,
      expiresAt: new Date(clock.now().getTime() + minutes * MINUTE),
    });
  };
  return { clock, roleSessions, roles, audit, deps, session };
}

describe('cutSession', () => {
  it('writes the role’s list from the database plus this session, then marks it denied', async () => {
    const { deps, roles, roleSessions, session } = setup();
    await session('grt_a', 15);
    await session('grt_b', 15);
    await session('grt_other_role', 15, OTHER_ROLE);
    await cutSession(deps, 'grt_a');
    await cutSession(deps, 'grt_other_role');

    const cut = await cutSession(deps, 'grt_b');

    expect(roles.lists.get(ROLE)).toEqual(['AROAROLE:grt_a', 'AROAROLE:grt_b']);
    expect(roles.lists.get(OTHER_ROLE)).toEqual(['AROAROLE:grt_other_role']);
    expect(await roleSessions.get('grt_b')).toMatchObject({ denyPolicyName: REVOKED_SESSIONS_POLICY });
    expect(cut).toEqual({ denyPolicy: 'hallpass-revoked-sessions', deniedUntil: '2026-11-25T12:15:00.000Z' });
  });

  it('loses neither of two revocations of the same role that run at once', async () => {
    const { deps, roles, session } = setup();
    await session('grt_a', 15);
    await session('grt_b', 15);
    const first = deferred();
    roles.gates.push(first);

    const a = cutSession(deps, 'grt_a');
    const b = cutSession(deps, 'grt_b');
    await new Promise((resolve) => setImmediate(resolve));
    // b waits for a's write (the role's lock) instead of reading the list a is still writing.
    expect(roles.writes).toHaveLength(0);
    first.resolve();
    await Promise.all([a, b]);

    expect(roles.writes.map((w) => w.assumedRoleIds)).toEqual([
      ['AROAROLE:grt_a'],
      ['AROAROLE:grt_a', 'AROAROLE:grt_b'],
    ]);
    expect(roles.lists.get(ROLE)).toEqual(['AROAROLE:grt_a', 'AROAROLE:grt_b']);
  });

  it('throws when IAM refuses the write, and marks nothing denied; the retry writes it', async () => {
    const { deps, roles, roleSessions, session } = setup();
    await session('grt_a', 15);
    roles.failWrites = 1;

    await expect(cutSession(deps, 'grt_a')).rejects.toMatchObject({
      providerCode: 'ServiceFailure',
      retryable: true,
    });
    expect((await roleSessions.get('grt_a'))?.deniedAt).toBeUndefined();

    await cutSession(deps, 'grt_a');
    expect((await roleSessions.get('grt_a'))?.deniedAt).toBeDefined();
    expect(roles.lists.get(ROLE)).toEqual(['AROAROLE:grt_a']);
  });

  it('writes nothing for a session already denied, already expired, or unknown', async () => {
    const { deps, roles, clock, session } = setup();
    await session('grt_a', 15);
    await session('grt_expired', 1);
    await cutSession(deps, 'grt_a');
    clock.advance(MINUTE);

    await cutSession(deps, 'grt_a');
    await cutSession(deps, 'grt_expired');
    await cutSession(deps, 'grt_unknown');

    expect(roles.writes).toHaveLength(1);
  });

  it('leaves expired entries out of the list it writes', async () => {
    const { deps, roles, clock, session } = setup();
    await session('grt_short', 5);
    await session('grt_long', 60);
    await cutSession(deps, 'grt_short');
    clock.advance(5 * MINUTE);

    await cutSession(deps, 'grt_long');

    expect(roles.lists.get(ROLE)).toEqual(['AROAROLE:grt_long']);
  });
});

describe('pruneRevokedSessions', () => {
  it('rewrites each role’s list once without the sessions that expired, and audits each one', async () => {
    const { deps, roles, roleSessions, clock, audit, session } = setup();
    for (const id of ['grt_a', 'grt_b']) await session(id, 15);
    await session('grt_c', 30);
    for (const id of ['grt_a', 'grt_b', 'grt_c']) await cutSession(deps, id);
    const writesBefore = roles.writes.length;
    clock.advance(15 * MINUTE);

    const failed = await pruneRevokedSessions(deps, deps.roleSessions.cleanups, clock.now());

    expect(failed).toEqual([]);
    expect(roles.writes.slice(writesBefore)).toEqual([{ roleArn: ROLE, assumedRoleIds: ['AROAROLE:grt_c'] }]);
    expect(audit.map((e) => [e.type, e.grantId])).toEqual([
      ['grant.deny_removed', 'grt_a'],
      ['grant.deny_removed', 'grt_b'],
    ]);
    expect(await roleSessions.cleanups.next()).toEqual(new Date('2026-11-25T12:30:00.000Z'));

    clock.advance(15 * MINUTE);
    await pruneRevokedSessions(deps, deps.roleSessions.cleanups, clock.now());
    expect(roles.writes.at(-1)).toEqual({ roleArn: ROLE, assumedRoleIds: [] });
    expect(roles.lists.has(ROLE)).toBe(false);
    expect(await roleSessions.cleanups.next()).toBeUndefined();
  });

  it('reports the grants whose prune failed, and keeps them due', async () => {
    const { deps, roles, roleSessions, clock, session } = setup();
    await session('grt_a', 15);
    await cutSession(deps, 'grt_a');
    clock.advance(15 * MINUTE);
    roles.failWrites = 1;

    await expect(pruneRevokedSessions(deps, deps.roleSessions.cleanups, clock.now())).resolves.toEqual([
      'grt_a',
    ]);
    expect((await roleSessions.cleanups.due(clock.now())).map((s) => s.grantId)).toEqual(['grt_a']);
    await expect(pruneRevokedSessions(deps, deps.roleSessions.cleanups, clock.now())).resolves.toEqual([]);
    expect(await roleSessions.cleanups.due(clock.now())).toEqual([]);
  });

  it('deletes an old per-grant policy by its name, and never puts its session in the list', async () => {
    const { deps, roles, roleSessions, clock, session } = setup();
    await session('grt_old', 15);
    await roleSessions.markDenied('grt_old', 'hallpass-deny-grt_old', clock.now());
    clock.advance(15 * MINUTE);

    await pruneRevokedSessions(deps, deps.roleSessions.cleanups, clock.now());

    expect(roles.removed).toEqual(['hallpass-deny-grt_old']);
    expect(roles.writes).toEqual([]);
    expect((await roleSessions.get('grt_old'))?.denyRemovedAt).toBeDefined();
  });
});

describe('ensureRevocable and issueRevocable', () => {
  it('asks for the room every live session of the role and the new one would need', async () => {
    const { deps, roles, roleSessions, clock, session } = setup();
    await session('grt_live', 15);
    await session('grt_denied', 15);
    await session('grt_expired', 1);
    await session('grt_old', 15);
    await session('grt_elsewhere', 15, OTHER_ROLE);
    await cutSession(deps, 'grt_denied');
    await roleSessions.markDenied('grt_old', 'hallpass-deny-grt_old', clock.now());
    clock.advance(MINUTE);

    await ensureRevocable(deps, { roleArn: ROLE, grantId: 'grt_new' });

    // The old per-grant policy already covers its session (and counts among the role's other policies).
    expect(roles.roomAsked).toEqual([['AROAROLE:grt_live', 'AROAROLE:grt_denied', 'AROAROLE:grt_new']]);
  });

  it('refuses, not retryable, with what is full, how many sessions are live and when the next ends', async () => {
    const { deps, roles, session } = setup();
    await session('grt_a', 15);
    await session('grt_b', 60);
    // Room for a list of exactly two sessions: 160 + 2 × 45 = 250.
    roles.room = { limit: 10_240, usedByOthers: 10_240 - 250 };

    const error = await ensureRevocable(deps, { roleArn: ROLE, grantId: 'grt_new' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RevocationRoomError);
    expect(error).toMatchObject({
      kind: 'limit-exceeded',
      retryable: false,
      details: {
        roleArn: ROLE,
        liveSessions: 2,
        nextExpiry: new Date('2026-11-25T12:15:00.000Z'),
        limit: 10_240,
        usedByOthers: 9_990,
        needed: 295,
      },
    });
  });

  it('refuses when the role’s policies cannot be read, keeping whether a retry may help', async () => {
    const { deps, roles } = setup();
    roles.roomFails = new InfraError('denied', false, 'ListRolePolicies ProdReadOnly failed: AccessDenied', {
      providerCode: 'AccessDenied',
      subject: 'role',
    });

    const error = await ensureRevocable(deps, { roleArn: ROLE, grantId: 'grt_new' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RevocationRoomUnknownError);
    expect(error).toMatchObject({
      kind: 'denied',
      subject: 'role',
      retryable: false,
      message: expect.stringContaining('ListRolePolicies ProdReadOnly failed: AccessDenied'),
    });
  });

  it('issues two sessions of one role one after the other, the second counting the first', async () => {
    const { deps, roles, session } = setup();
    const gate = deferred();
    const order: string[] = [];

    const first = issueRevocable(deps, { roleArn: ROLE, grantId: 'grt_1' }, async () => {
      order.push('issue 1');
      await gate.promise;
      await session('grt_1', 15);
    });
    const second = issueRevocable(deps, { roleArn: ROLE, grantId: 'grt_2' }, async () => {
      order.push('issue 2');
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['issue 1']);
    gate.resolve();
    await Promise.all([first, second]);

    expect(roles.roomAsked).toEqual([['AROAROLE:grt_1'], ['AROAROLE:grt_1', 'AROAROLE:grt_2']]);
  });

  it('does not issue the session it refused', async () => {
    const { deps, roles } = setup();
    roles.room = { limit: 10_240, usedByOthers: 10_240 };
    const issue = jest.fn(async () => 'issued');

    await expect(issueRevocable(deps, { roleArn: ROLE, grantId: 'grt_1' }, issue)).rejects.toBeInstanceOf(
      RevocationRoomError,
    );
    expect(issue).not.toHaveBeenCalled();
  });
});
