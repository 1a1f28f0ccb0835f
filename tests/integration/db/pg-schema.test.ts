import type Database from 'better-sqlite3';
import type { PgHandle } from '../../../src/adapters/db/open-pg';
import { PG_ONLY_TABLES } from '../../../src/adapters/db/pg-schema';
import { describeWithPostgres, withTestDatabase } from '../../support/postgres';
import { attempt, type Outcome, withBothEngines } from '../../support/two-engines';

/**
 * The PostgreSQL schema (drizzle/postgres/, from pg-schema.ts) against the SQLite one (drizzle/sqlite/,
 * from schema.ts), both as their migrations leave a database: the same tables, columns, nullability,
 * defaults, keys, indexes, CHECKs and foreign keys, and the same answer to the same good or bad row.
 * The tables PostgreSQL alone has (`PG_ONLY_TABLES`: state the replicas share) are left out.
 */

type Column = { type: 'integer' | 'text'; nullable: boolean; default: string | null };
type Index = { unique: boolean; partial: boolean; columns: string };
type Structure = {
  columns: Record<string, Record<string, Column>>;
  primaryKeys: Record<string, string>;
  indexes: Record<string, Record<string, Index>>;
  checks: Record<string, string[]>;
  foreignKeys: Record<string, string[]>;
  triggers: Record<string, string[]>;
};

const byName = <T>(entries: [string, T][]): Record<string, T> =>
  Object.fromEntries([...entries].sort(([a], [b]) => a.localeCompare(b)));

/** A default as both engines would write it: no casts, booleans as 0 / 1. */
const normalizeDefault = (d: string | null): string | null => {
  if (d === null) return null;
  const bare = d.replace(/::[a-z ]+$/, '');
  return bare === 'false' ? '0' : bare === 'true' ? '1' : bare;
};

/** `fn` of each table, keyed by table name in order. */
const perTable = <T>(tables: string[], fn: (table: string) => T): Record<string, T> =>
  byName(tables.map((t) => [t, fn(t)]));

function sqliteStructure(sqlite: Database.Database): Structure {
  const all = <T>(sql: string): T[] => sqlite.prepare<[], T>(sql).all();
  const tables = all<{ name: string; sql: string }>(
    "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__drizzle_migrations'",
  );
  const names = tables.map((t) => t.name);
  type Info = { name: string; type: string; notnull: number; dflt_value: string | null; pk: number };
  const info = (t: string) => all<Info>(`SELECT * FROM pragma_table_info('${t}')`);
  type IndexInfo = { name: string; unique: number; origin: string; partial: number };
  const indexColumns = (i: string) =>
    all<{ name: string }>(`SELECT name FROM pragma_index_info('${i}') ORDER BY seqno`)
      .map((c) => c.name)
      .join(',');
  const triggers = all<{ tbl_name: string; name: string }>(
    "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'",
  );
  return {
    columns: perTable(names, (t) =>
      byName(
        info(t).map((c) => [
          c.name,
          {
            type: c.type.toLowerCase() as Column['type'],
            nullable: c.notnull === 0,
            default: normalizeDefault(c.dflt_value),
          },
        ]),
      ),
    ),
    primaryKeys: perTable(names, (t) =>
      info(t)
        .filter((c) => c.pk > 0)
        .sort((x, y) => x.pk - y.pk)
        .map((c) => c.name)
        .join(','),
    ),
    indexes: perTable(names, (t) =>
      byName(
        all<IndexInfo>(`SELECT * FROM pragma_index_list('${t}')`)
          .filter((i) => i.origin !== 'pk')
          .map((i) => [
            i.name,
            { unique: i.unique === 1, partial: i.partial === 1, columns: indexColumns(i.name) },
          ]),
      ),
    ),
    checks: perTable(names, (t) =>
      [...(tables.find((x) => x.name === t)?.sql ?? '').matchAll(/CONSTRAINT "([^"]+)" CHECK/g)]
        .map((m) => m[1] ?? '')
        .sort(),
    ),
    foreignKeys: perTable(names, (t) =>
      all<{ from: string; table: string; to: string }>(`SELECT * FROM pragma_foreign_key_list('${t}')`)
        .map((f) => `${f.from} -> ${f.table}.${f.to}`)
        .sort(),
    ),
    triggers: perTable(names, (t) =>
      triggers
        .filter((g) => g.tbl_name === t)
        .map((g) => g.name)
        .sort(),
    ),
  };
}

/** PostgreSQL's types for what SQLite calls INTEGER (either width) and TEXT; any other fails the comparison. */
const PG_TYPES: Record<string, Column['type']> = { integer: 'integer', bigint: 'integer', text: 'text' };

