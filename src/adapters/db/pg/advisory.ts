import { sql } from 'drizzle-orm';
import type { PgExec } from './unit-of-work';

/**
 * Namespaces of the transaction-level advisory locks the PostgreSQL stores take where SQLite's single
 * writer serializes a read-check-write that no row lock can: the row to lock does not exist yet. Keys
 * are two int4s (namespace, `hashtext(key)`), a lock space apart from the one-bigint keys of the
 * migration lock, the audit append lock and the replicas' named locks, so none of those can collide
 * with these. A hash collision only makes two unrelated writers queue.
 */
export const ADVISORY = {
  /** One outbox lane ('hpol'): enqueuers of a lane queue, so ids follow commit order within it. */
  outboxLane: 1752199020,
  /** One request's card updates ('hpcu'): at most one waits at a time. */
  cardUpdate: 1752195957,
  /** One grant's connection cuts ('hpct'): a cut is planned once. */
  cutPlan: 1752195956,
} as const;

/** Takes the lock until the current transaction ends (call it inside one: `ctx.write`). */
export async function lockUntilCommit(db: PgExec, namespace: number, key: string): Promise<void> {
  await db.execute(sql`SELECT pg_advisory_xact_lock(${namespace}::int4, hashtext(${key}))`);
}
