import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { readAuditRecord } from '../../src/adapters/db/audit-export-query';
import { COPIED_TABLES } from '../../src/adapters/db/db-copy';
import { openDatabaseReadOnly } from '../../src/adapters/db/open-db';
import { openPostgres, type PgHandle } from '../../src/adapters/db/open-pg';
import { readPostgresAuditRecord } from '../../src/adapters/db/pg/audit-record';
import { createPostgresStores } from '../../src/adapters/db/pg/stores';
import type { SqliteStores } from '../../src/adapters/db/stores';
import { createSqliteStores } from '../../src/adapters/db/stores';
import { ACTION, CALLBACK } from '../../src/adapters/slack/ids';
import type { AuditKey } from '../../src/app/audit-ports';
import {
  APPROVER,
  APPROVER_2,
  DEFAULT_POLICY,
  GROUP_ID,
  type Harness,
  OWN_ACCOUNT,
  REQUESTER,
  startHarness,
} from '../support/harness';
import { describeWithPostgres, withClient, withTestDatabase } from '../support/postgres';
import { lastRequestId, replyAfter } from '../support/slack-queries';
import { denyModalValues } from '../support/slack-signing';

const ROOT = path.resolve(__dirname, '../..');
const MINUTE = 60_000;
// Each CLI run starts a fresh tsx process; the scenario drives the whole bot first.
jest.setTimeout(120_000);

const SECRET = randomBytes(32);
const KEY: AuditKey = { id: 'k1', secret: SECRET };
const KEYS = { current: KEY, old: [] };
const BOT_ENV = {
  HALLPASS_AUDIT_KEY: `k1:${SECRET.toString('base64')}`,
  HALLPASS_BACKSTOP_ROLE_ARN: `arn:aws:iam::${OWN_ACCOUNT}:role/hallpass-backstop`,
};

/** The harness's policy, with staging-db cutting open connections at its end (network ACL deny entries). */
const POLICY = DEFAULT_POLICY.replace(
  'approvalTimeout: 30m',
  'approvalTimeout: 30m\nnaclRuleNumbers: "100-119"',
).replace('    autoApprove: true\n', '    autoApprove: true\n    cutConnections: nacl\n');

type Run = { status: number | null; stdout: string; stderr: string };

