import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSqliteAuditExportSource } from '../../../src/adapters/db/audit-export-query';
import { type DbHandle, openDatabase, openDatabaseReadOnly } from '../../../src/adapters/db/open-db';
import { openPostgres } from '../../../src/adapters/db/open-pg';
import { createPostgresAuditLog } from '../../../src/adapters/db/pg/audit-log';
import { createPostgresAuditExportSource } from '../../../src/adapters/db/pg/audit-record';
import { openExistingPostgres } from '../../../src/adapters/db/pg/open-existing';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import type { AuditExportRow } from '../../../src/app/audit-ports';
import { AUDIT_ENGINES, emptyPostgres, usePostgres } from '../../support/audit-engines';
import { buildNewGrant, buildNewRequest, T0 } from '../../support/builders';
import { copySqliteToPostgres } from '../../support/copy-to-postgres';
import { describeWithPostgres, withTestDatabase } from '../../support/postgres';

const MIN = 60_000;
const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
const ROLE_ARN = 'arn:aws:iam::123456789012:role/ProdReadOnly';

/**
 * The rows the tables give the export, on each engine. The requests and grants are written through the
 * SQLite stores; on PostgreSQL the export then reads a copy of that database, so both engines answer
 * for the same rows.
 */
describe.each(AUDIT_ENGINES)('audit export query on %s', (name) => {
  let handle: DbHandle;
  let stores: SqliteStores;
  const postgres = name === 'postgres' ? usePostgres() : undefined;
  const rows = async (since = at(-60 * MIN), until = at(60 * MIN)): Promise<AuditExportRow[]> => {
    if (postgres === undefined) return createSqliteAuditExportSource(handle.db).rows({ since, until });
    const pg = postgres.handle;
    await emptyPostgres(pg);
    await copySqliteToPostgres(handle.sqlite, pg.pool);
    return createPostgresAuditExportSource(() => pg.db).rows({ since, until });
  };
  const only = async (requestId: string): Promise<AuditExportRow | undefined> =>
    (await rows()).find((r) => r.requestId === requestId);

  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });

  afterEach(() => {
    handle.close();
  });

  /** A security-group request approved by two people, opened, and closed at expiry. */
  async function closedGroupGrant(): Promise<{ requestId: string; grantId: string }> {
    const request = await stores.requests.insert(buildNewRequest({ id: 'req_sg', createdAt: at(0) }));
    await stores.requests.addApproval(request.id, 'U_APP1', at(1 * MIN));
    await stores.requests.addApproval(request.id, 'U_APP2', at(2 * MIN));
    await stores.requests.decide(request.id, 'approved', 'U_APP2', at(2 * MIN));
    const grant = await stores.grants.insert(
      buildNewGrant({ id: 'grt_sg', requestId: request.id, startsAt: at(2 * MIN), expiresAt: at(32 * MIN) }),
    );
    await stores.grants.move(grant.id, ['opening'], 'active');
    await stores.audit.append({
      at: at(2 * MIN + 1234),
      actor: 'hallpass',
      type: 'grant.opened',
      grantId: grant.id,
    });
    await stores.grants.move(grant.id, ['active'], 'closing', { endReason: 'expired', endedBy: 'hallpass' });
    await stores.grants.move(grant.id, ['closing'], 'closed', { endedAt: at(32 * MIN + 950) });
    return { requestId: request.id, grantId: grant.id };
  }

  it('reports a closed security-group grant field by field, approvers in the order they voted', async () => {
    await closedGroupGrant();
    expect(await only('req_sg')).toEqual({
      requestId: 'req_sg',
      requestKind: 'access',
      extendsGrantId: undefined,
      grantId: 'grt_sg',
      resourceId: 'prod-db',
      resourceKind: 'security-group',
      requesterId: 'U_REQ',
      approvers: ['U_APP1', 'U_APP2'],
      decidedBy: 'U_APP2',
      address: '203.0.113.7/32',
      roleArn: undefined,
      reason: 'debugging slow queries',
      decisionNote: undefined,
      state: 'approved',
      grantState: 'closed',
      requestedAt: at(0),
      approvedAt: at(2 * MIN),
      startedAt: at(2 * MIN + 1234),
      expiresAt: at(32 * MIN),
      endedAt: at(32 * MIN + 950),
      endReason: 'expired',
      endedBy: 'hallpass',
      durationMs: 30 * MIN,
      breakGlass: false,
      reviewedBy: undefined,
      reviewedAt: undefined,
    });
  });

  it('takes a role grant’s kind and role from its session', async () => {
    const request = await stores.requests.insert(
      buildNewRequest({ id: 'req_role', resourceId: 'prod-readonly', source: undefined, createdAt: at(0) }),
    );
    await stores.requests.addApproval(request.id, 'U_APP1', at(MIN));
    await stores.requests.decide(request.id, 'approved', 'U_APP1', at(MIN));
    const grant = await stores.grants.insert(
      buildNewGrant({
        id: 'grt_role',
        requestId: request.id,
        resourceId: 'prod-readonly',
        startsAt: at(MIN),
      }),
    );
    await stores.roleSessions.record(grant.id, ROLE_ARN, {
      sessionName: grant.id,
      assumedRoleId: `AROAEXAMPLE:${grant.id}`,
      expiresAt: at(31 * MIN),
    });
    await stores.grants.move(grant.id, ['opening'], 'active');
    expect(await only('req_role')).toMatchObject({
      resourceKind: 'aws-role',
      roleArn: ROLE_ARN,
      address: undefined,
      grantState: 'active',
      endedAt: undefined,
    });
  });

  it('leaves the kind of a role request that never opened blank rather than guess', async () => {
    const request = await stores.requests.insert(
      buildNewRequest({ id: 'req_denied', resourceId: 'prod-readonly', source: undefined, createdAt: at(0) }),
    );
    await stores.requests.decide(request.id, 'denied', 'U_APP1', at(MIN), 'not today');
    expect(await only('req_denied')).toMatchObject({
      resourceKind: undefined,
      roleArn: undefined,
      grantId: undefined,
      approvers: [],
      decidedBy: 'U_APP1',
      decisionNote: 'not today',
      state: 'denied',
      approvedAt: undefined,
      startedAt: undefined,
    });
  });

  it('reports an auto-approval as decided by hallpass with no approvers', async () => {
    const request = await stores.requests.insert(buildNewRequest({ id: 'req_auto', createdAt: at(0) }));
    await stores.requests.decide(request.id, 'approved', 'hallpass', at(0), 'auto-approved by policy');
    await stores.grants.insert(buildNewGrant({ requestId: request.id, startsAt: at(0) }));
    expect(await only('req_auto')).toMatchObject({ approvers: [], decidedBy: 'hallpass', approvedAt: at(0) });
  });

  it('keeps the approval time of a request that failed after approval', async () => {
    const request = await stores.requests.insert(buildNewRequest({ id: 'req_failed', createdAt: at(0) }));
    await stores.requests.addApproval(request.id, 'U_APP1', at(MIN));
    await stores.requests.decide(request.id, 'approved', 'U_APP1', at(MIN));
    const grant = await stores.grants.insert(buildNewGrant({ requestId: request.id, startsAt: at(MIN) }));
    await stores.requests.markFailed(request.id, 'the security group does not exist', at(2 * MIN));
    await stores.grants.move(grant.id, ['opening'], 'failed', { endedAt: at(2 * MIN), endReason: 'failed' });
    expect(await only('req_failed')).toMatchObject({
      state: 'failed',
      approvedAt: at(MIN),
      grantState: 'failed',
      endReason: 'failed',
      decisionNote: 'the security group does not exist',
    });
  });

  it('reports break-glass as never approved, and its review once given', async () => {
    const request = await stores.requests.insert(
      buildNewRequest({ id: 'req_bg', createdAt: at(0), breakGlass: true, reason: 'prod is down, paging' }),
    );
    await stores.requests.decide(request.id, 'approved', 'hallpass', at(0), 'break-glass');
    const grant = await stores.grants.insert(
      buildNewGrant({ requestId: request.id, startsAt: at(0), breakGlass: true }),
    );
    expect(await only('req_bg')).toMatchObject({
      breakGlass: true,
      approvedAt: undefined,
      reviewedAt: undefined,
    });
    await stores.grants.markReviewed(grant.id, 'U_APP1', at(40 * MIN));
    expect(await only('req_bg')).toMatchObject({
      breakGlass: true,
      reviewedBy: 'U_APP1',
      reviewedAt: at(40 * MIN),
    });
  });

  it('reports an extension as its own row pointing at the grant it extends', async () => {
    const { grantId } = await closedGroupGrant();
    const request = await stores.requests.insert(
      buildNewRequest({
        id: 'req_ext',
        createdAt: at(10 * MIN),
        durationMs: 15 * MIN,
        source: undefined,
        kind: 'extension',
        extendsGrantId: grantId,
        reason: 'extension of grt_sg',
      }),
    );
    await stores.requests.addApproval(request.id, 'U_APP1', at(11 * MIN));
    await stores.requests.decide(request.id, 'approved', 'U_APP1', at(11 * MIN));
    expect(await only('req_ext')).toMatchObject({
      requestKind: 'extension',
      extendsGrantId: grantId,
      grantId: undefined,
      resourceKind: 'security-group',
      address: '203.0.113.7/32',
      approvers: ['U_APP1'],
      approvedAt: at(11 * MIN),
      durationMs: 15 * MIN,
    });
  });

  it('exports requests created in [since, until), oldest first', async () => {
    for (const [id, offset] of [
      ['req_c', 2 * MIN],
      ['req_before', -1],
      ['req_a', 0],
      ['req_until', 10 * MIN],
      ['req_b', MIN],
    ] as const) {
      await stores.requests.insert(buildNewRequest({ id, createdAt: at(offset) }));
    }
    expect((await rows(at(0), at(10 * MIN))).map((r) => r.requestId)).toEqual(['req_a', 'req_b', 'req_c']);
  });
});

