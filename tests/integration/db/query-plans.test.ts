import { sqliteIdIn } from '../../../src/adapters/db/chunks';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqlitePrepared } from '../../../src/adapters/db/prepared';
import { grants, ruleHolds } from '../../../src/adapters/db/schema';

/**
 * The queries an open and every notice run, planned on an index of their own: without one, SQLite
 * walked every live grant's holds to find a rule's holder, and every waiting outbox row to find a
 * card's update, so both grew with the load (0.44 ms and 0.21 ms each at 700 live grants and 3,000
 * waiting notices in the soak; 5 µs with the indexes).
 */
describe('SQLite query plans on the hot path', () => {
  const handle = openDatabase(':memory:');
  afterAll(() => handle.close());
  const prepared = createSqlitePrepared(handle.db);

  /** What SQLite says it will do for a prepared query, one line per step. */
  const planOf = (query: { getQuery(): { sql: string; params: unknown[] } }): string[] => {
    const { sql, params } = query.getQuery();
    const values = params.map(() => null);
    return handle.sqlite
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...values)
      .map((row) => (row as { detail: string }).detail);
  };

  it("finds a rule's live holder by the rule's key, not through every live grant", () => {
    const plan = planOf(prepared.liveHoldOf);

    expect(plan[0]).toMatch(
      /^SEARCH rule_holds USING INDEX rule_holds_live_key_idx \(group_id=\? AND cidr=\? AND from_port=\? AND to_port=\?\)/,
    );
    expect(plan.join('\n')).not.toContain('TEMP B-TREE');
  });

  it("finds a request's waiting card update among the waiting rows of that request alone", () => {
    expect(planOf(prepared.waitingCardUpdate)).toEqual([
      'SEARCH outbox USING INDEX outbox_waiting_request_idx (request_id=?)',
    ]);
  });

  it('looks a batch of ids bound as one JSON list up by its index, not by reading the table', () => {
    expect(
      planOf(
        handle.db
          .select()
          .from(grants)
          .where(sqliteIdIn(grants.id, ['a', 'b']))
          .prepare(),
      ),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^SEARCH grants USING INDEX sqlite_autoindex_grants_1 \(id=\?\)/),
      ]),
    );
    const holds = planOf(
      handle.db
        .select()
        .from(ruleHolds)
        .where(sqliteIdIn(ruleHolds.grantId, ['a']))
        .prepare(),
    );
    expect(holds.join('\n')).toMatch(/SEARCH rule_holds USING INDEX \w+ \(grant_id=\?/);
    expect(holds.join('\n')).not.toMatch(/SCAN rule_holds/);
  });
});