async function pgStructure(pool: PgHandle['pool']): Promise<Structure> {
  const rows = async <T>(text: string): Promise<T[]> => (await pool.query(text)).rows as T[];
  const columns = await rows<{
    table_name: string;
    column_name: string;
    is_nullable: string;
    data_type: string;
    column_default: string | null;
  }>(
    "SELECT table_name, column_name, is_nullable, data_type, column_default FROM information_schema.columns WHERE table_schema = 'public'",
  );
  // The replicas' shared state has no SQLite twin (one process keeps it in memory).
  const pgOnly: readonly string[] = PG_ONLY_TABLES;
  const names = [...new Set(columns.map((c) => c.table_name))].filter((t) => !pgOnly.includes(t));
  const primaryKeys = await rows<{ table_name: string; columns: string }>(`
    SELECT tc.table_name, string_agg(k.column_name, ',' ORDER BY k.ordinal_position) AS columns
    FROM information_schema.table_constraints tc
    JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name, table_name)
    WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY'
    GROUP BY tc.table_name`);
  const indexes = await rows<{
    table_name: string;
    index_name: string;
    unique: boolean;
    partial: boolean;
    columns: string;
  }>(`
    SELECT t.relname AS table_name, i.relname AS index_name, x.indisunique AS unique, x.indpred IS NOT NULL AS partial,
      (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
         FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relnamespace = 'public'::regnamespace AND NOT x.indisprimary`);
  const checks = await rows<{ table_name: string; name: string }>(`
    SELECT conrelid::regclass::text AS table_name, conname AS name FROM pg_constraint
    WHERE contype = 'c' AND connamespace = 'public'::regnamespace`);
  const foreignKeys = await rows<{ table_name: string; name: string }>(`
    SELECT c.conrelid::regclass::text AS table_name,
      a.attname || ' -> ' || (c.confrelid::regclass::text) || '.' || r.attname AS name
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute r ON r.attrelid = c.confrelid AND r.attnum = c.confkey[1]
    WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace`);
  const triggers = await rows<{ table_name: string; name: string }>(`
    SELECT tgrelid::regclass::text AS table_name, tgname AS name FROM pg_trigger WHERE NOT tgisinternal`);
  const of = <T extends { table_name: string }>(list: T[], t: string) =>
    list.filter((r) => r.table_name === t);
  const namesOf = (list: { table_name: string; name: string }[], t: string) =>
    of(list, t)
      .map((r) => r.name)
      .sort();
  return {
    columns: perTable(names, (t) =>
      byName(
        of(columns, t).map((c) => [
          c.column_name,
          {
            type: PG_TYPES[c.data_type] ?? (c.data_type as Column['type']),
            nullable: c.is_nullable === 'YES',
            default: normalizeDefault(c.column_default),
          },
        ]),
      ),
    ),
    primaryKeys: perTable(names, (t) => of(primaryKeys, t)[0]?.columns ?? ''),
    indexes: perTable(names, (t) =>
      byName(
        of(indexes, t).map((i) => [
          i.index_name,
          { unique: i.unique, partial: i.partial, columns: i.columns },
        ]),
      ),
    ),
    checks: perTable(names, (t) => namesOf(checks, t)),
    foreignKeys: perTable(names, (t) => namesOf(foreignKeys, t)),
    triggers: perTable(names, (t) => namesOf(triggers, t)),
  };
}

type Row = Record<string, string | number | null>;
const insert = (table: string, row: Row): [string, unknown[]] => [
  `INSERT INTO ${table} (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row)
    .map(() => '?')
    .join(', ')})`,
  Object.values(row),
];

const request: Row = {
  id: 'req_1',
  resource_id: 'prod-db',
  requester_id: 'U1',
  duration_ms: 1_800_000,
  reason: 'why',
  state: 'pending',
  created_at: 1_790_000_000_000,
  approval_deadline: 1_790_000_900_000,
};
const grant: Row = {
  id: 'grt_1',
  request_id: 'req_1',
  resource_id: 'prod-db',
  requester_id: 'U1',
  state: 'active',
  starts_at: 1_790_000_000_000,
  expires_at: 1_790_001_800_000,
};
/** What an ingress rule and a connection cut both name: the grant's address and ports in one group. */
const target: Row = {
  grant_id: 'grt_1',
  region: 'eu-west-1',
  group_id: 'sg-1',
  protocol: 'tcp',
  from_port: 22,
  to_port: 22,
  cidr: '203.0.113.7/32',
};
const hold: Row = { ...target, rule_id: 'sgr-1', managed: 1 };
const cut: Row = {
  ...target,
  network_acl_id: 'acl-1',
  rule_number: 90,
  state: 'in_place',
  created_at: 1,
  updated_at: 1,
};
const approval: Row = { request_id: 'req_1', approver_id: 'U2', at: 1 };
const session: Row = {
  grant_id: 'grt_1',
  role_arn: 'arn:aws:iam::111122223333:role/ops',
  session_name: 'hallpass-grt_1',
  assumed_role_id: 'AROAEXAMPLE:hallpass-grt_1',
  expires_at: 1,
};
const backstop: Row = { rule_id: 'sgr-1', region: 'eu-west-1', group_id: 'sg-1', fire_at: 1, updated_at: 1 };
const delivery: Row = { kind: 'dm', lane: 'req:req_1', attempts: 0, created_at: 1, next_at: 1 };

