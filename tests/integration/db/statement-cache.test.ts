import Database from 'better-sqlite3';
import { asc, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { openDatabase } from '../../../src/adapters/db/open-db';
import * as schema from '../../../src/adapters/db/schema';
import { createStatementCache, withStatementCache } from '../../../src/adapters/db/statement-cache';
import { createSqliteStores } from '../../../src/adapters/db/stores';
import { buildNewRequest } from '../../support/builders';

/** A bare connection with one small table, counting the statements actually prepared on it. */
function counted(): { sqlite: Database.Database; prepared: () => number } {
  const sqlite = new Database(':memory:');
  sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  sqlite.exec("INSERT INTO t (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')");
  let prepared = 0;
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    prepared += 1;
    return prepare(source);
  }) as typeof sqlite.prepare;
  return { sqlite, prepared: () => prepared };
}

describe('statement cache', () => {
  it('prepares a statement once and hands the same one out for the same SQL', () => {
    const { sqlite, prepared } = counted();
    const cache = createStatementCache(sqlite, 4);
    const first = cache.prepare('SELECT name FROM t WHERE id = ?');
    const second = cache.prepare('SELECT name FROM t WHERE id = ?');
    expect(second).toBe(first);
    expect(prepared()).toBe(1);
    expect(second.get(2)).toEqual({ name: 'two' });
  });

  it('keeps at most its bound, forgetting the least recently used statement first', () => {
    const { sqlite, prepared } = counted();
    const cache = createStatementCache(sqlite, 3);
    const q = (n: number) => `SELECT ${n} AS n FROM t LIMIT 1`;
    cache.prepare(q(1));
    cache.prepare(q(2));
    cache.prepare(q(3));
    cache.prepare(q(1)); // 1 is now the most recently used: 2 goes first
    cache.prepare(q(4));
    expect(cache.size).toBe(3);
    expect(cache.keys()).toEqual([q(3), q(1), q(4)]);
    expect(prepared()).toBe(4);
    cache.prepare(q(2)); // forgotten: prepared again, and 3 goes
    expect(prepared()).toBe(5);
    expect(cache.keys()).toEqual([q(1), q(4), q(2)]);
  });

  it('never grows past its bound however many distinct statements run', () => {
    const { sqlite } = counted();
    const cache = createStatementCache(sqlite, 256);
    for (let i = 0; i < 1_000; i++) expect(cache.prepare(`SELECT ${i} AS n`).get()).toEqual({ n: i });
    expect(cache.size).toBe(256);
  });

  it('an evicted statement still runs for whoever holds it', () => {
    const { sqlite } = counted();
    const cache = createStatementCache(sqlite, 1);
    const held = cache.prepare('SELECT count(*) AS n FROM t');
    cache.prepare('SELECT 1 AS one');
    expect(cache.keys()).toEqual(['SELECT 1 AS one']);
    expect(held.get()).toEqual({ n: 3 });
  });

  it('hands a statement out with raw, pluck and expand modes off, whatever the last user left on', () => {
    const { sqlite } = counted();
    const cache = createStatementCache(sqlite, 4);
    const source = 'SELECT id, name FROM t ORDER BY id';
    expect(cache.prepare(source).raw().all()).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ]);
    expect(cache.prepare(source).get()).toEqual({ id: 1, name: 'one' });
    cache.prepare(source).pluck();
    expect(cache.prepare(source).get()).toEqual({ id: 1, name: 'one' });
    cache.prepare(source).expand();
    expect(cache.prepare(source).get()).toEqual({ id: 1, name: 'one' });
  });

  it('caches statements that return no data too', () => {
    const { sqlite, prepared } = counted();
    const cache = createStatementCache(sqlite, 4);
    cache.prepare('UPDATE t SET name = ? WHERE id = ?').run('uno', 1);
    cache.prepare('UPDATE t SET name = ? WHERE id = ?').run('dos', 2);
    expect(prepared()).toBe(1);
    expect(sqlite.prepare('SELECT name FROM t ORDER BY id').pluck().all()).toEqual(['uno', 'dos', 'three']);
  });

  it('does not hand out a statement still iterating: the second caller gets its own', () => {
    const { sqlite } = counted();
    const cache = createStatementCache(sqlite, 4);
    const source = 'SELECT id FROM t ORDER BY id';
    const iterating = cache.prepare(source).iterate();
    expect(iterating.next().value).toEqual({ id: 1 });
    const other = cache.prepare(source);
    expect(other.all()).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect([...iterating]).toEqual([{ id: 2 }, { id: 3 }]);
  });

  it('refuses a bound below one', () => {
    const { sqlite } = counted();
    expect(() => createStatementCache(sqlite, 0)).toThrow(RangeError);
  });
});

