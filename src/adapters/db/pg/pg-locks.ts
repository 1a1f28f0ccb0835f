import type { Pool, PoolClient } from 'pg';
import type { Locks, Logger, TryRun } from '../../../app/ports';
import { toDbError } from '../db-error';

/**
 * The seed (ASCII 'lock') of `hashtextextended(name, seed)`, which turns a lock's name into the 64-bit
 * key of its advisory lock. The server computes it, so every replica agrees whatever its Node version.
 * Two names whose keys collide (with n names in use, a chance of about n² / 2^65) only make their
 * holders wait for each other — exclusion is never lost; the same goes for a collision with the fixed
 * keys of `open-pg.ts` (migration, audit append) or a rate limit's key (another seed). The one harm: a
 * holder taking a second lock whose key collides with its first would wait for itself.
 */
export const PG_LOCK_SEED = 1_819_239_275;

const LOCK = `SELECT pg_advisory_lock(hashtextextended($1, ${PG_LOCK_SEED}))`;
const TRY_LOCK = `SELECT pg_try_advisory_lock(hashtextextended($1, ${PG_LOCK_SEED})) AS held`;
const UNLOCK = `SELECT pg_advisory_unlock(hashtextextended($1, ${PG_LOCK_SEED})) AS released`;

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * `Locks` shared by every replica on one PostgreSQL database. A held lock is a session-level
 * `pg_advisory_lock` on a pooled connection taken for it alone, so a replica that dies (even `kill -9`)
 * releases all its locks as soon as the server sees its sessions end. Within this process, callers
 * first queue on `local` (an in-process `Locks`, `createLocalLocks()`), so however many wait for one
 * key, only the one at the head holds a connection: waiting costs no pool connection.
 *
 * Pool sizing: every key held at once takes one connection for the whole of `fn`, and `fn` usually
 * queries the database itself. Give the locks a pool of their own (a few connections: the
 * security-group keys in use at once plus the background jobs), or size a shared pool well above that,
 * or holders waiting for connections their own locks hold will stall.
 *
 * When the connection fails while a lock is held (a network cut, the backend terminated), the server
 * has released the lock and another replica may take it while `fn` still runs: that is logged as an
 * error, `fn` is left to finish (it may be mid-way through AWS calls), its result is returned, and the
 * broken connection is destroyed rather than returned to the pool. The unlock and the release always
 * happen, whatever `fn` does.
 */
export function createPgLocks(
  pool: Pick<Pool, 'connect'>,
  deps: { readonly local: Locks; readonly logger?: Logger },
): Locks {
  /** Takes a connection and the advisory lock (waiting for it, or not), runs `fn`, unlocks, releases. */
  const hold = async <T>(key: string, wait: boolean, fn: () => Promise<T>): Promise<TryRun<T>> => {
    const client = await pool.connect().catch((e: unknown) => {
      throw toDbError('locks.connect', e);
    });
    let lost: Error | undefined;
    let holding = false;
    // Without a listener, a checked-out connection's error would end the process (the pool listens
    // only while it is idle). Before the lock is held, the failing query reports the error itself.
    const onError = (e: Error): void => {
      if (lost !== undefined) return;
      lost = e;
      if (!holding) return;
      deps.logger?.error(
        { lock: key, err: e.message },
        'lock connection failed while held: the lock may be lost, another replica may take it',
      );
    };
    client.on('error', onError);
    const done = (error?: Error): void => {
      client.release(error);
      client.removeListener('error', onError);
    };

    let held: boolean;
    try {
      if (wait) {
        await client.query(LOCK, [key]);
        held = true;
      } else {
        const r = await client.query<{ held: boolean }>(TRY_LOCK, [key]);
        held = r.rows[0]?.held === true;
      }
    } catch (e) {
      // Destroyed, not returned: whatever state the failure left, no lock outlives the session.
      done(asError(e));
      throw toDbError('locks.acquire', e);
    }
    if (!held) {
      done();
      return { ran: false };
    }
    holding = true;
    try {
      return { ran: true, value: await fn() };
    } finally {
      await unlock(client, key, () => lost, done);
    }
  };

  const unlock = async (
    client: PoolClient,
    key: string,
    lost: () => Error | undefined,
    done: (error?: Error) => void,
  ): Promise<void> => {
    const before = lost();
    if (before !== undefined) {
      done(before);
      return;
    }
    try {
      const r = await client.query<{ released: boolean }>(UNLOCK, [key]);
      if (r.rows[0]?.released === true) {
        done();
        return;
      }
      // Not held by this session any more: only a lost connection does that. Start afresh.
      deps.logger?.error({ lock: key }, 'lock was not held at unlock: it may have been lost');
      done(new Error(`advisory lock ${key} was not held at unlock`));
    } catch (e) {
      // Destroying the connection ends its session, which releases the lock if the server still has it.
      deps.logger?.error({ lock: key, err: asError(e).message }, 'unlock failed; connection destroyed');
      done(asError(e));
    }
  };

  return {
    run: <T>(key: string, fn: () => Promise<T>): Promise<T> =>
      deps.local.run(key, async () => {
        const r = await hold(key, true, fn);
        if (!r.ran) throw new Error(`pg_advisory_lock returned without the lock ${key}`);
        return r.value;
      }),
    async tryRun<T>(key: string, fn: () => Promise<T>): Promise<TryRun<T>> {
      const r = await deps.local.tryRun(key, () => hold(key, false, fn));
      return r.ran ? r.value : r;
    },
  };
}
