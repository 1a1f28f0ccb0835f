import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import { T0 } from '../../support/builders';

const at = (ms: number): Date => new Date(T0.getTime() + ms);

describe('SQLite outbox', () => {
  let handle: DbHandle;
  let stores: SqliteStores;
  beforeEach(() => {
    handle = openDatabase(':memory:');
    stores = createSqliteStores(handle);
  });
  afterEach(() => handle.close());

  const ids = async (now: Date) => (await stores.outbox.ready(now, 50)).map((i) => i.notice ?? i.kind);

  it('hands out a delivery at once, then keeps it until it is done', async () => {
    await stores.outbox.enqueue(
      { lane: 'req:req_a', requestId: 'req_a', kind: 'dm', userId: 'U1', notice: '{"type":"grant-ended"}' },
      T0,
    );
    expect(await stores.outbox.nextAttempt()).toEqual(T0);
    expect(await stores.outbox.waiting()).toBe(1);
    const [item] = await stores.outbox.ready(T0, 10);
    expect(item).toMatchObject({
      requestId: 'req_a',
      kind: 'dm',
      userId: 'U1',
      attempts: 0,
      lane: 'req:req_a',
    });
    expect(item?.createdAt).toEqual(T0);
    await stores.outbox.retryLater(item?.id ?? 0, 1, at(45_000), 'still down');
    expect(await stores.outbox.ready(at(20_000), 10)).toEqual([]);
    expect(await stores.outbox.nextAttempt()).toEqual(at(45_000));
    expect((await stores.outbox.ready(at(45_000), 10))[0]?.attempts).toBe(1);
    await stores.outbox.done(item?.id ?? 0, at(45_001));
    expect(await stores.outbox.ready(at(99_000), 10)).toEqual([]);
    expect(await stores.outbox.nextAttempt()).toBeUndefined();
    expect(await stores.outbox.waiting()).toBe(0);
  });

  it('lets only the first waiting delivery of a lane go, so a retried one is never overtaken', async () => {
    await stores.outbox.enqueue({ lane: 'req:a', requestId: 'a', kind: 'thread', notice: 'a1' }, T0);
    await stores.outbox.enqueue({ lane: 'req:a', requestId: 'a', kind: 'thread', notice: 'a2' }, T0);
    await stores.outbox.enqueue({ lane: 'req:b', requestId: 'b', kind: 'thread', notice: 'b1' }, T0);
    expect(await ids(T0)).toEqual(['a1', 'b1']);
    const [a1] = await stores.outbox.ready(T0, 1);
    // a1 fails and waits 20 s: a2 (same lane) waits behind it, and the lane's next time is a1's.
    await stores.outbox.retryLater(a1?.id ?? 0, 1, at(20_000), '429');
    expect(await ids(at(1))).toEqual(['b1']);
    await stores.outbox.done((await stores.outbox.ready(at(1), 1))[0]?.id ?? 0, at(1));
    expect(await stores.outbox.nextAttempt()).toEqual(at(20_000));
    expect(await ids(at(20_000))).toEqual(['a1']);
    await stores.outbox.done(a1?.id ?? 0, at(20_000));
    expect(await ids(at(20_000))).toEqual(['a2']);
  });

  it('keeps one waiting card update per request: the card is rendered fresh when sent', async () => {
    await stores.outbox.enqueue({ lane: 'req:a', requestId: 'a', kind: 'card-update' }, T0);
    await stores.outbox.enqueue({ lane: 'req:a', requestId: 'a', kind: 'card-update' }, T0);
    await stores.outbox.enqueue({ lane: 'req:b', requestId: 'b', kind: 'card-update' }, T0);
    expect(await stores.outbox.waiting()).toBe(2);
    const [first] = await stores.outbox.ready(T0, 1);
    await stores.outbox.done(first?.id ?? 0, at(1));
    await stores.outbox.enqueue({ lane: 'req:a', requestId: 'a', kind: 'card-update' }, at(2));
    expect(await stores.outbox.waiting()).toBe(2);
  });

  it('keeps channel notices, which belong to no request, in their channel lane', async () => {
    await stores.outbox.enqueue(
      { lane: 'chan:C1', kind: 'channel', channel: 'C1', notice: '{"type":"reconcile-report"}' },
      T0,
    );
    expect(await stores.outbox.ready(T0, 5)).toEqual([
      expect.objectContaining({ kind: 'channel', channel: 'C1', lane: 'chan:C1' }),
    ]);
    expect((await stores.outbox.ready(T0, 5))[0]).not.toHaveProperty('requestId');
  });

  it('marks an abandoned delivery done, for the record', async () => {
    await stores.outbox.enqueue({ lane: 'req:req_b', requestId: 'req_b', kind: 'card-post' }, T0);
    const [item] = await stores.outbox.ready(T0, 10);
    await stores.outbox.abandon(item?.id ?? 0, at(1), 'gave up');
    expect(await stores.outbox.ready(at(10), 10)).toEqual([]);
    const row = handle.sqlite.prepare('select abandoned, last_error, attempts from outbox').get() as {
      abandoned: number;
      last_error: string;
      attempts: number;
    };
    expect(row).toEqual({ abandoned: 1, last_error: 'gave up', attempts: 1 });
  });

  it('has no column where credentials could be kept', () => {
    const columns = handle.sqlite.prepare('PRAGMA table_info(outbox)').all() as { name: string }[];
    expect(columns.map((c) => c.name).filter((n) => /secret|token|credential/i.test(n))).toEqual([]);
  });
});