/** `[title, how both engines answer, rows written first, the row under test, the CHECK that refuses it]`. */
type Case = [title: string, expected: Outcome, setup: [string, Row][], row: [string, Row], check?: string];

const withGrant: [string, Row][] = [
  ['requests', request],
  ['grants', grant],
];

const CASES: Case[] = [
  [
    'a request in an unknown state',
    'check',
    [],
    ['requests', { ...request, state: 'lost' }],
    'requests_state_check',
  ],
  ['a request in every known state', 'ok', [], ['requests', { ...request, state: 'timed_out' }]],
  [
    'a request with a source CIDR but no family',
    'check',
    [],
    ['requests', { ...request, source_cidr: '10.0.0.0/8' }],
    'requests_source_check',
  ],
  [
    'a request with address family 5',
    'check',
    [],
    ['requests', { ...request, source_cidr: '10.0.0.0/8', source_family: 5, source_prefix: 8 }],
    'requests_source_check',
  ],
  [
    'a request with a whole IPv6 source',
    'ok',
    [],
    ['requests', { ...request, source_cidr: '2001:db8::/64', source_family: 6, source_prefix: 64 }],
  ],
  [
    'a request with a message channel but no ts',
    'check',
    [],
    ['requests', { ...request, message_channel: 'C1' }],
    'requests_message_check',
  ],
  [
    'a request with a message channel and ts',
    'ok',
    [],
    ['requests', { ...request, message_channel: 'C1', message_ts: '1.2' }],
  ],
  ['a request without a reason', 'not-null', [], ['requests', { ...request, reason: null }]],
  ['a second request with the same id', 'unique', [['requests', request]], ['requests', request]],
  [
    'a grant in an unknown state',
    'check',
    [['requests', request]],
    ['grants', { ...grant, state: 'lost' }],
    'grants_state_check',
  ],
  [
    'a grant with an unknown end reason',
    'check',
    [['requests', request]],
    ['grants', { ...grant, state: 'closed', end_reason: 'bored' }],
    'grants_end_reason_check',
  ],
  [
    'a grant that expired',
    'ok',
    [['requests', request]],
    ['grants', { ...grant, state: 'closed', end_reason: 'expired' }],
  ],
  ['a second grant for one request', 'unique', withGrant, ['grants', { ...grant, id: 'grt_2' }]],
  ['a grant for a request that does not exist', 'foreign-key', [], ['grants', grant]],
  [
    'a second vote by the same approver',
    'unique',
    [
      ['requests', request],
      ['approvals', approval],
    ],
    ['approvals', approval],
  ],
  [
    'a vote by another approver',
    'ok',
    [
      ['requests', request],
      ['approvals', approval],
    ],
    ['approvals', { ...approval, approver_id: 'U3' }],
  ],
  [
    'a hold on an ICMP rule',
    'check',
    withGrant,
    ['rule_holds', { ...hold, protocol: 'icmp' }],
    'rule_holds_protocol_check',
  ],
  [
    'a hold whose managed flag is 2',
    'check',
    withGrant,
    ['rule_holds', { ...hold, managed: 2 }],
    'rule_holds_managed_check',
  ],
  ['a grant holding one rule twice', 'unique', [...withGrant, ['rule_holds', hold]], ['rule_holds', hold]],
  [
    'a grant holding a rule again after releasing it',
    'ok',
    [...withGrant, ['rule_holds', { ...hold, released_at: 5 }]],
    ['rule_holds', hold],
  ],
  ['a hold for a grant that does not exist', 'foreign-key', [['requests', request]], ['rule_holds', hold]],
  [
    'a connection cut in an unknown state',
    'check',
    withGrant,
    ['connection_cuts', { ...cut, state: 'cutting' }],
    'connection_cuts_state_check',
  ],
  [
    'two live cuts given one ACL rule number',
    'unique',
    [...withGrant, ['connection_cuts', cut]],
    ['connection_cuts', { ...cut, state: 'adding' }],
  ],
  [
    'a live cut taking the number of a removed one',
    'ok',
    [...withGrant, ['connection_cuts', { ...cut, state: 'removed' }]],
    ['connection_cuts', cut],
  ],
  [
    'a role session for a grant that does not exist',
    'foreign-key',
    [['requests', request]],
    ['role_sessions', session],
  ],
  [
    'a second role session for one grant',
    'unique',
    [...withGrant, ['role_sessions', session]],
    ['role_sessions', session],
  ],
  ['a second backstop for one rule', 'unique', [['backstops', backstop]], ['backstops', backstop]],
  ['an outbox row without a lane', 'not-null', [], ['outbox', { ...delivery, lane: null }]],
  [
    'an outbox row of a kind no CHECK lists (neither engine has one)',
    'ok',
    [],
    ['outbox', { ...delivery, kind: 'fax' }],
  ],
];

