import { Pool } from 'pg';
import { createLocalChangeFeed } from '../../../src/adapters/db/local/change-feed';
import type { PgHandle } from '../../../src/adapters/db/open-pg';
import { createPgChangeFeed, type PgChangeFeed } from '../../../src/adapters/db/pg/pg-change-feed';
import type { ChangeKind } from '../../../src/app/ports';
import { until } from '../../support/bot-process';
import { MemoryLogger } from '../../support/memory-logger';
import { withTwoReplicas } from '../../support/pg-replicas';
import { describeWithPostgres, withClient, withTestDatabase } from '../../support/postgres';

/**
 * `createPgChangeFeed` with two pools and two LISTEN connections on one database standing for two
 * replicas: a publication reaches the other replica (and this one), and a LISTEN connection that is
 * cut comes back and makes every subscriber re-read.
 */

/** What a subscriber heard, in order, and a way to wait for a given list. */
const recorder = () => {
  const heard: ChangeKind[] = [];
  return {
    heard,
    fn: (kind: ChangeKind) => heard.push(kind),
    upTo: (n: number) =>
      until(async () => (heard.length >= n ? [...heard] : undefined), `${n} changes`, 5_000),
  };
};

describeWithPostgres('PostgreSQL change feed', () => {
  const db = withTestDatabase();

  describe('across two replicas', () => {
    const replicas = withTwoReplicas(db, { max: 2 });
    let feedA: PgChangeFeed;
    let feedB: PgChangeFeed;
    let logger: MemoryLogger;

    const feedOf = (h: PgHandle, name: string): PgChangeFeed =>
      createPgChangeFeed({
        pool: h.pool,
        listen: { connectionString: db.url, application_name: name },
        local: createLocalChangeFeed({ logger }),
        logger,
        backoff: { minMs: 20, maxMs: 200 },
      });

    beforeAll(async () => {
      logger = new MemoryLogger();
      feedA = feedOf(replicas.a, 'feed-a');
      feedB = feedOf(replicas.b, 'feed-b');
      await Promise.all([feedA.ready(), feedB.ready()]);
    });
    afterAll(async () => {
      await feedA?.close();
      await feedB?.close();
    });

    it('delivers a change published on one replica to the subscribers of both', async () => {
      const [onA, onB] = [recorder(), recorder()];
      const stops = [feedA.subscribe(onA.fn), feedB.subscribe(onB.fn)];
      try {
        feedA.publish('due');
        feedA.publish('outbox');
        expect(await onB.upTo(2)).toEqual(['due', 'outbox']);
        expect(await onA.upTo(2)).toEqual(['due', 'outbox']);
      } finally {
        for (const stop of stops) stop();
      }
    });

    it('tells a burst of publications of one kind with at most two notifications, the last after the burst', async () => {
      const onB = recorder();
      const stop = feedB.subscribe(onB.fn);
      try {
        for (let i = 0; i < 50; i++) feedA.publish('outbox');
        feedA.publish('home');
        // 'home' is told after the first 'outbox', which was on its way: the burst's other 49 are one more.
        await onB.upTo(3);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(onB.heard.filter((k) => k === 'outbox')).toHaveLength(2);
        expect(onB.heard.filter((k) => k === 'home')).toHaveLength(1);
      } finally {
        stop();
      }
    });

    it('comes back after its LISTEN connection is cut, and makes every subscriber re-read every kind', async () => {
      const onB = recorder();
      const stop = feedB.subscribe(onB.fn);
      try {
        await withClient(db.url, (c) =>
          c.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'feed-b' AND datname = current_database()",
          ),
        );
        expect((await onB.upTo(3)).sort()).toEqual(['due', 'home', 'outbox']);
        expect(logger.lines).toContainEqual(
          expect.objectContaining({ level: 'warn', msg: expect.stringContaining('LISTEN connection lost') }),
        );
        // Listening again: a new publication from the other replica arrives.
        feedA.publish('home');
        expect((await onB.upTo(4))[3]).toBe('home');
      } finally {
        stop();
      }
    });
  });

  it('keeps retrying while the server cannot be reached, and never throws from publish', async () => {
    const logger = new MemoryLogger();
    const pool = new Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none' });
    pool.on('error', () => undefined);
    const feed = createPgChangeFeed({
      pool,
      listen: { connectionString: 'postgres://postgres@127.0.0.1:1/none' },
      local: createLocalChangeFeed({ logger }),
      logger,
      backoff: { minMs: 10, maxMs: 40 },
    });
    try {
      expect(() => feed.publish('due')).not.toThrow();
      await until(
        async () =>
          logger.lines.filter((l) => l.msg.includes('LISTEN connection lost')).length >= 3 ? true : undefined,
        'three reconnection attempts',
        5_000,
      );
      await until(
        async () => (logger.lines.some((l) => l.msg.includes('publish failed')) ? true : undefined),
        'the failed publish to be logged',
        5_000,
      );
    } finally {
      await feed.close();
      await pool.end();
    }
  });
});
