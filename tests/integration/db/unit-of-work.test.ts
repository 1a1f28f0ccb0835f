import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DbHandle } from '../../../src/adapters/db/open-db';
import { openDatabase } from '../../../src/adapters/db/open-db';
import { createSqliteStores, type SqliteStores } from '../../../src/adapters/db/stores';
import { buildNewGrant, buildNewRequest, T0 } from '../../support/builders';

describe.each(['memory', 'file'] as const)('SQLite unit of work (%s database)', (kind) => {
  let dir: string;
  let file: string;
  let handle: DbHandle;
  let stores: SqliteStores;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hallpass-uow-'));
    file = kind === 'memory' ? ':memory:' : path.join(dir, 'hallpass.db');
    handle = openDatabase(file);
    stores = createSqliteStores(handle);
  });

  afterEach(() => {
    handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits every write and returns the function value', () => {
    const request = buildNewRequest();

    const value = stores.uow.tx(() => {
      stores.requests.insert(request);
      stores.audit.append({ at: T0, actor: 'U_REQ', type: 'request.submitted', requestId: request.id });
      return 'done';
    });

    expect(value).toBe('done');
    expect(stores.requests.get(request.id)).toBeDefined();
    expect(stores.audit.list()).toHaveLength(1);
  });

  it('rolls back every write when the function throws, and rethrows the same error', () => {
    const request = buildNewRequest();
    const boom = new Error('boom');

    expect(() =>
      stores.uow.tx(() => {
        stores.requests.insert(request);
        stores.requests.decide(request.id, 'approved', 'U_A', T0);
        stores.grants.insert(buildNewGrant({ requestId: request.id }));
        stores.audit.append({ at: T0, actor: 'U_A', type: 'request.approved', requestId: request.id });
        throw boom;
      }),
    ).toThrow(boom);

    expect(stores.requests.get(request.id)).toBeUndefined();
    expect(stores.grants.byRequest(request.id)).toBeUndefined();
    expect(stores.audit.list()).toEqual([]);
  });

  it('rolls back when a store refuses a write half-way', () => {
    const request = stores.requests.insert(buildNewRequest());
    stores.grants.insert(buildNewGrant({ requestId: request.id }));

    expect(() =>
      stores.uow.tx(() => {
        stores.audit.append({ at: T0, actor: 'U_A', type: 'grant.opened', requestId: request.id });
        stores.grants.insert(buildNewGrant({ requestId: request.id }));
      }),
    ).toThrow(expect.objectContaining({ operation: 'grants.insert' }));

    expect(stores.audit.list()).toEqual([]);
  });

  it('rolls back only the inner work when a nested transaction throws and the outer one catches', () => {
    const kept = buildNewRequest();
    const dropped = buildNewRequest();

    stores.uow.tx(() => {
      stores.requests.insert(kept);
      try {
        stores.uow.tx(() => {
          stores.requests.insert(dropped);
          throw new Error('inner');
        });
      } catch {
        // the outer unit goes on
      }
    });

    expect(stores.requests.get(kept.id)).toBeDefined();
    expect(stores.requests.get(dropped.id)).toBeUndefined();
  });

  it('refuses an async function and rolls back what it wrote before its first await', async () => {
    const request = buildNewRequest();

    let pending: Promise<void> | undefined;
    expect(() =>
      stores.uow.tx(() => {
        pending = (async () => {
          stores.requests.insert(request);
        })();
        return pending;
      }),
    ).toThrow(expect.objectContaining({ operation: 'uow.tx' }));
    await pending;

    expect(stores.requests.get(request.id)).toBeUndefined();
  });

  // A memory database has no second connection to compete with.
  (kind === 'file' ? it : it.skip)(
    'holds the write lock for the whole unit, so another connection cannot write in between',
    () => {
      const other = openDatabase(file);
      try {
        // Fail at once instead of waiting out the busy timeout: tests never wait for time to pass.
        other.sqlite.pragma('busy_timeout = 0');
        const otherStores = createSqliteStores(other);

        stores.uow.tx(() => {
          stores.requests.insert(buildNewRequest());
          expect(() => otherStores.requests.insert(buildNewRequest())).toThrow(
            expect.objectContaining({ operation: 'requests.insert', code: 'SQLITE_BUSY', retryable: true }),
          );
        });

        expect(otherStores.requests.listPending()).toHaveLength(1);
      } finally {
        other.close();
      }
    },
  );
});