describeWithPostgres('PostgreSQL', () => {
  const db = withTestDatabase();

  describe('the PostgreSQL schema against the SQLite schema', () => {
    const both = withBothEngines(db);

    it('has the same tables, columns, nullability, defaults, keys, indexes, CHECKs and foreign keys', async () => {
      const expected = sqliteStructure(both.sqlite.sqlite);
      const actual = await pgStructure(both.postgres.pool);
      expect(Object.keys(actual.columns)).toEqual(Object.keys(expected.columns));
      expect(actual.columns).toEqual(expected.columns);
      expect(actual.primaryKeys).toEqual(expected.primaryKeys);
      expect(actual.indexes).toEqual(expected.indexes);
      expect(actual.checks).toEqual(expected.checks);
      expect(actual.foreignKeys).toEqual(expected.foreignKeys);
      // The same audit triggers, and one SQLite needs not: TRUNCATE skips PostgreSQL's row triggers.
      expect(actual.triggers).toEqual({
        ...expected.triggers,
        audit_events: [...(expected.triggers['audit_events'] ?? []), 'audit_events_no_truncate'].sort(),
      });
      expect(expected.triggers['audit_events']).toHaveLength(4);
    });

    it('keeps every timestamp and length of time in a 64-bit column (epoch milliseconds outgrow INTEGER)', async () => {
      const r = await both.postgres.pool.query<{
        table_name: string;
        column_name: string;
        data_type: string;
      }>(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'",
      );
      const timeColumns = r.rows.filter((c) => /(^at|_at|_deadline|_ms)$/.test(c.column_name));
      expect(timeColumns.length).toBeGreaterThanOrEqual(25);
      expect(timeColumns.filter((c) => c.data_type !== 'bigint')).toEqual([]);
    });

    it.each(CASES)('%s: %s on both engines', async (...[, expected, setup, row, check]: Case) => {
      for (const engine of both.engines) {
        for (const [table, values] of setup) await engine.run(...insert(table, values));
        const result = await attempt(engine, ...insert(...row));
        expect({ engine: engine.name, outcome: result.outcome }).toEqual({
          engine: engine.name,
          outcome: expected,
        });
        if (check !== undefined) expect(result.message).toContain(check);
      }
    });

    it('fills the same defaults on both engines: access, flags off, no close attempts', async () => {
      for (const engine of both.engines) {
        for (const [table, values] of [
          ...withGrant,
          ['rule_holds', hold] as [string, Row],
          ['outbox', delivery] as [string, Row],
        ])
          await engine.run(...insert(table, values));
        const read = async (sql: string) => (await engine.run(sql))[0];
        expect(await read('SELECT kind, break_glass FROM requests')).toEqual({
          kind: 'access',
          break_glass: 0,
        });
        expect(await read('SELECT break_glass, close_attempts FROM grants')).toEqual({
          break_glass: 0,
          close_attempts: 0,
        });
        expect(await read('SELECT target_recorded FROM rule_holds')).toEqual({ target_recorded: 0 });
        expect(await read('SELECT abandoned FROM outbox')).toEqual({ abandoned: 0 });
      }
    });

    it('gives AUTOINCREMENT keys on both engines: new rows count up, an explicit key is accepted', async () => {
      for (const engine of both.engines) {
        await engine.run(...insert('requests', request));
        await engine.run(...insert('approvals', approval));
        await engine.run(...insert('approvals', { ...approval, approver_id: 'U3' }));
        await engine.run(...insert('approvals', { ...approval, approver_id: 'U4', id: 10 }));
        const ids = (await engine.run('SELECT id FROM approvals ORDER BY id')).map((r) => Number(r['id']));
        expect({ engine: engine.name, ids }).toEqual({
          engine: engine.name,
          ids: [ids[0], (ids[0] ?? 0) + 1, 10],
        });
      }
    });
  });
});
