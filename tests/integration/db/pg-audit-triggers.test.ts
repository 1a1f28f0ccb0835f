import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { PoolClient } from 'pg';
import { GENESIS_HASH } from '../../../src/adapters/db/audit-log';
import { MIGRATIONS_FOLDER } from '../../../src/adapters/db/open-db';
import {
  openPostgres,
  PG_AUDIT_APPEND_LOCK_KEY,
  PG_MIGRATIONS_FOLDER,
  type PgHandle,
} from '../../../src/adapters/db/open-pg';
import { describeWithPostgres, withTestDatabase } from '../../support/postgres';
import { attempt, type Engine, type Result, withBothEngines } from '../../support/two-engines';

/**
 * The audit table's triggers: append-only (drizzle/sqlite/0001, drizzle/postgres/0001) and
 * hash-chained (drizzle/sqlite/0005, drizzle/postgres/0001), driven with the same statements on both
 * engines, which must answer alike — refusal, kind and message.
 */

const APPEND =
  "INSERT INTO audit_events (at, actor, type, prev_hash, hash) VALUES (0, 'U_X', 'test.event', ?, ?)";
const APPEND_TWO =
  "INSERT INTO audit_events (at, actor, type, prev_hash, hash) VALUES (0, 'U_X', 'a', ?, ?), (1, 'U_X', 'b', ?, ?)";
const LINKED = 'audit_events is hash-chained: prev_hash must be the hash of the last event';
const SEALED = 'audit_events is hash-chained: INSERT without prev_hash and hash refused';

const ok: Result = { outcome: 'ok', message: '' };
const refused = (message: string): Result => ({ outcome: 'trigger', message });

const seals = async (engine: Engine): Promise<unknown[]> =>
  (await engine.run('SELECT prev_hash, hash FROM audit_events ORDER BY seq')).map((r) => [
    r['prev_hash'],
    r['hash'],
  ]);

/** `[statement, parameters, what both engines must answer]`, run in order on one database. */
type Step = [sql: string, params: (string | null)[], expected: Result];

const CHAIN_STEPS: Step[] = [
  // An empty log: the first event must link to 64 zeros (checked before the seal, on both engines).
  [APPEND, [null, null], refused(LINKED)],
  [APPEND, [GENESIS_HASH, null], refused(SEALED)],
  [APPEND, ['e'.repeat(64), 'h1'], refused(LINKED)],
  [APPEND, [GENESIS_HASH, 'h1'], ok],
  // Every later event links to the last one's hash, and carries both seals.
  [APPEND, [GENESIS_HASH, 'h2'], refused(LINKED)],
  [APPEND, ['h1', null], refused(SEALED)],
  [APPEND, [null, 'h2'], refused(LINKED)],
  [APPEND, ['h1', 'h2'], ok],
  // Rows of one statement are checked one by one, each against the row before it.
  [APPEND_TWO, ['h2', 'h3', 'h3', 'h4'], ok],
  [APPEND_TWO, ['h4', 'h5', 'h4', 'h6'], refused(LINKED)],
  // Append-only: any UPDATE or DELETE of a row is refused; one that touches no row is not.
  [
    "UPDATE audit_events SET actor = 'U_EVIL' WHERE hash = 'h2'",
    [],
    refused('audit_events is append-only: UPDATE refused'),
  ],
  ["UPDATE audit_events SET hash = 'h9'", [], refused('audit_events is append-only: UPDATE refused')],
  ["DELETE FROM audit_events WHERE hash = 'h4'", [], refused('audit_events is append-only: DELETE refused')],
  ['DELETE FROM audit_events', [], refused('audit_events is append-only: DELETE refused')],
  ["UPDATE audit_events SET actor = 'U_EVIL' WHERE hash = 'none'", [], ok],
  ["DELETE FROM audit_events WHERE hash = 'none'", [], ok],
  [APPEND, ['h4', 'h5'], ok],
];

/** Runs the steps in order on `engine`, which must answer each as expected. */
async function expectAnswers(engine: Engine, steps: Step[]): Promise<void> {
  const answers: Result[] = [];
  for (const [sql, params] of steps) answers.push(await attempt(engine, sql, params));
  expect({ engine: engine.name, answers }).toEqual({
    engine: engine.name,
    answers: steps.map(([, , e]) => e),
  });
}

/** What is left after CHAIN_STEPS: the accepted events, untouched. */
const CHAIN_AFTER = [
  [GENESIS_HASH, 'h1'],
  ['h1', 'h2'],
  ['h2', 'h3'],
  ['h3', 'h4'],
  ['h4', 'h5'],
];

/** SQLite's chain triggers, as migration 0005 creates them. */
const sqliteChainTriggers = (): string[] =>
  readFileSync(path.join(MIGRATIONS_FOLDER, '0005_audit_chain_triggers.sql'), 'utf8').split(
    '--> statement-breakpoint',
  );

const APPEND_PG = APPEND.replace('?', '$1').replace('?', '$2');

const LEGACY = "INSERT INTO audit_events (at, actor, type) VALUES (0, 'U_OLD', 'legacy.event')";

