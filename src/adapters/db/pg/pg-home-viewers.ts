import type { Pool } from 'pg';
import type { HomeViewers } from '../../../app/ports';
import { toDbError } from '../db-error';

/** One `remember` in every this many (in this process) also trims the table down to `max` rows. */
const TRIM_EVERY = 50;

/**
 * `HomeViewers` shared by every replica: one row per person in `home_viewers`, the latest time they
 * opened their Home tab (a time earlier than the one stored, from a clock that went back, is ignored).
 * `recent` answers at most `max`, most recent first, ties in user-id order (`COLLATE "C"`, as the
 * in-process version); the table may hold a few more between trims, which `recent` never shows.
 */
export function createPgHomeViewers(
  pool: Pick<Pool, 'query'>,
  options: { readonly max: number },
): HomeViewers {
  let remembered = 0;

  const trim = async (): Promise<void> => {
    await pool.query(
      `DELETE FROM home_viewers WHERE user_id IN (
         SELECT user_id FROM home_viewers ORDER BY opened_at DESC, user_id COLLATE "C" OFFSET $1)`,
      [options.max],
    );
  };

  return {
    async remember(userId, at) {
      try {
        remembered += 1;
        if (remembered % TRIM_EVERY === 0) await trim();
        await pool.query(
          `INSERT INTO home_viewers (user_id, opened_at) VALUES ($1, $2)
           ON CONFLICT (user_id) DO UPDATE SET opened_at = GREATEST(home_viewers.opened_at, EXCLUDED.opened_at)`,
          [userId, at.getTime()],
        );
      } catch (e) {
        throw toDbError('homeViewers.remember', e);
      }
    },
    async recent(limit) {
      try {
        const r = await pool.query<{ user_id: string }>(
          'SELECT user_id FROM home_viewers ORDER BY opened_at DESC, user_id COLLATE "C" LIMIT $1',
          [Math.max(0, Math.min(limit, options.max))],
        );
        return r.rows.map((row) => row.user_id);
      } catch (e) {
        throw toDbError('homeViewers.recent', e);
      }
    },
  };
}
