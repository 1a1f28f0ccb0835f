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

  it('keeps a failed delivery until it is due, then until it is done', () => {
    stores.outbox.enqueue(
      { requestId: 'req_a', kind: 'dm', userId: 'U1', notice: '{"type":"grant-ended"}' },
      T0,
      at(15_000),
      'boom',
    );
    expect(stores.outbox.nextAttempt()).toEqual(at(15_000));
    expect(stores.outbox.due(at(14_999), 10)).toEqual([]);
    const [item] = stores.outbox.due(at(15_000), 10);
    expect(item).toMatchObject({ requestId: 'req_a', kind: 'dm', userId: 'U1', attempts: 1 });
    stores.outbox.retryLater(item?.id ?? 0, 2, at(45_000), 'still down');
    expect(stores.outbox.due(at(20_000), 10)).toEqual([]);
    expect(stores.outbox.due(at(45_000), 10)[0]?.attempts).toBe(2);
    stores.outbox.done(item?.id ?? 0, at(45_001));
    expect(stores.outbox.due(at(99_000), 10)).toEqual([]);
    expect(stores.outbox.nextAttempt()).toBeUndefined();
  });

  it('marks an abandoned delivery done, for the record', () => {
    stores.outbox.enqueue({ requestId: 'req_b', kind: 'card-post' }, T0, T0, 'down');
    const [item] = stores.outbox.due(T0, 10);
    stores.outbox.abandon(item?.id ?? 0, at(1), 'gave up');
    expect(stores.outbox.due(at(10), 10)).toEqual([]);
    const row = handle.sqlite.prepare('select abandoned, last_error from outbox').get() as {
      abandoned: number;
      last_error: string;
    };
    expect(row).toEqual({ abandoned: 1, last_error: 'gave up' });
  });

  it('has no column where credentials could be kept', () => {
    const columns = handle.sqlite.prepare('PRAGMA table_info(outbox)').all() as { name: string }[];
    expect(columns.map((c) => c.name).filter((n) => /secret|token|credential/i.test(n))).toEqual([]);
  });
});
