import { openPostgres, type PgHandle } from '../../src/adapters/db/open-pg';

/**
 * Two pools on one test database, standing for two replicas: opened (and migrated) in `beforeAll`,
 * closed in `afterAll`. Call it inside the `describe` of `withTestDatabase()`, one level in, so the
 * pools close before the database is dropped. Read `a` and `b` inside tests and hooks only.
 */
export function withTwoReplicas(
  database: { readonly url: string },
  options: { readonly max: number },
): { readonly a: PgHandle; readonly b: PgHandle } {
  let handles: [PgHandle, PgHandle] | undefined;
  beforeAll(async () => {
    // A connection that fails while idle (a test terminated its backend) must not end the run.
    const open = () =>
      openPostgres(database.url, { pool: { max: options.max }, onIdleError: () => undefined });
    handles = [await open(), await open()];
  });
  afterAll(async () => {
    for (const h of handles ?? []) await h.close();
  });
  const current = (): [PgHandle, PgHandle] => {
    if (handles === undefined) throw new Error('the replicas exist only inside tests and hooks');
    return handles;
  };
  return {
    get a() {
      return current()[0];
    },
    get b() {
      return current()[1];
    },
  };
}