/** `npm run db:copy -- <args>` with the bot's audit key, as an operator would run it. */
function dbCopy(...args: string[]): Run {
  const r = spawnSync('npm', ['run', '--silent', 'db:copy', '--', ...args], {
    cwd: ROOT,
    env: { ...process.env, HALLPASS_AUDIT_KEY: BOT_ENV.HALLPASS_AUDIT_KEY, HALLPASS_AUDIT_OLD_KEYS: '' },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Rows = Record<string, Record<string, unknown>[]>;

/** Every row of every table, in key order (text keys byte for byte), as stored. */
function sqliteRows(file: string): Rows {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries(
      COPIED_TABLES.map((t) => [
        t.name,
        db.prepare(`SELECT * FROM ${t.name} ORDER BY ${t.key}`).all() as Record<string, unknown>[],
      ]),
    );
  } finally {
    db.close();
  }
}

/** The same on PostgreSQL, bigint columns read as numbers. */
async function postgresRows(url: string): Promise<Rows> {
  return withClient(url, async (client) => {
    client.setTypeParser(20, Number);
    const out: Rows = {};
    for (const t of COPIED_TABLES) {
      const key = t.textKey ? `${t.key} COLLATE "C"` : t.key;
      out[t.name] = (await client.query(`SELECT * FROM ${t.name} ORDER BY ${key}`)).rows;
    }
    return out;
  });
}

const counts = (rows: Rows) => Object.fromEntries(Object.entries(rows).map(([t, r]) => [t, r.length]));

/** What the stores read of every request: the request, its votes, its grant and the grant's rule holds. */
async function readThroughStores(stores: SqliteStores, requestIds: readonly string[]) {
  const out = [];
  for (const id of requestIds) {
    const grant = await stores.grants.byRequest(id);
    out.push({
      request: await stores.requests.get(id),
      approvals: await stores.requests.approvals(id),
      grant,
      holds: grant === undefined ? [] : await stores.rules.holdsOf(grant.id),
      cuts: grant === undefined ? [] : await stores.cuts.ofGrant(grant.id),
    });
  }
  return {
    perRequest: out,
    active: await stores.grants.list(['active']),
    closed: await stores.grants.list(['closed', 'failed']),
    pending: await stores.requests.listPending(),
    outboxWaiting: await stores.outbox.waiting(),
    head: await stores.audit.head(),
  };
}

describeWithPostgres(
  'npm run db:copy: a SQLite database hallpass wrote, moved to PostgreSQL (and back)',
  () => {
    const database = withTestDatabase();
    let h: Harness;
    const ids: Record<string, string> = {};
    let engine: string | undefined;

    async function ask(text: string, user = REQUESTER): Promise<string> {
      // One person may send ten commands a minute.
      await h.advance(10_000);
      const before = h.slack.calls.length;
      await h.command(user, text);
      await replyAfter(h.slack, user, before);
      return lastRequestId(h);
    }
    const grantOf = async (requestId: string) => (await h.hallpass.useCases.cardOf(requestId))?.grant;

    beforeAll(async () => {
      // This moves a SQLite database, whatever engine the other end-to-end tests run on.
      engine = process.env['HALLPASS_TEST_ENGINE'];
      delete process.env['HALLPASS_TEST_ENGINE'];
      h = await startHarness({ policy: POLICY, env: BOT_ENV });
      h.ec2.addNetworkAcl({ id: 'acl-0a1b2c3d4e5f60001', subnetIds: ['subnet-a'] });
      h.ec2.addNetworkInterface({ subnetId: 'subnet-a', groupIds: [GROUP_ID], tcpEstablishedTimeout: 300 });
      // Two votes, then expiry.
      ids['twoVotes'] = await ask('prod-web 30m from 203.0.113.8 two approvers needed');
      await h.click(APPROVER, ACTION.approveRequest, ids['twoVotes']);
      await h.click(APPROVER_2, ACTION.approveRequest, ids['twoVotes']);
      // Denied with a reason; cancelled by the requester.
      ids['denied'] = await ask('prod-db 30m from 203.0.113.9 please');
      await h.submit(APPROVER, CALLBACK.denyModal, denyModalValues('not during the freeze'), ids['denied']);
      ids['cancelled'] = await ask('prod-db 30m from 203.0.113.10 never mind');
      await h.advance(10_000);
      await h.command(REQUESTER, `cancel ${ids['cancelled']}`);
      // Auto-approved; its end cuts the connections still open (a network ACL deny entry, held a while).
      await h.advance(10_000);
      await h.command(REQUESTER, 'staging-db 20m from 203.0.113.12 auto');
      ids['auto'] =
        (await h.hallpass.useCases.overview()).active.find((e) => e.grant.resourceId === 'staging-db')?.grant
          .requestId ?? '';
      // Approved, extended (approved too), then revoked by an approver.
      ids['extended'] = await ask('prod-db 30m from 203.0.113.14 long job');
      await h.click(APPROVER, ACTION.approveRequest, ids['extended']);
      await h.advance(10_000);
      await h.command(REQUESTER, `extend ${(await grantOf(ids['extended']))?.id} 15m`);
      ids['extension'] = lastRequestId(h);
      await h.click(APPROVER, ACTION.approveRequest, ids['extension']);
      await h.advance(10_000);
      await h.command(APPROVER, `revoke ${(await grantOf(ids['extended']))?.id}`);
      // A role session, revoked early (its session goes into the role's deny policy).
      ids['role'] = await ask('prod-readonly 30m reading the logs');
      await h.click(APPROVER, ACTION.approveRequest, ids['role']);
      await h.advance(10_000);
      await h.command(APPROVER, `revoke ${(await grantOf(ids['role']))?.id}`);
      // Everything due comes due.
      for (let i = 0; i < 4; i++) await h.advance(10 * MINUTE);
      // Still open when the bot stops: a grant (with its rule hold and backstop) and a request with one vote of two.
      ids['active'] = await ask('prod-db 45m from 203.0.113.20 still working');
      await h.click(APPROVER, ACTION.approveRequest, ids['active']);
      ids['pending'] = await ask('prod-web 30m from 203.0.113.21 waiting for a second vote');
      await h.click(APPROVER, ACTION.approveRequest, ids['pending']);
      await h.stopBot();
    });

    afterAll(async () => {
      await h.close();
      if (engine !== undefined) process.env['HALLPASS_TEST_ENGINE'] = engine;
    });

    it('copies every table row for row into PostgreSQL, and the audit log there verifies with the same head', async () => {
      const run = dbCopy(h.dbPath, database.url);

      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const source = sqliteRows(h.dbPath);
      // Every kind of row the bot keeps is there to copy.
      expect(counts(source)).toMatchObject({
        requests: Object.keys(ids).length,
        grants: 5,
        role_sessions: 1,
      });
      for (const table of [
        'approvals',
        'rule_holds',
        'connection_cuts',
        'backstops',
        'outbox',
        'audit_events',
      ]) {
        expect([table, source[table]?.length]).toEqual([table, expect.any(Number)]);
        expect(source[table]?.length).toBeGreaterThan(0);
      }
      expect(await postgresRows(database.url)).toEqual(source);
      // The head printed for the source and the target, read again by the audit code of each engine.
      const lite = openDatabaseReadOnly(h.dbPath);
      const pg = await openPostgres(database.url);
      try {
        const onSqlite = readAuditRecord(lite.db, KEYS);
        const onPostgres = await readPostgresAuditRecord(pg.db, KEYS);
        expect(onSqlite.chain.ok).toBe(true);
        expect(onSqlite.mismatches).toEqual([]);
        expect(onPostgres).toEqual(onSqlite);
        const head = `${onSqlite.chain.head.count}:${onSqlite.chain.head.hash}`;
        expect(run.stdout).toContain(
          `Audit log on the source: intact, ${onSqlite.chain.head.count} event(s), head ${head}\n`,
        );
        expect(run.stdout).toContain(
          `Audit log on the target: intact, ${onSqlite.chain.head.count} event(s), head ${head} —`,
        );
        expect(run.stdout).toContain(`Head to keep: ${head}\n`);
        expect(run.stdout).toMatch(/^ {2}audit_events +\d+ +\d+$/m);
      } finally {
        lite.close();
        await pg.close();
      }
    });

    it('leaves each key generator on PostgreSQL past the copied keys', async () => {
      const source = sqliteRows(h.dbPath);
      await withClient(database.url, async (client) => {
        client.setTypeParser(20, Number);
        for (const t of COPIED_TABLES.filter((c) => c.generated)) {
          const { rows } = await client.query<{ last: number | null }>(
            'SELECT pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass) AS last',
            [t.name, t.key],
          );
          const max = Math.max(0, ...(source[t.name] ?? []).map((r) => Number(r[t.key])));
          expect([t.name, rows[0]?.last ?? 0]).toEqual([t.name, max]);
        }
      });
    });

    it('reads the same requests, votes, grants, holds, cuts, outbox and head through the stores on PostgreSQL', async () => {
      const lite = openDatabaseReadOnly(h.dbPath);
      const pg: PgHandle = await openPostgres(database.url);
      try {
        const requestIds = Object.values(ids);
        const onSqlite = await readThroughStores(createSqliteStores(lite, { key: KEY }), requestIds);
        const onPostgres = await readThroughStores(createPostgresStores(pg, { key: KEY }), requestIds);
        expect(onPostgres).toEqual(onSqlite);
        expect(onSqlite.active.map((g) => g.requestId)).toEqual([ids['active']]);
        expect(onSqlite.pending.map((r) => r.id)).toEqual([ids['pending']]);
      } finally {
        lite.close();
        await pg.close();
      }
    });

    it('copies it back from PostgreSQL into a new SQLite file, row for row, with the same head', () => {
      const back = path.join(path.dirname(h.dbPath), 'back.db');

      const run = dbCopy(database.url, back);

      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(sqliteRows(back)).toEqual(sqliteRows(h.dbPath));
      const head = /^Head to keep: (\d+:[0-9a-f]{64})$/m.exec(run.stdout)?.[1];
      const lite = openDatabaseReadOnly(back);
      try {
        const record = readAuditRecord(lite.db, KEYS);
        expect(`${record.chain.head.count}:${record.chain.head.hash}`).toBe(head);
      } finally {
        lite.close();
      }
    });

    it('refuses a target that already holds data, with exit 2, and changes nothing in it', async () => {
      const before = await postgresRows(database.url);

      const intoPostgres = dbCopy(h.dbPath, database.url);
      const intoSqlite = dbCopy(database.url, h.dbPath);

      expect(intoPostgres.status).toBe(2);
      expect(intoPostgres.stdout).toBe('');
      expect(intoPostgres.stderr).toMatch(
        /^hallpass db:copy: postgres:\/\/\S+ already holds hallpass data — requests \(\d+\), grants \(\d+\), .* — so nothing was copied/,
      );
      expect(await postgresRows(database.url)).toEqual(before);
      expect(intoSqlite.status).toBe(2);
      expect(intoSqlite.stderr).toContain(`${h.dbPath} already holds hallpass data`);
      expect(sqliteRows(h.dbPath)).toEqual(before);
    });

    it('refuses a source file that does not exist, with exit 2, and creates no target', () => {
      const missing = path.join(path.dirname(h.dbPath), 'no-such.db');
      const target = path.join(path.dirname(h.dbPath), 'never.db');

      const run = dbCopy(missing, target);

      expect(run.status).toBe(2);
      expect(run.stderr).toBe(`hallpass db:copy: no database at ${missing}\n`);
      expect(existsSync(target)).toBe(false);
    });

    it('runs hallpass on the copy: start-up verifies the log, and the grant still open closes on time', async () => {
      const onPostgres = await h.restart({ env: { ...BOT_ENV, HALLPASS_DB: database.url } });
      try {
        expect(h.ec2.rules(GROUP_ID).filter((r) => r.cidr === '203.0.113.20/32')).toHaveLength(1);

        await onPostgres.advance(45 * MINUTE);

        expect((await onPostgres.hallpass.useCases.cardOf(ids['active'] ?? ''))?.grant?.state).toBe('closed');
        expect(h.ec2.rules(GROUP_ID).filter((r) => r.cidr === '203.0.113.20/32')).toEqual([]);
      } finally {
        await onPostgres.stopBot();
      }
      const pg = await openPostgres(database.url);
      try {
        const record = await readPostgresAuditRecord(pg.db, KEYS);
        expect(record.chain).toMatchObject({ ok: true });
        expect(record.mismatches).toEqual([]);
      } finally {
        await pg.close();
      }
    });
  },
);
