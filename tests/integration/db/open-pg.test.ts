import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../../src/adapters/db/open-db';
import {
  openPostgres,
  PG_MIGRATION_LOCK_KEY,
  PG_MIGRATIONS_FOLDER,
  type PgHandle,
} from '../../../src/adapters/db/open-pg';
import { PG_ONLY_TABLES } from '../../../src/adapters/db/pg-schema';
import {
  createTestDatabase,
  describeWithPostgres,
  dropTestDatabase,
  type TestDatabase,
  withClient,
  withTestDatabase,
} from '../../support/postgres';

type Journal = { entries: { tag: string; when: number }[] };
const journal = (): Journal =>
  JSON.parse(readFileSync(path.join(PG_MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as Journal;

const applied = async (url: string): Promise<{ hash: string; created_at: string }[]> =>
  withClient(url, async (c) => {
    const r = await c.query<{ hash: string; created_at: string }>(
      'SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id',
    );
    return r.rows;
  });

const tables = async (url: string): Promise<string[]> =>
  withClient(url, async (c) => {
    const r = await c.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    return r.rows.map((row) => row.table_name);
  });

/** The tables a migrated SQLite database has, besides drizzle's own. */
function sqliteTables(): string[] {
  const handle = openDatabase(':memory:');
  try {
    return handle.sqlite
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__drizzle_migrations' ORDER BY name",
      )
      .all()
      .map((r) => r.name);
  } finally {
    handle.close();
  }
}

describe('the PostgreSQL migrations folder', () => {
  it('sits beside the SQLite one and lists the init, the hand-written audit migration, the shared state, the address links, the automation tables and the hot-path indexes', () => {
    expect(PG_MIGRATIONS_FOLDER).toBe(path.resolve(__dirname, '../../../drizzle/postgres'));
    expect(journal().entries.map((e) => e.tag)).toEqual([
      '0000_init',
      '0001_audit_append_only_and_chain',
      '0002_shared_state',
      '0003_address_links',
      '0004_api_tokens',
      '0005_live_hold_key',
    ]);
  });
});

describeWithPostgres('openPostgres', () => {
  const db = withTestDatabase();

  it('applies every migration on an empty database, and a second open changes nothing', async () => {
    const first = await openPostgres(db.url);
    await first.close();
    const once = await applied(db.url);
    expect(once.map((m) => Number(m.created_at))).toEqual(journal().entries.map((e) => e.when));
    expect(await tables(db.url)).toEqual([...sqliteTables(), ...PG_ONLY_TABLES].sort());

    const second = await openPostgres(db.url);
    try {
      expect(await applied(db.url)).toEqual(once);
      const r = await second.pool.query<{ n: string }>('SELECT count(*) AS n FROM requests');
      expect(r.rows[0]?.n).toBe('0');
    } finally {
      await second.close();
    }
  });

  it('releases its migration lock: another session can take it at once', async () => {
    const h = await openPostgres(db.url);
    try {
      await withClient(db.url, async (c) => {
        const r = await c.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [
          PG_MIGRATION_LOCK_KEY,
        ]);
        expect(r.rows[0]?.got).toBe(true);
        await c.query('SELECT pg_advisory_unlock($1)', [PG_MIGRATION_LOCK_KEY]);
      });
    } finally {
      await h.close();
    }
  });

  it('waits while another session holds the migration lock', async () => {
    await withClient(db.url, async (holder) => {
      await holder.query('SELECT pg_advisory_lock($1)', [PG_MIGRATION_LOCK_KEY]);
      let opened: PgHandle | undefined;
      const opening = openPostgres(db.url).then((h) => {
        opened = h;
        return h;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(opened).toBeUndefined();
      await holder.query('SELECT pg_advisory_unlock($1)', [PG_MIGRATION_LOCK_KEY]);
      await (await opening).close();
      expect(opened).toBeDefined();
    });
  });

  it('closing twice is harmless', async () => {
    const h = await openPostgres(db.url);
    await h.close();
    await expect(h.close()).resolves.toBeUndefined();
  });

  it('names the failing step, ends its pool and releases the lock when the migrations cannot be read', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hallpass-pg-'));
    try {
      await expect(
        openPostgres(db.url, { migrationsFolder: path.join(dir, 'missing') }),
      ).rejects.toMatchObject({
        name: 'DbError',
        operation: 'db.migrate',
      });
      // The lock died with the failed connection: the next open does not wait for it.
      const h = await openPostgres(db.url);
      await h.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the failing step when the server cannot be reached', async () => {
    await expect(
      openPostgres('postgres://postgres@127.0.0.1:1/none', { pool: { connectionTimeoutMillis: 2_000 } }),
    ).rejects.toMatchObject({ name: 'DbError', operation: 'db.open' });
  });
});

describeWithPostgres('openPostgres by replicas starting at once', () => {
  let fresh: TestDatabase | undefined;

  afterEach(async () => {
    if (fresh !== undefined) await dropTestDatabase(fresh);
    fresh = undefined;
  });

  it.each([1, 2, 3])(
    'three opens on a fresh database all succeed and apply each migration once (run %i)',
    async () => {
      fresh = await createTestDatabase();
      const url = fresh.url;
      const results = await Promise.allSettled([openPostgres(url), openPostgres(url), openPostgres(url)]);
      await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
      expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason)))).toEqual([
        'ok',
        'ok',
        'ok',
      ]);

      const rows = await applied(url);
      expect(rows.map((m) => Number(m.created_at))).toEqual(journal().entries.map((e) => e.when));
      expect(new Set(rows.map((m) => m.hash)).size).toBe(rows.length);
    },
  );
});
