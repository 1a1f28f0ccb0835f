import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * PostgreSQL for the tests. `HALLPASS_TEST_DATABASE_URL` names a server (any database on it; the user
 * must be allowed to CREATE DATABASE); each test file gets a database of its own, created for it and
 * dropped afterwards. When no server answers, `postgres-global-setup.ts` says so once for the whole run
 * and the PostgreSQL suites are skipped (`describeWithPostgres`).
 */

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The server the PostgreSQL suites run against. */
export const testServerUrl = (): string =>
  process.env['HALLPASS_TEST_DATABASE_URL'] || DEFAULT_TEST_DATABASE_URL;

/** Set by the global setup: `up`, or why the server could not be reached. */
export const PROBE_ENV = 'HALLPASS_TEST_POSTGRES_PROBE';

/** `url` without its password, to print. */
export const printable = (url: string): string => {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(an unparseable URL)';
  }
};

/**
 * Whether the PostgreSQL suites run: the global setup found a server. When the probe did not run (a
 * jest config without the global setup), the suites run and fail loudly rather than skip silently.
 */
export const postgresAvailable = (): boolean => {
  const probe = process.env[PROBE_ENV];
  return probe === undefined || probe === 'up';
};

/** `describe` for a PostgreSQL suite: skipped when the global setup found no server. */
export const describeWithPostgres: (name: string, fn: () => void) => void = (name, fn) =>
  (postgresAvailable() ? describe : describe.skip)(name, fn);

/** Connects to `url`, runs `fn`, and always disconnects. */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export type TestDatabase = {
  /** `hallpass_test_<pid>_<random>`. */
  readonly name: string;
  /** The server URL with this database in place of its own. */
  readonly url: string;
};

/** Creates an empty database with a name no other test process can pick. */
export async function createTestDatabase(serverUrl: string = testServerUrl()): Promise<TestDatabase> {
  const name = `hallpass_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/** Drops the database, ending any connection still open to it. */
export async function dropTestDatabase(db: TestDatabase, serverUrl: string = testServerUrl()): Promise<void> {
  await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`));
}

/**
 * A database for the whole test file (or `describe` block): created in `beforeAll`, dropped in
 * `afterAll`. Read `url` inside tests and hooks, not at the top of the file. Call it one `describe`
 * outside the hooks that open pools on it: jest runs a block's `afterAll`s in the order they were
 * declared, so pools closed in an inner block are closed before the database is dropped under them.
 */
export function withTestDatabase(): TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    if (db !== undefined) await dropTestDatabase(db);
  });
  const current = (): TestDatabase => {
    if (db === undefined) throw new Error('the test database exists only inside tests and hooks');
    return db;
  };
  return {
    get name() {
      return current().name;
    },
    get url() {
      return current().url;
    },
  };
}