describe('opening a database read-only for the audit CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-ro-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a missing file without creating one', () => {
    const file = path.join(dir, 'missing.db');
    expect(() => openDatabaseReadOnly(file)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(existsSync(file)).toBe(false);
  });

  it('refuses a file that is not a hallpass database', () => {
    const file = path.join(dir, 'empty.db');
    writeFileSync(file, '');
    expect(() => openDatabaseReadOnly(file)).toThrow(
      expect.objectContaining({
        code: 'SCHEMA_OUTDATED',
        message: expect.stringMatching(/not a hallpass database/),
      }),
    );
  });

  it('refuses a database the bot has not migrated to this version yet', () => {
    const file = path.join(dir, 'old.db');
    const h = openDatabase(file);
    h.sqlite.exec(
      'DELETE FROM __drizzle_migrations WHERE created_at = (SELECT max(created_at) FROM __drizzle_migrations)',
    );
    h.close();
    expect(() => openDatabaseReadOnly(file)).toThrow(
      expect.objectContaining({
        code: 'SCHEMA_OUTDATED',
        message: expect.stringMatching(/start hallpass once/),
      }),
    );
  });

  it('reads a migrated database and refuses to write to it', async () => {
    const file = path.join(dir, 'hallpass.db');
    openDatabase(file).close();
    const h = openDatabaseReadOnly(file);
    try {
      expect(await createSqliteAuditExportSource(h.db).rows({ since: at(0), until: at(1) })).toEqual([]);
      await expect(
        createSqliteStores(h).audit.append({ at: T0, actor: 'U_X', type: 'request.submitted' }),
      ).rejects.toThrow(/readonly|read-only/i);
    } finally {
      h.close();
    }
  });
});