describe('drizzle over the statement cache', () => {
  /** One connection, drizzle over it both ways: preparing every query, and through the cache. */
  function both() {
    const handle = openDatabase(':memory:');
    const plain = drizzle({ client: handle.sqlite, schema });
    const { client, cache } = withStatementCache(handle.sqlite);
    return { handle, plain, cached: drizzle({ client, schema }), cache };
  }

  it('answers exactly as drizzle preparing every query does, run after run', () => {
    const { handle, plain, cached, cache } = both();
    try {
      const stores = createSqliteStores({ db: cached, sqlite: handle.sqlite });
      for (let i = 0; i < 5; i++) stores.requests.insert(buildNewRequest({ requesterId: `U0${i}` }));
      const byRequester = (db: typeof plain, who: string) =>
        db.select().from(schema.requests).where(eq(schema.requests.requesterId, who)).get();
      const everything = (db: typeof plain) =>
        db.select().from(schema.requests).orderBy(asc(schema.requests.id)).all();
      const counts = (db: typeof plain) =>
        db.all(sql`SELECT requester_id, count(*) AS n FROM requests GROUP BY requester_id ORDER BY 1`);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 5; i++)
          expect(byRequester(cached, `U0${i}`)).toEqual(byRequester(plain, `U0${i}`));
        expect(everything(cached)).toEqual(everything(plain));
        expect(counts(cached)).toEqual(counts(plain));
      }
      expect(everything(cached)).toHaveLength(5);
      expect(cache.size).toBeGreaterThan(0);
    } finally {
      handle.close();
    }
  });

  it('gives rows as objects to a query whose SQL a raw-mode query ran before it', () => {
    // drizzle reads a select with fields in raw mode and `db.all(sql)` as objects: one text, both ways.
    const { handle, plain, cached } = both();
    try {
      createSqliteStores({ db: cached, sqlite: handle.sqlite }).requests.insert(buildNewRequest());
      const query = cached.select().from(schema.requests);
      const text = query.toSQL().sql;
      expect(query.all()).toHaveLength(1);
      expect(cached.all(sql.raw(text))).toEqual(plain.all(sql.raw(text)));
      expect(cached.all(sql.raw(text))[0]).not.toBeInstanceOf(Array);
      expect(query.all()).toEqual(plain.select().from(schema.requests).all());
    } finally {
      handle.close();
    }
  });

  it('prepares a batch of ids once, whatever its length: one statement in the cache, not one per length', async () => {
    // drizzle's inArray wrote one `?` per id, so batches of closes of every size each prepared and
    // cached a statement of their own, pushing the hot ones out (sqliteIdIn binds one JSON list).
    const handle = openDatabase(':memory:');
    try {
      const stores = createSqliteStores({ db: handle.db, sqlite: handle.sqlite });
      const requests = Array.from({ length: 30 }, (_, i) => buildNewRequest({ requesterId: `U${i}` }));
      for (const r of requests) await stores.requests.insert(r);
      const ids = requests.map((r) => r.id);
      await stores.requests.getAll(ids.slice(0, 1));
      const prepare = jest.spyOn(handle.sqlite, 'prepare');
      for (let n = 1; n <= ids.length; n++) {
        const got = await stores.requests.getAll([...ids.slice(0, n), 'req_unknown']);
        expect(got.map((r) => r.id).sort()).toEqual(ids.slice(0, n).sort());
      }
      expect(prepare).not.toHaveBeenCalled();
      await expect(stores.requests.getAll([])).resolves.toEqual([]);
    } finally {
      handle.close();
    }
  });

  it('runs transactions on the same connection', () => {
    const { handle, cached } = both();
    try {
      expect(() =>
        cached.transaction(() => {
          cached.run(sql`CREATE TABLE scratch (x INTEGER)`);
          cached.run(sql`INSERT INTO scratch VALUES (1)`);
          throw new Error('roll back');
        }),
      ).toThrow('roll back');
      expect(
        handle.sqlite.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'scratch'").get(),
      ).toEqual({
        n: 0,
      });
      expect(handle.sqlite.inTransaction).toBe(false);
    } finally {
      handle.close();
    }
  });
});
