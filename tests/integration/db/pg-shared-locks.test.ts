import { Pool } from 'pg';
import { createLocalLocks } from '../../../src/adapters/db/local/locks';
import { openPostgres, type PgHandle } from '../../../src/adapters/db/open-pg';
import { createPgLocks } from '../../../src/adapters/db/pg/pg-locks';
import type { Locks } from '../../../src/app/ports';
import { until } from '../../support/bot-process';
import { deferred } from '../../support/fake-roles';
import { MemoryLogger } from '../../support/memory-logger';
import { withTwoReplicas } from '../../support/pg-replicas';
import { describeWithPostgres, withClient, withTestDatabase } from '../../support/postgres';

/**
 * `createPgLocks` with two pools on one database standing for two replicas: exclusion across them,
 * `tryRun` that does not wait, a lock freed when its holder's session dies, and waiters in one process
 * that queue in memory rather than on pool connections.
 */

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The backends holding (granted) or waiting for an advisory lock in this database. */
const advisoryLocks = (url: string): Promise<{ pid: number; granted: boolean }[]> =>
  withClient(url, async (c) => {
    const r = await c.query<{ pid: number; granted: boolean }>(
      `SELECT pid, granted FROM pg_locks
       WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return r.rows;
  });

/** Takes `key` on `locks` and keeps it until `release()`; resolves once it is held. `done` is `run`'s result. */
async function holdOpen(locks: Locks, key: string, value: string) {
  const held = deferred();
  const entered = deferred();
  const done = locks.run(key, async () => {
    entered.resolve();
    await held.promise;
    return value;
  });
  await entered.promise;
  return { done, release: held.resolve };
}

describeWithPostgres('PostgreSQL locks', () => {
  const db = withTestDatabase();

  describe('across two replicas', () => {
    const replicas = withTwoReplicas(db, { max: 4 });
    let logger: MemoryLogger;
    const locksOf = (h: PgHandle): Locks => createPgLocks(h.pool, { local: createLocalLocks(), logger });
    beforeEach(() => {
      logger = new MemoryLogger();
    });
    afterEach(async () => {
      // Whatever a test did, it left no advisory lock behind.
      expect(await advisoryLocks(db.url)).toEqual([]);
    });

    it('runs holders from both, one at a time, never overlapping', async () => {
      const [onA, onB] = [locksOf(replicas.a), locksOf(replicas.b)];
      const spans: [number, number][] = [];
      let inside = 0;
      let most = 0;
      const work = async (): Promise<void> => {
        inside += 1;
        most = Math.max(most, inside);
        const start = performance.now();
        await sleep(25);
        spans.push([start, performance.now()]);
        inside -= 1;
      };
      await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) => (i % 2 === 0 ? onA : onB).run('sg:eu-west-1:sg-1', work)),
      );
      expect(most).toBe(1);
      spans.sort(([x], [y]) => x - y);
      for (let i = 1; i < spans.length; i++) {
        expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? Number.POSITIVE_INFINITY);
      }
    });

    it('tryRun answers ran: false at once while the other replica holds the lock, and runs once it is free', async () => {
      const [onA, onB] = [locksOf(replicas.a), locksOf(replicas.b)];
      const holder = await holdOpen(onA, 'job:due-work', 'a done');
      const fn = jest.fn(async () => 'b ran');
      const started = performance.now();
      await expect(onB.tryRun('job:due-work', fn)).resolves.toEqual({ ran: false });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(fn).not.toHaveBeenCalled();
      holder.release();
      await expect(holder.done).resolves.toBe('a done');
      await expect(onB.tryRun('job:due-work', fn)).resolves.toEqual({ ran: true, value: 'b ran' });
    });

    it('unlocks when the function throws, and passes its error on', async () => {
      const [onA, onB] = [locksOf(replicas.a), locksOf(replicas.b)];
      await expect(
        onA.run('sg:eu-west-1:sg-2', async () => {
          throw new Error('AWS said no');
        }),
      ).rejects.toThrow('AWS said no');
      await expect(onB.tryRun('sg:eu-west-1:sg-2', async () => 'free')).resolves.toEqual({
        ran: true,
        value: 'free',
      });
    });

    it('frees a lock when its holder’s session dies: the other replica takes it, the holder logs the loss', async () => {
      const [onA, onB] = [locksOf(replicas.a), locksOf(replicas.b)];
      const holder = await holdOpen(onA, 'job:outbox', 'a finished anyway');
      let bEntered = false;
      const waiter = onB.run('job:outbox', async () => {
        bEntered = true;
        return 'b got it';
      });
      const [holding] = await until(async () => {
        const rows = await advisoryLocks(db.url);
        return rows.some((r) => !r.granted) ? rows.filter((r) => r.granted) : undefined;
      }, 'B waiting behind A');
      expect(bEntered).toBe(false);

      // As a kill -9 of replica A would: its session ends, and the server drops its locks.
      await withClient(db.url, (c) => c.query('SELECT pg_terminate_backend($1)', [holding?.pid]));
      await expect(waiter).resolves.toBe('b got it');
      holder.release();
      await expect(holder.done).resolves.toBe('a finished anyway');
      expect(logger.lines).toContainEqual(
        expect.objectContaining({ level: 'error', msg: expect.stringContaining('lock may be lost') }),
      );
      // A's broken connection was destroyed, not pooled: A takes the lock again on a fresh one.
      await expect(onA.tryRun('job:outbox', async () => 'a again')).resolves.toEqual({
        ran: true,
        value: 'a again',
      });
    });

    it('lets many waiters in one process use one pool connection per key, not one each', async () => {
      const small = await openPostgres(db.url, { pool: { max: 2 }, onIdleError: () => undefined });
      try {
        const locks = locksOf(small);
        let mostConnections = 0;
        let mostQueued = 0;
        const work = async (): Promise<void> => {
          mostConnections = Math.max(mostConnections, small.pool.totalCount);
          mostQueued = Math.max(mostQueued, small.pool.waitingCount);
          await sleep(5);
        };
        // Sixteen waiters on two keys through a pool of two: waiting on connections would deadlock.
        await Promise.all(
          Array.from({ length: 16 }, (_, i) => locks.run(i % 2 === 0 ? 'sg:x' : 'sg:y', work)),
        );
        expect(mostConnections).toBeLessThanOrEqual(2);
        expect(mostQueued).toBe(0);
        // And the other replica still serializes with them.
        await expect(locksOf(replicas.b).tryRun('sg:x', async () => 'ok')).resolves.toEqual({
          ran: true,
          value: 'ok',
        });
      } finally {
        await small.close();
      }
    });
  });

  it('fails with a DbError naming the step when no connection can be had', async () => {
    const pool = new Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMillis: 2_000,
    });
    try {
      const locks = createPgLocks(pool, { local: createLocalLocks() });
      await expect(locks.run('k', async () => 'never')).rejects.toMatchObject({
        name: 'DbError',
        operation: 'locks.connect',
      });
    } finally {
      await pool.end();
    }
  });
});