describeWithPostgres('opening a PostgreSQL database read-only for the audit CLI', () => {
  const migrated = withTestDatabase();
  const other = withTestDatabase();
  beforeAll(async () => {
    await (await openPostgres(migrated.url)).close();
  });

  /** The test server's URL naming another database. */
  const onServer = (database: string): string => {
    const url = new URL(migrated.url);
    url.pathname = `/${database}`;
    return url.toString();
  };

  it('refuses a database the server does not have, and a server nobody answers on', async () => {
    await expect(openExistingPostgres(onServer('hallpass_no_such_db'), { write: false })).rejects.toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    await expect(
      openExistingPostgres('postgres://nobody:secret@127.0.0.1:1/hallpass', { write: false }),
    ).rejects.toThrow(
      expect.objectContaining({
        code: 'UNREACHABLE',
        // The password is never shown.
        message: expect.not.stringContaining('secret'),
      }),
    );
  });

  it('refuses a database that is not a hallpass database, then one the bot has not migrated to this version yet', async () => {
    await expect(openExistingPostgres(other.url, { write: false })).rejects.toThrow(
      expect.objectContaining({
        code: 'SCHEMA_OUTDATED',
        message: expect.stringMatching(/not a hallpass database/),
      }),
    );
    const pg = await openPostgres(other.url);
    await pg.pool.query(
      'DELETE FROM drizzle.__drizzle_migrations WHERE created_at = (SELECT max(created_at) FROM drizzle.__drizzle_migrations)',
    );
    await pg.close();
    await expect(openExistingPostgres(other.url, { write: false })).rejects.toThrow(
      expect.objectContaining({
        code: 'SCHEMA_OUTDATED',
        message: expect.stringMatching(/start hallpass once/),
      }),
    );
  });

  it('reads a migrated database and refuses to write to it', async () => {
    const h = await openExistingPostgres(migrated.url, { write: false });
    try {
      expect(await createPostgresAuditExportSource(() => h.db).rows({ since: at(0), until: at(1) })).toEqual(
        [],
      );
      await expect(
        createPostgresAuditLog(() => h.db).append({ at: T0, actor: 'U_X', type: 'request.submitted' }),
      ).rejects.toThrow(/read-only transaction/);
    } finally {
      await h.close();
    }
  });
});