describeWithPostgres('PostgreSQL', () => {
  const db = withTestDatabase();

  describe('the audit triggers on both engines', () => {
    const both = withBothEngines(db);

    it('refuse and accept the same appends, updates and deletes, with the same messages', async () => {
      for (const engine of both.engines) {
        await expectAnswers(engine, CHAIN_STEPS);
        expect(await seals(engine)).toEqual(CHAIN_AFTER);
      }
    });

    it('check the link only once the last event is sealed, after events from before the chain', async () => {
      // Unsealed "legacy" events, as a log recorded before the chain existed holds them.
      const [lite, postgres] = both.engines;
      await lite.run('DROP TRIGGER audit_events_sealed');
      await lite.run('DROP TRIGGER audit_events_linked');
      await lite.run(LEGACY);
      await lite.run(LEGACY);
      for (const statement of sqliteChainTriggers()) await lite.run(statement);
      await postgres.run('ALTER TABLE audit_events DISABLE TRIGGER USER');
      await postgres.run(LEGACY);
      await postgres.run(LEGACY);
      await postgres.run('ALTER TABLE audit_events ENABLE TRIGGER USER');

      const steps: Step[] = [
        [APPEND, [null, null], refused(SEALED)],
        // The first sealed event links to a digest of the legacy ones, which SQL cannot check.
        [APPEND, ['d'.repeat(64), 'h1'], ok],
        [APPEND, ['d'.repeat(64), 'h2'], refused(LINKED)],
        [APPEND, ['h1', 'h2'], ok],
      ];
      for (const engine of both.engines) await expectAnswers(engine, steps);
    });

    it('PostgreSQL also refuses TRUNCATE, which skips row triggers', async () => {
      const [, postgres] = both.engines;
      await postgres.run(APPEND, [GENESIS_HASH, 'h1']);
      expect(await attempt(postgres, 'TRUNCATE audit_events')).toEqual(
        refused('audit_events is append-only: TRUNCATE refused'),
      );
      expect(await seals(postgres)).toEqual([[GENESIS_HASH, 'h1']]);
    });

    it('the migration takes the advisory lock open-pg.ts names', () => {
      const sql = readFileSync(
        path.join(PG_MIGRATIONS_FOLDER, '0001_audit_append_only_and_chain.sql'),
        'utf8',
      );
      expect(sql).toContain(`pg_advisory_xact_lock(${PG_AUDIT_APPEND_LOCK_KEY})`);
    });
  });

  describe('the audit chain trigger with concurrent writers (PostgreSQL)', () => {
    let pg: PgHandle;
    let a: PoolClient;
    let b: PoolClient;

    beforeAll(async () => {
      pg = await openPostgres(db.url);
      a = await pg.pool.connect();
      b = await pg.pool.connect();
      await a.query(APPEND_PG, [GENESIS_HASH, 'h1']);
    });
    afterEach(async () => {
      // A failed test must not leave a transaction open for the next (outside one, ROLLBACK only warns).
      await a.query('ROLLBACK');
      await b.query('ROLLBACK');
    });
    afterAll(async () => {
      a?.release();
      b?.release();
      await pg?.close();
    });

    const append = (c: PoolClient, prev: string, hash: string): Promise<string> =>
      c.query(APPEND_PG, [prev, hash]).then(
        () => 'ok',
        (e: unknown) => (e instanceof Error ? `${(e as { code?: string }).code}: ${e.message}` : String(e)),
      );

    const head = async (): Promise<string> =>
      (await pg.pool.query<{ hash: string }>('SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1'))
        .rows[0]?.hash ?? '';

    it('queues two appends linked to the same event, and refuses the second once the first commits', async () => {
      const last = await head();
      await a.query('BEGIN');
      expect(await append(a, last, 'a1')).toBe('ok');
      await b.query('BEGIN');
      let settled = false;
      const second = append(b, last, 'b1').finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      await a.query('COMMIT');
      expect(await second).toBe(`23000: ${LINKED}`);
      await b.query('ROLLBACK');
      // Linked to the new head, the same append goes through.
      await b.query('BEGIN');
      expect(await append(b, 'a1', 'b1')).toBe('ok');
      await b.query('COMMIT');
      expect(await head()).toBe('b1');
    });

    it('refuses to append under REPEATABLE READ, whose snapshot would hide a concurrent append', async () => {
      await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      expect(await append(a, await head(), 'x')).toMatch(/^23000: .*not REPEATABLE READ/);
      await a.query('ROLLBACK');
    });

    it('under SERIALIZABLE, of two appends linked to the same event only one commits', async () => {
      const last = await head();
      await a.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await b.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      // Both take their snapshot before either appends.
      await a.query('SELECT count(*) FROM audit_events');
      await b.query('SELECT count(*) FROM audit_events');
      expect(await append(a, last, 's1')).toBe('ok');
      const second = append(b, last, 's2');
      await a.query('COMMIT');
      const outcome = await second;
      const committed =
        outcome === 'ok'
          ? await b.query('COMMIT').then(
              () => 'ok',
              (e: Error) => e.message,
            )
          : outcome;
      if (outcome !== 'ok' || committed !== 'ok') await b.query('ROLLBACK');
      expect(committed).not.toBe('ok');
      expect(await head()).toBe('s1');
    });
  });
});
