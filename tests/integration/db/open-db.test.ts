import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DbError } from '../../../src/adapters/db/db-error';
import { MIGRATIONS_FOLDER, openDatabase, PAGE_CACHE_KIB } from '../../../src/adapters/db/open-db';
import { createSqliteStores } from '../../../src/adapters/db/stores';
import { buildNewRequest } from '../../support/builders';

const tablesOf = (handle: ReturnType<typeof openDatabase>): string[] =>
  handle.sqlite
    .prepare<[], { name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all()
    .map((r) => r.name);

const migrationCount = (handle: ReturnType<typeof openDatabase>): number =>
  handle.sqlite.prepare<[], { n: number }>('SELECT count(*) AS n FROM __drizzle_migrations').get()?.n ?? -1;

describe('openDatabase', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-db-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the repository drizzle/sqlite folder from the source tree', () => {
    expect(MIGRATIONS_FOLDER).toBe(path.resolve(__dirname, '../../../drizzle/sqlite'));
    expect(existsSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'))).toBe(true);
  });

  it('creates every table in an in-memory database', () => {
    const handle = openDatabase(':memory:');
    try {
      expect(tablesOf(handle)).toEqual([
        '__drizzle_migrations',
        'address_links',
        'api_requests',
        'api_tokens',
        'approvals',
        'audit_events',
        'backstops',
        'connection_cuts',
        'grants',
        'outbox',
        'requests',
        'role_sessions',
        'rule_holds',
      ]);
      expect(handle.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      handle.close();
    }
  });

  it('creates the parent directory of a file database and opens it in WAL mode', () => {
    const file = path.join(dir, 'nested', 'deeper', 'hallpass.db');
    const handle = openDatabase(file);
    try {
      expect(existsSync(file)).toBe(true);
      expect(handle.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(handle.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(handle.sqlite.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
      // A page cache of 4 MiB, not better-sqlite3's 16 MiB: a growing database filled it (the soak's memory).
      expect(handle.sqlite.pragma('cache_size', { simple: true })).toBe(-PAGE_CACHE_KIB);
      expect(PAGE_CACHE_KIB).toBe(4_000);
    } finally {
      handle.close();
    }
  });

  it('keeps data across reopening and does not re-run applied migrations', async () => {
    const file = path.join(dir, 'hallpass.db');
    const request = buildNewRequest();

    const first = openDatabase(file);
    await createSqliteStores(first).requests.insert(request);
    const applied = migrationCount(first);
    first.close();

    const second = openDatabase(file);
    try {
      expect(migrationCount(second)).toBe(applied);
      expect(await createSqliteStores(second).requests.get(request.id)).toMatchObject({
        id: request.id,
        state: 'pending',
      });
    } finally {
      second.close();
    }
  });

  it('applies every migration on a fresh database', () => {
    const handle = openDatabase(':memory:');
    try {
      const journal = JSON.parse(
        readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8'),
      ) as {
        entries: unknown[];
      };
      expect(migrationCount(handle)).toBe(journal.entries.length);
    } finally {
      handle.close();
    }
  });

  it('names the failing step when the migrations cannot be read', () => {
    expect(() => openDatabase(':memory:', { migrationsFolder: path.join(dir, 'missing') })).toThrow(
      expect.objectContaining({ name: 'DbError', operation: 'db.migrate' }),
    );
  });

  it('closing twice is harmless', () => {
    const handle = openDatabase(':memory:');
    handle.close();
    expect(() => handle.close()).not.toThrow();
  });

  it('wraps errors on a closed connection with the operation name', async () => {
    const handle = openDatabase(':memory:');
    const stores = createSqliteStores(handle);
    handle.close();
    let caught: unknown;
    try {
      await stores.requests.get('req_x');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DbError);
    expect(caught).toMatchObject({ operation: 'requests.get', retryable: false });
  });
});
