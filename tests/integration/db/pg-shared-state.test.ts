import { createServer, type Server, type Socket } from 'node:net';
import { Pool } from 'pg';
import { createPgDbHealth } from '../../../src/adapters/db/pg/pg-db-health';
import { createPgHomeViewers } from '../../../src/adapters/db/pg/pg-home-viewers';
import { createPgRateLimits } from '../../../src/adapters/db/pg/pg-rate-limits';
import { withTwoReplicas } from '../../support/pg-replicas';
import { describeWithPostgres, withTestDatabase } from '../../support/postgres';
import { homeViewersConformance, rateLimitsConformance } from '../../support/shared-state-conformance';

/**
 * The rate limits, Home viewers and health check on PostgreSQL, with two pools on one database standing
 * for two replicas; the rate limits and Home viewers also pass the conformance suite the in-process
 * versions pass.
 */

const T0 = 1_800_000_000_000;
const at = (ms: number): Date => new Date(T0 + ms);

const count = async (pool: Pool, sql: string, params: unknown[] = []): Promise<number> =>
  Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n);

/** A TCP server that accepts connections and never says a word: a database that hangs. */
async function silentServer(): Promise<{
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describeWithPostgres('PostgreSQL shared state', () => {
  const db = withTestDatabase();

  describe('on two replicas', () => {
    const replicas = withTwoReplicas(db, { max: 4 });

    describe('rate limits', () => {
      rateLimitsConformance(async () => createPgRateLimits(replicas.a.pool));

      it('honours the limit across both replicas under concurrent attempts', async () => {
        const [onA, onB] = [createPgRateLimits(replicas.a.pool), createPgRateLimits(replicas.b.pool)];
        const answers = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? onA : onB).admit('U-flood', 5, 60_000, at(i))),
        );
        expect(answers.filter(Boolean)).toHaveLength(5);
        expect(
          await count(replicas.a.pool, "SELECT count(*) AS n FROM rate_limit_hits WHERE key = 'U-flood'"),
        ).toBe(5);
      });

      it('counts an admission by a replica whose clock runs a little ahead', async () => {
        const [onA, onB] = [createPgRateLimits(replicas.a.pool), createPgRateLimits(replicas.b.pool)];
        expect(await onA.admit('U-skew', 1, 1_000, at(500))).toBe(true);
        expect(await onB.admit('U-skew', 1, 1_000, at(0))).toBe(false);
      });

      it('keeps one key’s rows within its window, and sweeps other keys’ expired rows now and then', async () => {
        const limits = createPgRateLimits(replicas.a.pool);
        for (let i = 0; i < 5; i++) await limits.admit('U-steady', 1, 1_000, at(i * 2_000));
        expect(
          await count(replicas.a.pool, "SELECT count(*) AS n FROM rate_limit_hits WHERE key = 'U-steady'"),
        ).toBe(1);

        await replicas.a.pool.query(
          "INSERT INTO rate_limit_hits (key, at, expires_at) SELECT 'U-gone-' || g, $1, $2 FROM generate_series(1, 20) g",
          [T0, T0 + 1_000],
        );
        const gone = "SELECT count(*) AS n FROM rate_limit_hits WHERE key LIKE 'U-gone-%'";
        const later = createPgRateLimits(replicas.a.pool, { sweepEvery: 3 });
        await later.admit('U-busy', 10, 1_000, at(100_000));
        await later.admit('U-busy', 10, 1_000, at(100_000));
        expect(await count(replicas.a.pool, gone)).toBe(20);
        // The third admission of this instance sweeps first.
        await later.admit('U-busy', 10, 1_000, at(100_000));
        expect(await count(replicas.a.pool, gone)).toBe(0);
      });

      it('fails with a DbError naming the operation when the database cannot be reached', async () => {
        const pool = new Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none' });
        try {
          await expect(createPgRateLimits(pool).admit('U1', 1, 1_000, at(0))).rejects.toMatchObject({
            name: 'DbError',
            operation: 'rateLimits.admit',
          });
        } finally {
          await pool.end();
        }
      });
    });

    describe('home viewers', () => {
      homeViewersConformance(async (max) => {
        await replicas.a.pool.query('TRUNCATE home_viewers');
        return createPgHomeViewers(replicas.a.pool, { max });
      });

      it('are the same list on every replica', async () => {
        await replicas.a.pool.query('TRUNCATE home_viewers');
        await createPgHomeViewers(replicas.a.pool, { max: 10 }).remember('U1', at(10));
        await createPgHomeViewers(replicas.b.pool, { max: 10 }).remember('U2', at(20));
        expect(await createPgHomeViewers(replicas.b.pool, { max: 10 }).recent(10)).toEqual(['U2', 'U1']);
        expect(await createPgHomeViewers(replicas.a.pool, { max: 10 }).recent(10)).toEqual(['U2', 'U1']);
      });

      it('trims the table back towards `max` as people keep opening it', async () => {
        await replicas.a.pool.query('TRUNCATE home_viewers');
        const viewers = createPgHomeViewers(replicas.a.pool, { max: 3 });
        for (let i = 0; i < 120; i++) await viewers.remember(`U${i}`, at(i));
        expect(await count(replicas.a.pool, 'SELECT count(*) AS n FROM home_viewers')).toBeLessThanOrEqual(
          3 + 50,
        );
        expect(await viewers.recent(10)).toEqual(['U119', 'U118', 'U117']);
      });
    });

    describe('health', () => {
      it('is ok while the database answers', async () => {
        await expect(createPgDbHealth(replicas.a.pool).check()).resolves.toEqual({ ok: true });
      });
    });
  });

  describe('health when the database is not there', () => {
    it('is not ok, at once, when nothing listens: names the failure, never the password', async () => {
      const pool = new Pool({ connectionString: 'postgres://hallpass:s3cret-pw@127.0.0.1:1/hallpass' });
      pool.on('error', () => undefined);
      try {
        const started = performance.now();
        const result = await createPgDbHealth(pool, { timeoutMs: 2_000 }).check();
        expect(performance.now() - started).toBeLessThan(2_000);
        expect(result).toEqual({ ok: false, reason: expect.stringContaining('ECONNREFUSED') });
        expect(JSON.stringify(result)).not.toContain('s3cret-pw');
      } finally {
        await pool.end();
      }
    });

    it('is not ok within the timeout when the server never answers, and checks asked meanwhile share one probe', async () => {
      const server = await silentServer();
      const pool = new Pool({ host: '127.0.0.1', port: server.port, user: 'u', database: 'd' });
      pool.on('error', () => undefined);
      try {
        const health = createPgDbHealth(pool, { timeoutMs: 300 });
        const started = performance.now();
        const [first, second] = await Promise.all([health.check(), health.check()]);
        const took = performance.now() - started;
        expect(took).toBeGreaterThanOrEqual(290);
        expect(took).toBeLessThan(1_500);
        expect(first).toEqual({ ok: false, reason: 'postgres: no answer within 300 ms' });
        expect(second).toEqual(first);
        expect(server.connections()).toBe(1);
      } finally {
        await server.close();
        await pool.end();
      }
    });
  });
});
