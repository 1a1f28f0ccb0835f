import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { MIGRATIONS_FOLDER, openDatabase } from '../../../src/adapters/db/open-db';

/**
 * The SQLite migrations moved from `drizzle/` to `drizzle/sqlite/`. A database migrated by a release
 * that read the old folder must open with the new one as if nothing had moved: the migrations it has
 * are not run again, the ones it lacks are run once, and it ends up exactly like a fresh database.
 */

type Journal = { entries: { idx: number; tag: string; when: number }[] };

const journal = (): Journal =>
  JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as Journal;

/** The schema as SQLite stores it: every table, index and trigger with its SQL. */
const schemaOf = (sqlite: Database.Database): unknown[] =>
  sqlite
    .prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all();

const appliedOf = (sqlite: Database.Database): { hash: string; created_at: number }[] =>
  sqlite
    .prepare<[], { hash: string; created_at: number }>(
      'SELECT hash, created_at FROM __drizzle_migrations ORDER BY id',
    )
    .all();

describe('SQLite migrations moved from drizzle/ to drizzle/sqlite/', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-move-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** The old layout — `<root>/drizzle/` with its `meta/` — as a release that had the first `n` migrations shipped it. */
  function oldLayout(n: number): string {
    const folder = path.join(dir, 'old-release', 'drizzle');
    mkdirSync(path.join(folder, 'meta'), { recursive: true });
    const entries = journal().entries.slice(0, n);
    for (const e of entries)
      cpSync(path.join(MIGRATIONS_FOLDER, `${e.tag}.sql`), path.join(folder, `${e.tag}.sql`));
    writeFileSync(path.join(folder, 'meta', '_journal.json'), JSON.stringify({ ...journal(), entries }));
    return folder;
  }

  it('the journal keeps its order: every migration is newer than the one before it', () => {
    const whens = journal().entries.map((e) => e.when);
    expect(whens.length).toBeGreaterThanOrEqual(11);
    expect(whens).toEqual([...whens].sort((a, b) => a - b));
    expect(new Set(whens).size).toBe(whens.length);
  });

  it.each([1, 3, 5, 7, 10, 11])(
    'a database with the first %i migrations applied from the old folder opens with the new one',
    (n) => {
      const fresh = openDatabase(':memory:');
      const expectedSchema = schemaOf(fresh.sqlite);
      const expectedApplied = appliedOf(fresh.sqlite);
      fresh.close();

      const file = path.join(dir, 'hallpass.db');
      const old = openDatabase(file, { migrationsFolder: oldLayout(n) });
      expect(appliedOf(old.sqlite)).toHaveLength(n);
      // A row every layout since 0000 can hold: it must survive the upgrade.
      old.sqlite
        .prepare(
          `INSERT INTO requests (id, resource_id, requester_id, duration_ms, reason, state, created_at, approval_deadline)
           VALUES ('req_old', 'prod-db', 'U_OLD', 60000, 'why', 'pending', 1, 2)`,
        )
        .run();
      old.close();

      const upgraded = openDatabase(file);
      try {
        // Each migration recorded exactly once, in order, with the same hash and time as a fresh database's.
        expect(appliedOf(upgraded.sqlite)).toEqual(expectedApplied);
        expect(schemaOf(upgraded.sqlite)).toEqual(expectedSchema);
        expect(upgraded.sqlite.prepare("SELECT state FROM requests WHERE id = 'req_old'").get()).toEqual({
          state: 'pending',
        });
      } finally {
        upgraded.close();
      }
    },
  );
});
