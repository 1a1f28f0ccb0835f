import Database from 'better-sqlite3';
import { createLocalChangeFeed } from '../../../src/adapters/db/local/change-feed';
import { createSqliteDbHealth } from '../../../src/adapters/db/local/db-health';
import { createLocalHomeViewers } from '../../../src/adapters/db/local/home-viewers';
import { createLocalLocks } from '../../../src/adapters/db/local/locks';
import { createLocalRateLimits, SWEEP_FLOOR } from '../../../src/adapters/db/local/rate-limits';
import type { ChangeKind } from '../../../src/app/ports';
import { deferred } from '../../support/fake-roles';
import { MemoryLogger } from '../../support/memory-logger';
import { homeViewersConformance, rateLimitsConformance } from '../../support/shared-state-conformance';

const ticks = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('local locks', () => {
  it('runs the holders of one key one at a time, in the order they asked', async () => {
    const locks = createLocalLocks();
    const events: string[] = [];
    let inside = 0;
    let most = 0;
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        locks.run('sg:eu-west-1:sg-1', async () => {
          inside += 1;
          most = Math.max(most, inside);
          events.push(`start ${i}`);
          await ticks(3 - (i % 3));
          events.push(`end ${i}`);
          inside -= 1;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(events).toEqual([0, 1, 2, 3, 4].flatMap((i) => [`start ${i}`, `end ${i}`]));
  });

  it('does not make different keys wait for each other', async () => {
    const locks = createLocalLocks();
    const held = deferred();
    const first = locks.run('a', () => held.promise);
    await expect(locks.run('b', async () => 'b ran')).resolves.toBe('b ran');
    held.resolve();
    await first;
  });

  it('tryRun runs when the key is free and returns what the function returned', async () => {
    const locks = createLocalLocks();
    await expect(locks.tryRun('job:outbox', async () => 42)).resolves.toEqual({ ran: true, value: 42 });
  });

  it('tryRun does nothing, at once, while the key is held or waited for', async () => {
    const locks = createLocalLocks();
    const held = deferred();
    const holder = locks.run('job:due-work', () => held.promise);
    const waiter = locks.run('job:due-work', async () => 'waited');
    const fn = jest.fn(async () => 'ran');
    await expect(locks.tryRun('job:due-work', fn)).resolves.toEqual({ ran: false });
    held.resolve();
    await holder;
    // The waiter still holds it now; once it is done the key is free again.
    await expect(waiter).resolves.toBe('waited');
    await expect(locks.tryRun('job:due-work', fn)).resolves.toEqual({ ran: true, value: 'ran' });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('releases the lock when the function throws, and passes the error on', async () => {
    const locks = createLocalLocks();
    await expect(
      locks.run('k', async () => {
        throw new Error('AWS said no');
      }),
    ).rejects.toThrow('AWS said no');
    await expect(locks.tryRun('k', async () => 'free')).resolves.toEqual({ ran: true, value: 'free' });
    await expect(
      locks.tryRun('k', async () => {
        throw new Error('again');
      }),
    ).rejects.toThrow('again');
    await expect(locks.run('k', async () => 'free again')).resolves.toBe('free again');
  });
});

describe('local rate limits', () => {
  rateLimitsConformance(async () => createLocalRateLimits());

  it('forgets an admission stamped after now (the clock went back)', async () => {
    const limits = createLocalRateLimits();
    const t = (ms: number) => new Date(1_800_000_000_000 + ms);
    expect(await limits.admit('U1', 1, 10_000, t(5_000))).toBe(true);
    expect(await limits.admit('U1', 1, 10_000, t(4_000))).toBe(true);
  });

  it('keeps answering for many keys across the sweep of expired ones', async () => {
    const limits = createLocalRateLimits();
    const t = (ms: number) => new Date(1_800_000_000_000 + ms);
    for (let i = 0; i < 10_050; i++) await limits.admit(`U${i}`, 1, 1_000, t(0));
    // Past the window: these sweep the old keys, and every key starts afresh.
    for (let i = 0; i < 10_050; i++) expect(await limits.admit(`V${i}`, 1, 1_000, t(5_000))).toBe(true);
    expect(await limits.admit('U1', 1, 1_000, t(5_000))).toBe(true);
    expect(await limits.admit('V1', 1, 1_000, t(5_001))).toBe(false);
  });
  it('keeps about a thousand keys, not ten thousand, when each admission is a new person', async () => {
    // A stream of new requesters, 100 inside the one-second window at any moment: stale keys are swept
    // once the map passes SWEEP_FLOOR, so it never holds more than that and the live ones.
    const limits = createLocalRateLimits();
    const t = (ms: number) => new Date(1_800_000_000_000 + ms);
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      await limits.admit(`U${i}`, 1, 1_000, t(i * 10));
      most = Math.max(most, limits.size);
    }
    expect(SWEEP_FLOOR).toBeLessThanOrEqual(1_000);
    expect(most).toBeLessThanOrEqual(1_001);
    expect(most).toBeGreaterThanOrEqual(100);
  });
});

describe('local home viewers', () => {
  homeViewersConformance(async (max) => createLocalHomeViewers(max));
});

describe('local change feed', () => {
  it('calls every subscriber at once with the kind, in the order they subscribed', () => {
    const feed = createLocalChangeFeed();
    const seen: string[] = [];
    feed.subscribe((k) => seen.push(`a ${k}`));
    feed.subscribe((k) => seen.push(`b ${k}`));
    feed.publish('due');
    feed.publish('home');
    expect(seen).toEqual(['a due', 'b due', 'a home', 'b home']);
  });

  it('still calls the others when one throws, and logs it', () => {
    const logger = new MemoryLogger();
    const feed = createLocalChangeFeed({ logger });
    const seen: ChangeKind[] = [];
    feed.subscribe(() => {
      throw new Error('subscriber bug');
    });
    feed.subscribe((k) => seen.push(k));
    expect(() => feed.publish('outbox')).not.toThrow();
    expect(seen).toEqual(['outbox']);
    expect(logger.lines).toEqual([
      expect.objectContaining({ level: 'error', fields: { kind: 'outbox', err: 'subscriber bug' } }),
    ]);
  });

  it('stops calling a subscriber once it unsubscribes, and keeps two subscriptions of one function apart', () => {
    const feed = createLocalChangeFeed();
    const fn = jest.fn();
    const first = feed.subscribe(fn);
    const second = feed.subscribe(fn);
    feed.publish('due');
    expect(fn).toHaveBeenCalledTimes(2);
    first();
    feed.publish('due');
    expect(fn).toHaveBeenCalledTimes(3);
    second();
    second();
    feed.publish('due');
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('a subscriber added during a publish hears from the next one', () => {
    const feed = createLocalChangeFeed();
    const late = jest.fn();
    feed.subscribe(() => {
      feed.subscribe(late);
    });
    feed.publish('due');
    expect(late).not.toHaveBeenCalled();
    feed.publish('home');
    expect(late).toHaveBeenCalledWith('home');
  });
});

describe('SQLite health', () => {
  it('is ok while the database answers, and names why not once it is closed', async () => {
    const sqlite = new Database(':memory:');
    const health = createSqliteDbHealth(sqlite);
    await expect(health.check()).resolves.toEqual({ ok: true });
    sqlite.close();
    await expect(health.check()).resolves.toEqual({
      ok: false,
      reason: expect.stringMatching(/^sqlite: .*not open/),
    });
  });
});
