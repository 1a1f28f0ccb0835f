import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/adapters/db/open-db';
import { openPostgres } from '../../src/adapters/db/open-pg';
import { createSqliteStores } from '../../src/adapters/db/stores';
import type { AuditKey } from '../../src/app/audit-ports';
import { submittedEvent } from '../support/audit-engines';
import { buildNewGrant, buildNewRequest } from '../support/builders';
import { copySqliteToPostgres } from '../support/copy-to-postgres';
import { csvObjects } from '../support/csv';
import { describeWithPostgres, withClient, withTestDatabase } from '../support/postgres';

const ROOT = path.resolve(__dirname, '../..');
const MINUTE = 60_000;
// Each CLI run starts a fresh tsx process.
jest.setTimeout(60_000);

const SECRET = randomBytes(32);
const KEY: AuditKey = { id: 'k1', secret: SECRET };
const KEY_ENV = `k1:${SECRET.toString('base64')}`;

type Run = { status: number | null; stdout: string; stderr: string };

/** `npm run audit -- <args>` against `db` (a SQLite file or a postgres:// URL), with the audit key. */
function audit(db: string, ...args: string[]): Run {
  const r = spawnSync('npm', ['run', '--silent', 'audit', '--', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      HALLPASS_AUDIT_KEY: KEY_ENV,
      HALLPASS_AUDIT_OLD_KEYS: '',
      HALLPASS_POLICY: path.join(tmpdir(), 'no-such-policy.yml'),
      HALLPASS_DB: db,
    },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const T = new Date('2026-11-25T10:00:00.000Z');
const at = (offsetMs: number): Date => new Date(T.getTime() + offsetMs);

/**
 * A database the way the bot writes one — rows and events together, keyed — for the CLI to read: two
 * security-group grants that opened and closed at expiry, and a request denied.
 */
async function fill(file: string): Promise<void> {
  const handle = openDatabase(file);
  try {
    const stores = createSqliteStores(handle, { key: KEY });
    for (const [i, address] of ['203.0.113.7/32', '198.51.100.9/32'].entries()) {
      const t = at(i * 60 * MINUTE);
      const request = buildNewRequest({
        id: `req_cli${i}`,
        createdAt: t,
        source: { family: 4, cidr: address, prefix: 32 },
        reason: `reason ${i}`,
      });
      await stores.requests.insert(request);
      await stores.audit.append(submittedEvent(request));
      await stores.requests.addApproval(request.id, 'U_APP', t);
      await stores.audit.append({
        at: t,
        actor: 'U_APP',
        type: 'request.approval_recorded',
        requestId: request.id,
        details: { have: 1, need: 1 },
      });
      await stores.requests.decide(request.id, 'approved', 'U_APP', t);
      const expiresAt = new Date(t.getTime() + 30 * MINUTE);
      const grant = await stores.grants.insert(
        buildNewGrant({ id: `grt_cli${i}`, requestId: request.id, startsAt: t, expiresAt }),
      );
      await stores.audit.append({
        at: t,
        actor: 'U_APP',
        type: 'request.approved',
        requestId: request.id,
        grantId: grant.id,
        details: { approvers: ['U_APP'], expiresAt: expiresAt.toISOString() },
      });
      await stores.grants.move(grant.id, ['opening'], 'active');
      await stores.audit.append({
        at: t,
        actor: 'hallpass',
        type: 'grant.opened',
        requestId: request.id,
        grantId: grant.id,
      });
      await stores.grants.move(grant.id, ['active'], 'closing', {
        endReason: 'expired',
        endedBy: 'hallpass',
      });
      await stores.audit.append({
        at: expiresAt,
        actor: 'hallpass',
        type: 'grant.closing',
        requestId: request.id,
        grantId: grant.id,
        details: { reason: 'expired' },
      });
      await stores.grants.move(grant.id, ['closing'], 'closed', { endedAt: expiresAt });
      await stores.audit.append({
        at: expiresAt,
        actor: 'hallpass',
        type: 'grant.closed',
        requestId: request.id,
        grantId: grant.id,
        details: { reason: 'expired', endedBy: 'hallpass', plannedEnd: expiresAt.toISOString() },
      });
    }
    const denied = buildNewRequest({ id: 'req_clid', createdAt: at(3 * 60 * MINUTE) });
    await stores.requests.insert(denied);
    await stores.audit.append(submittedEvent(denied));
    await stores.requests.decide(denied.id, 'denied', 'U_APP', at(3 * 60 * MINUTE + 1), 'not now');
    await stores.audit.append({
      at: at(3 * 60 * MINUTE + 1),
      actor: 'U_APP',
      type: 'request.denied',
      requestId: denied.id,
      details: { reason: 'not now' },
    });
  } finally {
    handle.close();
  }
}

describeWithPostgres('npm run audit against a PostgreSQL database (HALLPASS_DB=postgres://…)', () => {
  const database = withTestDatabase();
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-audit-cli-pg-'));
    file = path.join(dir, 'hallpass.db');
    await fill(file);
    const sqlite = openDatabase(file);
    const pg = await openPostgres(database.url);
    try {
      await copySqliteToPostgres(sqlite.sqlite, pg.pool);
    } finally {
      sqlite.close();
      await pg.close();
    }
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the log and the tables exactly as it does the same database on SQLite', () => {
    const onPg = audit(database.url, 'verify');
    expect(onPg.stderr).toBe('');
    expect(onPg.status).toBe(0);
    expect(onPg.stdout).toMatch(/^Audit log intact: 14 event\(s\), head [0-9a-f]{64}\n/);
    expect(onPg.stdout).toContain(
      'Tables agree: every request and grant row matches the chain (3 request(s)).',
    );
    expect(onPg).toEqual(audit(file, 'verify'));
    const head = /Head to keep: (\d+:[0-9a-f]{64})/.exec(onPg.stdout)?.[1] ?? '';
    const held = audit(database.url, 'verify', '--head', head);
    expect(held.status).toBe(0);
    expect(held.stdout).toContain(`Published head ${head} holds`);
  });

  it('exports and searches the same rows as on SQLite', () => {
    const exported = audit(
      database.url,
      'export',
      '--since',
      '2026-11-25',
      '--until',
      '2026-11-26',
      '--no-publish',
    );
    expect(exported.status).toBe(0);
    expect(
      csvObjects(exported.stdout).map((r) => [r['request_id'], r['state'], r['grant_state'], r['address']]),
    ).toEqual([
      ['req_cli0', 'approved', 'closed', '203.0.113.7/32'],
      ['req_cli1', 'approved', 'closed', '198.51.100.9/32'],
      ['req_clid', 'denied', '', '203.0.113.7/32'],
    ]);
    expect(exported).toEqual(
      audit(file, 'export', '--since', '2026-11-25', '--until', '2026-11-26', '--no-publish'),
    );
    const search = ['search', '--address', '198.51.100.0/24', '--format', 'csv'];
    const found = audit(database.url, ...search);
    expect(found.status).toBe(0);
    expect(csvObjects(found.stdout).map((r) => r['request_id'])).toEqual(['req_cli1']);
    expect(found).toEqual(audit(file, ...search));
  });

  it('records an export in the log, sealed into the chain, and prints the head to keep', async () => {
    const r = audit(database.url, 'export', '--since', '2026-11-25');
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(
      /^Recorded the export in the audit log; no auditChannel in the policy \(none found: give --policy or HALLPASS_POLICY\), so keep this head yourself: 15:[0-9a-f]{64}\.\n$/,
    );
    const events = await withClient(database.url, (c) =>
      c.query<{ type: string; key_id: string }>(
        'SELECT type, key_id FROM audit_events ORDER BY seq DESC LIMIT 1',
      ),
    );
    expect(events.rows).toEqual([{ type: 'audit.exported', key_id: 'k1' }]);
    const verified = audit(database.url, 'verify');
    expect([verified.status, verified.stdout]).toEqual([
      0,
      expect.stringContaining('Audit log intact: 15 event(s)'),
    ]);
  });

  it('names a missing database with exit code 2, without the password', () => {
    const url = new URL(database.url);
    url.pathname = '/hallpass_no_such_database';
    url.password = 'not-to-be-printed';
    const r = audit(url.toString(), 'verify');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^hallpass audit: no database at postgres:\/\/.*hallpass_no_such_database/);
    expect(r.stderr).not.toContain('not-to-be-printed');
  });

  it('reports an event edited with the triggers disabled as broken, as on SQLite (exit code 1)', async () => {
    await withClient(database.url, async (c) => {
      await c.query('BEGIN');
      await c.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
      await c.query("UPDATE audit_events SET actor = 'U_MALLORY' WHERE seq = 3");
      await c.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
      await c.query('COMMIT');
    });
    const r = audit(database.url, 'verify');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /^Audit log BROKEN: first broken link at event 3 \(edited\): event 3 was changed/,
    );
  });
});
