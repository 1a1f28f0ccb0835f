import type { Pool } from 'pg';
import type { RateLimits } from '../../../app/ports';
import { toDbError } from '../db-error';

/** The seed (ASCII 'rate') of `hashtextextended(key, seed)` for the per-key lock (see `PG_LOCK_SEED`). */
export const PG_RATE_LIMIT_SEED = 1_918_989_413;

/** By default, one admission in every this many (per instance) also sweeps every expired hit. */
const SWEEP_EVERY = 1_000;

/**
 * Under the key's lock: forget this key's hits outside the window (older than it, or more than a window
 * ahead of `now`), then record this one if fewer than `limit` remain. One statement, one snapshot: the
 * count does not see the rows the same statement deletes, and needs not, as they are outside the window.
 * $1 key, $2 now, $3 window, $4 limit.
 */
const ADMIT = `
WITH gone AS (
  DELETE FROM rate_limit_hits WHERE key = $1 AND (at <= $2::bigint - $3::bigint OR at > $2::bigint + $3::bigint)
), counted AS (
  SELECT count(*) AS n FROM rate_limit_hits
  WHERE key = $1 AND at > $2::bigint - $3::bigint AND at <= $2::bigint + $3::bigint
)
INSERT INTO rate_limit_hits (key, at, expires_at)
SELECT $1, $2::bigint, $2::bigint + $3::bigint FROM counted WHERE n < $4::bigint
RETURNING 1`;

/**
 * `RateLimits` shared by every replica: each admission is a row of `rate_limit_hits`. Admissions of
 * one key are serialized across replicas by a transaction-level advisory lock on the key (taken first,
 * so the count that follows sees every admission committed before), which makes "count, then record
 * if under the limit" atomic without locking the table. A refused attempt writes nothing.
 *
 * The window differs from the in-process one in one way, because replicas' clocks differ a little: a
 * hit stamped after `now` (by a replica whose clock is ahead) still counts, up to a window ahead; one
 * further ahead (a clock that jumped back) is forgotten, so no one is refused for longer than two
 * windows by a clock jump. Rows stay bounded: each admission deletes its key's stale hits, and every
 * `sweepEvery`th admission of this instance (1,000 by default) first deletes every hit past its
 * `expires_at`, whatever its key.
 */
export function createPgRateLimits(
  pool: Pick<Pool, 'connect' | 'query'>,
  options: { readonly sweepEvery?: number } = {},
): RateLimits {
  const sweepEvery = options.sweepEvery ?? SWEEP_EVERY;
  let admissions = 0;

  const sweep = async (now: number): Promise<void> => {
    await pool.query('DELETE FROM rate_limit_hits WHERE expires_at <= $1', [now]).catch((e: unknown) => {
      throw toDbError('rateLimits.sweep', e);
    });
  };

  return {
    async admit(key, limit, windowMs, now) {
      const at = now.getTime();
      // Before the admission, so a failed sweep has recorded nothing.
      admissions += 1;
      if (admissions % sweepEvery === 0) await sweep(at);
      const client = await pool.connect().catch((e: unknown) => {
        throw toDbError('rateLimits.admit', e);
      });
      let allowed: boolean;
      try {
        // READ COMMITTED whatever the server's default: the count's snapshot must be taken after the
        // lock is granted (under REPEATABLE READ it would date from the lock statement, before the wait).
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, ${PG_RATE_LIMIT_SEED}))`, [
          key,
        ]);
        const r = await client.query(ADMIT, [key, at, windowMs, limit]);
        await client.query('COMMIT');
        allowed = r.rowCount === 1;
        client.release();
      } catch (e) {
        // Destroyed rather than rolled back: no half-done transaction goes back to the pool.
        client.release(e instanceof Error ? e : new Error(String(e)));
        throw toDbError('rateLimits.admit', e);
      }
      return allowed;
    },
  };
}
